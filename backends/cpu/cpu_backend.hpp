// The CPU backend: oneDNN primitives for float32, the reference loops for everything else.
#pragma once
#include <cstdint>

#include "tapegrad/backends/reference/reference_backend.hpp"

namespace tg {

/// Counters of the CPU backend's cache of oneDNN primitives.
struct PrimitiveCacheStats {
  uint64_t created = 0;  ///< primitives built (one per distinct descriptor)
  uint64_t hits = 0;     ///< calls served by an already built primitive
  uint64_t size = 0;     ///< primitives held
};

/// Runs float32 matmul, eltwise, binary, reduction, softmax, convolution (forward, backward data,
/// backward weights), pooling, batch normalization and whole LSTM / GRU sequences (RNN
/// primitives) on oneDNN primitives (created once per
/// descriptor and cached); tensors below a size threshold and other dtypes use the reference loops,
/// so that small ops pay no primitive launch.
class CpuBackend : public ReferenceBackend {
 public:
  CpuBackend();
  ~CpuBackend() override;
  std::string_view name() const override { return "cpu"; }
  /// Native: the oneDNN kernels (float32); Fallback: the reference loops it inherits.
  Support supports(Kernel k, DType dt) const override;
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) override;
  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
              const Conv2dParams& p) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_in,
                             const Conv2dParams& p) override;
  void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_w,
                              const Conv2dParams& p) override;
  void max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices,
                  const Pool2dParams& p) override;
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_in,
                           const Pool2dParams& p) override;
  void avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) override;
  void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_in,
                           const Pool2dParams& p) override;
  void batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                  const Tensor& var, double eps, bool training, const Tensor& y) override;
  void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                           const Tensor& mean, const Tensor& var, double eps, const Tensor& grad_x,
                           const Tensor& grad_gamma, const Tensor& grad_beta) override;
  std::shared_ptr<RnnWorkspace> rnn_forward(RnnCell cell, bool go_backwards, bool training,
                                            const RnnOperands& in, const Tensor& y,
                                            const Tensor& h_last, const Tensor& c_last) override;
  void rnn_backward(RnnCell cell, bool go_backwards, const RnnOperands& in, const Tensor& y,
                    const Tensor& h_last, const Tensor& c_last, RnnWorkspace& workspace,
                    const Tensor& grad_y, const Tensor& grad_h_last, const Tensor& grad_c_last,
                    const RnnOperands& grads) override;

  /// Counters of the primitive cache.
  PrimitiveCacheStats cache_stats() const;

  /// Element count from which elementwise ops go to oneDNN.
  static constexpr int64_t kEltwiseThreshold = 4096;

 private:
  struct Impl;
  Impl* impl_;
};

/// The process-wide CPU backend.
Backend& cpu_backend();
/// Counters of the CPU backend's primitive cache.
PrimitiveCacheStats cpu_primitive_cache_stats();

}  // namespace tg
