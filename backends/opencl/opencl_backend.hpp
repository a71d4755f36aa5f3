// The OpenCL backend: CLBlast GEMM plus the project's OpenCL C kernels, one context and in-order
// queue per device.
#pragma once
#include <cstdint>

#include "tapegrad/backends/opencl/opencl_devices.hpp"
#include "tapegrad/core/backend.hpp"

namespace tg {

namespace opencl {
class Context;
}

/// Counters of one OpenCL backend (see opencl_stats).
struct OpenClStats {
  uint64_t programs_built = 0;   ///< OpenCL programs compiled: 1 once any kernel has run
  uint64_t kernels_created = 0;  ///< cl_kernel objects created (once per kernel name)
  uint64_t launches = 0;         ///< kernels enqueued
  uint64_t blas_calls = 0;       ///< CLBlast routines enqueued
  uint64_t uploads = 0;          ///< host-to-device copies
  uint64_t downloads = 0;        ///< device-to-host copies (the only places the host waits)
};

/// Runs every kernel of the Backend interface on one OpenCL device: float32 and float64 matmul
/// through CLBlast GEMM, convolution (forward, backward data, backward weights) as im2col /
/// col2im kernels around CLBlast GEMM, everything else (and integer matmul) as OpenCL C kernels
/// from backends/opencl/kernels, built into one program on first use. Float64 kernels exist where
/// the device reports cl_khr_fp64; elsewhere float64 tensors can still be stored, filled, copied,
/// gathered, selected by where and converted (conversions through the host), and every other
/// float64 kernel throws BackendError. Kernels are enqueued without waiting; the host waits only
/// in copy_to_host (and for the division-by-zero check of integer division).
///
/// Environment: TG_OPENCL_BUILD_LOG=1 prints the program's build log; TG_OPENCL_DISABLE_FP64=1
/// builds the program as for a device without cl_khr_fp64 (to test that path).
class OpenClBackend : public Backend {
 public:
  /// Opens Device::opencl(index): a context and an in-order queue (no program is built yet).
  explicit OpenClBackend(int index);
  ~OpenClBackend() override;
  OpenClBackend(const OpenClBackend&) = delete;
  OpenClBackend& operator=(const OpenClBackend&) = delete;

  std::string_view name() const override { return "opencl"; }
  CachingAllocator& allocator() override;
  Support supports(Kernel k, DType dt) const override;
  void copy_from_host(const void* src, const Tensor& dst) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void fill(const Tensor& dst, double value) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out) override;
  void arg_reduce(bool is_max, const Tensor& x, int64_t axis, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) override;
  void cumsum(const Tensor& x, int64_t axis, const Tensor& out) override;
  void gather(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& dst, int64_t axis, const Tensor& index,
                   const Tensor& src) override;
  void random(const Tensor& out, Distribution dist, double a, double b, uint64_t seed,
              uint64_t offset) override;
  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
              const Conv2dParams& p) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_in,
                             const Conv2dParams& p) override;
  void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_w,
                              const Conv2dParams& p) override;
  void max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices,
                  const Pool2dParams& p) override;
  void avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) override;
  void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_in,
                           const Pool2dParams& p) override;
  void batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                  const Tensor& var, double eps, bool training, const Tensor& y) override;
  void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                           const Tensor& mean, const Tensor& var, double eps, const Tensor& grad_x,
                           const Tensor& grad_gamma, const Tensor& grad_beta) override;
  void ctc_loss(const Tensor& log_probs, const Tensor& labels, const Tensor& label_lengths,
                const Tensor& input_lengths, int64_t blank, const Tensor& loss,
                const Tensor& grad) override;
  void lstm_cell(const Tensor& z, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                 const Tensor& gates) override;
  void lstm_cell_backward(const Tensor& grad_h, const Tensor& grad_c, const Tensor& gates,
                          const Tensor& c_prev, const Tensor& c, const Tensor& grad_z,
                          const Tensor& grad_c_prev) override;
  void gru_cell(const Tensor& xz, const Tensor& hz, const Tensor& h_prev, const Tensor& h,
                const Tensor& gates) override;
  void gru_cell_backward(const Tensor& grad_h, const Tensor& gates, const Tensor& hz,
                         const Tensor& h_prev, const Tensor& grad_xz, const Tensor& grad_hz,
                         const Tensor& grad_h_prev) override;
  void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum, bool nesterov,
                  const OptimizerScalars& s) override;
  void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                      const Tensor& average_gradient, const Tensor& momentum,
                      const OptimizerScalars& s) override;
  void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                   const Tensor& vhat, const OptimizerScalars& s) override;
  void adagrad_update(const Tensor& param, const Tensor& grad, const Tensor& accumulator,
                      const OptimizerScalars& s) override;
  void adadelta_update(const Tensor& param, const Tensor& grad, const Tensor& accumulated_grad,
                       const Tensor& accumulated_delta_var, const OptimizerScalars& s) override;
  void adamax_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                     const OptimizerScalars& s) override;
  void nadam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                    const OptimizerScalars& s) override;

  /// The device's description.
  const OpenClDeviceInfo& device_info() const;
  /// Current counters.
  OpenClStats stats() const;
  /// Waits until every command queued on the device has finished.
  void synchronize();
  /// The device context (queue, kernels, allocator); for the backend's own sources.
  opencl::Context& context() { return *ctx_; }

 private:
  /// copy() between float64 and another dtype on a device without cl_khr_fp64.
  void copy_through_host(const Tensor& src, const Tensor& dst);

  opencl::Context* ctx_;
};

/// The backend of Device::opencl(index), opened on first use; nullptr when no such device
/// exists. core/registry.cpp calls it for every OpenCL device.
Backend* opencl_backend_factory(int index);
/// Counters of Device::opencl(index)'s backend (DeviceError when the device does not exist).
OpenClStats opencl_stats(int index = 0);
/// Waits for every command queued on Device::opencl(index) (timing; DeviceError when missing).
void opencl_synchronize(int index = 0);

}  // namespace tg
