// OpenCL fused optimizer updates: one launch per parameter of a kernel of kernels/optimizer.cl.
#include <array>

#include "tapegrad/backends/opencl/opencl_backend.hpp"
#include "tapegrad/backends/opencl/opencl_runtime.hpp"

namespace tg {

using opencl::mem;

namespace {
/// The buffer and element offset of a slot (param's when the variant does not use it: the
/// kernel never touches it then, but every argument must be a valid buffer).
struct SlotArg {
  cl_mem buffer;
  cl_long offset;
};
SlotArg slot_arg(const Tensor& slot, const Tensor& param) {
  const Tensor& t = slot.defined() ? slot : param;
  return {mem(t), static_cast<cl_long>(t.offset())};
}
}  // namespace

/// Launches kernel rule_<dtype> over param's elements with (p, g, slots..., n, offsets...,
/// extra...): the argument order of every kernel in optimizer.cl.
template <size_t NSlots, class... Extra>
static void launch_update(opencl::Context& ctx, const char* rule, const Tensor& param,
                          const Tensor& grad, std::array<SlotArg, NSlots> slots, Extra... extra) {
  const DType dt = param.dtype();
  ctx.require_dtype(rule, dt);
  const auto n = static_cast<size_t>(param.numel());
  const auto po = static_cast<cl_long>(param.offset()), go = static_cast<cl_long>(grad.offset());
  const std::string name = std::string(rule) + "_" + opencl::suffix(dt);
  if constexpr (NSlots == 1)
    ctx.launch(name, n, mem(param), mem(grad), slots[0].buffer, static_cast<cl_long>(n), po, go,
               slots[0].offset, extra...);
  else if constexpr (NSlots == 2)
    ctx.launch(name, n, mem(param), mem(grad), slots[0].buffer, slots[1].buffer,
               static_cast<cl_long>(n), po, go, slots[0].offset, slots[1].offset, extra...);
  else
    ctx.launch(name, n, mem(param), mem(grad), slots[0].buffer, slots[1].buffer, slots[2].buffer,
               static_cast<cl_long>(n), po, go, slots[0].offset, slots[1].offset,
               slots[2].offset, extra...);
}

void OpenClBackend::sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum,
                               bool nesterov, const OptimizerScalars& s) {
  const bool f64 = ctx_->fp64();
  launch_update<1>(*ctx_, "sgd_update", param, grad, {slot_arg(momentum, param)},
                   static_cast<cl_int>(momentum.defined()), static_cast<cl_int>(nesterov),
                   opencl::Real{s.lr, f64}, opencl::Real{s.momentum, f64});
}

void OpenClBackend::rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                                   const Tensor& average_gradient, const Tensor& momentum,
                                   const OptimizerScalars& s) {
  const bool f64 = ctx_->fp64();
  launch_update<3>(*ctx_, "rmsprop_update", param, grad,
                   {slot_arg(velocity, param), slot_arg(average_gradient, param),
                    slot_arg(momentum, param)},
                   static_cast<cl_int>(average_gradient.defined()),
                   static_cast<cl_int>(momentum.defined()), opencl::Real{s.lr, f64},
                   opencl::Real{s.rho, f64}, opencl::Real{s.momentum, f64},
                   opencl::Real{s.epsilon, f64});
}

void OpenClBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                                const Tensor& v, const Tensor& vhat, const OptimizerScalars& s) {
  const bool f64 = ctx_->fp64();
  launch_update<3>(*ctx_, "adam_update", param, grad,
                   {slot_arg(m, param), slot_arg(v, param), slot_arg(vhat, param)},
                   static_cast<cl_int>(vhat.defined()), opencl::Real{s.beta_1, f64},
                   opencl::Real{s.beta_2, f64}, opencl::Real{s.epsilon, f64},
                   opencl::Real{s.step_size, f64});
}

void OpenClBackend::adagrad_update(const Tensor& param, const Tensor& grad,
                                   const Tensor& accumulator, const OptimizerScalars& s) {
  const bool f64 = ctx_->fp64();
  launch_update<1>(*ctx_, "adagrad_update", param, grad, {slot_arg(accumulator, param)},
                   opencl::Real{s.lr, f64}, opencl::Real{s.epsilon, f64});
}

void OpenClBackend::adadelta_update(const Tensor& param, const Tensor& grad,
                                    const Tensor& accumulated_grad,
                                    const Tensor& accumulated_delta_var,
                                    const OptimizerScalars& s) {
  const bool f64 = ctx_->fp64();
  launch_update<2>(*ctx_, "adadelta_update", param, grad,
                   {slot_arg(accumulated_grad, param), slot_arg(accumulated_delta_var, param)},
                   opencl::Real{s.lr, f64}, opencl::Real{s.rho, f64},
                   opencl::Real{s.epsilon, f64});
}

void OpenClBackend::adamax_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                                  const Tensor& u, const OptimizerScalars& s) {
  const bool f64 = ctx_->fp64();
  launch_update<2>(*ctx_, "adamax_update", param, grad, {slot_arg(m, param), slot_arg(u, param)},
                   opencl::Real{s.beta_1, f64}, opencl::Real{s.beta_2, f64},
                   opencl::Real{s.epsilon, f64}, opencl::Real{s.step_size, f64});
}

void OpenClBackend::nadam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                                 const Tensor& v, const OptimizerScalars& s) {
  const bool f64 = ctx_->fp64();
  launch_update<2>(*ctx_, "nadam_update", param, grad, {slot_arg(m, param), slot_arg(v, param)},
                   opencl::Real{s.lr, f64}, opencl::Real{s.beta_1, f64},
                   opencl::Real{s.beta_2, f64}, opencl::Real{s.epsilon, f64},
                   opencl::Real{s.m_coef, f64}, opencl::Real{s.g_coef, f64},
                   opencl::Real{s.v_correction, f64});
}

}  // namespace tg
