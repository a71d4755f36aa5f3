// The meta backend: what backend_for returns inside a MetaScope (core/registry.hpp). The ops
// have already checked their operands and made their outputs (meta tensors, no memory) when a
// kernel is called, so every kernel here does nothing. Only reads to the host do something:
// a real tensor's values, zeros for a meta one.
#include <cstring>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

namespace {

class MetaBackend final : public Backend {
 public:
  std::string_view name() const override { return "meta"; }
  // Never allocates: Tensor::empty makes meta storages without an allocator.
  CachingAllocator& allocator() override { return cpu_allocator(); }
  // The kernel's dtype domain, as every real backend declares at least: an op rejects in a
  // MetaScope what it rejects on any device.
  Support supports(Kernel k, DType dt) const override {
    return kernel_domain_has(k, dt) ? Support::Native : Support::None;
  }
  void copy_from_host(const void*, const Tensor&) override {}
  void copy_to_host(const Tensor& src, void* dst) override {
    if (src.is_meta()) {
      std::memset(dst, 0, static_cast<size_t>(src.numel()) * dtype_size(src.dtype()));
      return;
    }
    NoMetaScope compute;
    backend_for(src.device()).copy_to_host(src, dst);
  }
  void fill(const Tensor&, double) override {}
  void copy(const Tensor&, const Tensor&) override {}
  void unary(UnaryOp, const Tensor&, const Tensor&, double, double) override {}
  void binary(BinaryOp, const Tensor&, const Tensor&, const Tensor&) override {}
  void where(const Tensor&, const Tensor&, const Tensor&, const Tensor&) override {}
  void reduce(ReduceOp, const Tensor&, const Tensor&) override {}
  void arg_reduce(bool, const Tensor&, int64_t, const Tensor&) override {}
  void matmul(const Tensor&, const Tensor&, const Tensor&) override {}
  void softmax(const Tensor&, int64_t, bool, const Tensor&) override {}
  void cumsum(const Tensor&, int64_t, const Tensor&) override {}
  void gather(const Tensor&, int64_t, const Tensor&, const Tensor&) override {}
  void scatter_add(const Tensor&, int64_t, const Tensor&, const Tensor&) override {}
  void random(const Tensor&, Distribution, double, double, uint64_t, uint64_t) override {}
  void conv2d(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
              const Conv2dParams&) override {}
  void conv2d_backward_input(const Tensor&, const Tensor&, const Tensor&,
                             const Conv2dParams&) override {}
  void conv2d_backward_weight(const Tensor&, const Tensor&, const Tensor&,
                              const Conv2dParams&) override {}
  void max_pool2d(const Tensor&, const Tensor&, const Tensor&, const Pool2dParams&) override {}
  void max_pool2d_backward(const Tensor&, const Tensor&, const Tensor&,
                           const Pool2dParams&) override {}
  void avg_pool2d(const Tensor&, const Tensor&, const Pool2dParams&) override {}
  void avg_pool2d_backward(const Tensor&, const Tensor&, const Pool2dParams&) override {}
  void ctc_loss(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t,
                const Tensor&, const Tensor&) override {}
  void lstm_cell(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                 const Tensor&) override {}
  void lstm_cell_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                          const Tensor&, const Tensor&, const Tensor&) override {}
  void gru_cell(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                const Tensor&) override {}
  void gru_cell_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                         const Tensor&, const Tensor&, const Tensor&) override {}
  // A workspace, so that the recurrent ops take their one-node whole-sequence form instead of
  // T steps of smaller ops.
  std::shared_ptr<RnnWorkspace> rnn_forward(RnnCell, bool, bool, const RnnOperands&,
                                            const Tensor&, const Tensor&,
                                            const Tensor&) override {
    return std::make_shared<RnnWorkspace>();
  }
  void rnn_backward(RnnCell, bool, const RnnOperands&, const Tensor&, const Tensor&,
                    const Tensor&, RnnWorkspace&, const Tensor&, const Tensor&, const Tensor&,
                    const RnnOperands&) override {}
  void batch_norm(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                  double, bool, const Tensor&) override {}
  void batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                           const Tensor&, double, const Tensor&, const Tensor&,
                           const Tensor&) override {}
  void sgd_update(const Tensor&, const Tensor&, const Tensor&, bool,
                  const OptimizerScalars&) override {}
  void rmsprop_update(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                      const OptimizerScalars&) override {}
  void adam_update(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                   const OptimizerScalars&) override {}
  void adagrad_update(const Tensor&, const Tensor&, const Tensor&,
                      const OptimizerScalars&) override {}
  void adadelta_update(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                       const OptimizerScalars&) override {}
  void adamax_update(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                     const OptimizerScalars&) override {}
  void nadam_update(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                    const OptimizerScalars&) override {}
};

}  // namespace

Backend& meta_backend() {
  static MetaBackend b;
  return b;
}

}  // namespace tg
