// The reference backend: plain loops over any strides for every dtype; the test oracle.
#pragma once
#include "tapegrad/core/backend.hpp"

namespace tg {

/// Every kernel of the Backend interface as straightforward loops on host memory. Slow but
/// simple enough to trust: tests compare every other backend against it.
class ReferenceBackend : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
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
};

}  // namespace tg
