// Fused optimizer updates: validation, then one per-rule kernel (core/backend.hpp states the
// formulas); the parameter and its state tensors change in place, off the tape.
#include "tapegrad/autograd/optim.hpp"

#include <initializer_list>
#include <utility>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using ops::kernel_backend;

TG_REGISTER_OP("sgd_update_", "sgd_update", false);
TG_REGISTER_OP("rmsprop_update_", "rmsprop_update", false);
TG_REGISTER_OP("adam_update_", "adam_update", false);
TG_REGISTER_OP("adagrad_update_", "adagrad_update", false);
TG_REGISTER_OP("adadelta_update_", "adadelta_update", false);
TG_REGISTER_OP("adamax_update_", "adamax_update", false);
TG_REGISTER_OP("nadam_update_", "nadam_update", false);

namespace {

/// A state tensor of an update: its name in errors, the tensor, whether the rule needs it.
struct Slot {
  const char* name;
  const Tensor& t;
  bool required = true;
};

/// Checks param, grad and the slots of update op; runs run(backend, param', grad') with param'
/// contiguous and grad' contiguous in param's dtype; then bumps the versions and writes param'
/// back when it is a copy.
template <class Run>
void update(const char* op, Kernel k, const Tensor& param, const Tensor& grad,
            std::initializer_list<Slot> slots, Run run) {
  ops::check_defined(op, param, "param");
  ops::check_defined(op, grad, "grad");
  if (!is_floating(param.dtype()))
    fail<DTypeError>(op, ": param must be float32 or float64, got ", param.dtype());
  if (param.requires_grad() && autograd::grad_enabled())
    fail<ValueError>(op, ": in-place update of a tensor that requires grad while grad mode is "
                         "on; run it under NoGrad");
  if (grad.shape() != param.shape())
    fail<ShapeError>(op, ": grad has shape ", grad.shape(), ", param has ", param.shape());
  ops::check_same_device(op, param, grad);
  for (const Slot& s : slots) {
    if (!s.t.defined()) {
      if (s.required) fail<ValueError>(op, ": state tensor '", s.name, "' is undefined");
      continue;
    }
    if (s.t.shape() != param.shape())
      fail<ShapeError>(op, ": state tensor '", s.name, "' has shape ", s.t.shape(),
                       ", param has ", param.shape());
    if (s.t.dtype() != param.dtype())
      fail<DTypeError>(op, ": state tensor '", s.name, "' is ", s.t.dtype(), ", param is ",
                       param.dtype());
    if (s.t.device() != param.device())
      fail<DeviceError>(op, ": state tensor '", s.name, "' is on ", s.t.device(),
                        ", param on ", param.device());
    if (!s.t.is_contiguous())
      fail<ValueError>(op, ": state tensor '", s.name, "' must be contiguous (shape ",
                       s.t.shape(), ", strides ", s.t.strides(), ")");
    if (s.t.storage() == param.storage() || s.t.storage() == grad.storage())
      fail<ValueError>(op, ": state tensor '", s.name, "' shares storage with param or grad");
  }
  Backend& b = kernel_backend(op, k, param);
  const Tensor g = ops::contiguous_raw(ops::cast_raw(grad, param.dtype()));
  const Tensor p = ops::contiguous_raw(param);
  if (param.numel() > 0) run(b, p, g);
  for (const Slot& s : slots)
    if (s.t.defined()) s.t.storage()->bump_version();
  if (!p.is_same(param)) b.copy(p, param);
  param.storage()->bump_version();
}

}  // namespace

void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& momentum, bool nesterov,
                 const OptimizerScalars& s) {
  update("sgd_update_", Kernel::SgdUpdate, param, grad, {{"momentum", momentum, false}},
         [&](Backend& b, const Tensor& p, const Tensor& g) {
           b.sgd_update(p, g, momentum, nesterov, s);
         });
}

void rmsprop_update_(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                     const Tensor& average_gradient, const Tensor& momentum,
                     const OptimizerScalars& s) {
  update("rmsprop_update_", Kernel::RmspropUpdate, param, grad,
         {{"velocity", velocity}, {"average_gradient", average_gradient, false},
          {"momentum", momentum, false}},
         [&](Backend& b, const Tensor& p, const Tensor& g) {
           b.rmsprop_update(p, g, velocity, average_gradient, momentum, s);
         });
}

void adam_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                  const Tensor& vhat, const OptimizerScalars& s) {
  update("adam_update_", Kernel::AdamUpdate, param, grad,
         {{"m", m}, {"v", v}, {"vhat", vhat, false}},
         [&](Backend& b, const Tensor& p, const Tensor& g) { b.adam_update(p, g, m, v, vhat, s); });
}

void adagrad_update_(const Tensor& param, const Tensor& grad, const Tensor& accumulator,
                     const OptimizerScalars& s) {
  update("adagrad_update_", Kernel::AdagradUpdate, param, grad, {{"accumulator", accumulator}},
         [&](Backend& b, const Tensor& p, const Tensor& g) {
           b.adagrad_update(p, g, accumulator, s);
         });
}

void adadelta_update_(const Tensor& param, const Tensor& grad, const Tensor& accumulated_grad,
                      const Tensor& accumulated_delta_var, const OptimizerScalars& s) {
  update("adadelta_update_", Kernel::AdadeltaUpdate, param, grad,
         {{"accumulated_grad", accumulated_grad},
          {"accumulated_delta_var", accumulated_delta_var}},
         [&](Backend& b, const Tensor& p, const Tensor& g) {
           b.adadelta_update(p, g, accumulated_grad, accumulated_delta_var, s);
         });
}

void adamax_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                    const OptimizerScalars& s) {
  update("adamax_update_", Kernel::AdamaxUpdate, param, grad, {{"m", m}, {"u", u}},
         [&](Backend& b, const Tensor& p, const Tensor& g) { b.adamax_update(p, g, m, u, s); });
}

void nadam_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                   const OptimizerScalars& s) {
  update("nadam_update_", Kernel::NadamUpdate, param, grad, {{"m", m}, {"v", v}},
         [&](Backend& b, const Tensor& p, const Tensor& g) { b.nadam_update(p, g, m, v, s); });
}

}  // namespace tg
