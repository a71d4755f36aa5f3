// OpenCL fused optimizer updates: one launch per parameter of kernels/optimizer.cl.
#include "tapegrad/backends/opencl/opencl_backend.hpp"
#include "tapegrad/backends/opencl/opencl_runtime.hpp"

namespace tg {

using opencl::mem;

void OpenClBackend::optimizer_update(OptimizerKind kind, const Tensor& param, const Tensor& grad,
                                     const std::vector<Tensor>& slots, const OptimizerUpdate& u) {
  const DType dt = param.dtype();
  if (dt != kFloat32 && dt != kFloat64)
    fail<BackendError>("opencl optimizer_update: needs float32 or float64, got ", dt);
  ctx_->require_dtype("optimizer_update", dt);
  const Tensor& s0 = slots.size() > 0 ? slots[0] : param;
  const Tensor& s1 = slots.size() > 1 ? slots[1] : param;
  const Tensor& s2 = slots.size() > 2 ? slots[2] : param;
  const bool f64 = ctx_->fp64();
  auto real = [&](double v) { return opencl::Real{v, f64}; };
  ctx_->launch(std::string("optimizer_update_") + opencl::suffix(dt),
               static_cast<size_t>(param.numel()), mem(param), mem(grad), mem(s0), mem(s1), mem(s2),
               static_cast<cl_long>(param.numel()), static_cast<cl_long>(param.offset()),
               static_cast<cl_long>(grad.offset()), static_cast<cl_long>(s0.offset()),
               static_cast<cl_long>(s1.offset()), static_cast<cl_long>(s2.offset()),
               static_cast<cl_int>(kind), real(u.lr), real(u.beta_1), real(u.beta_2), real(u.rho),
               real(u.momentum), real(u.epsilon), real(u.step_size), real(u.m_coef), real(u.g_coef),
               real(u.v_correction));
}

}  // namespace tg
