// Fused optimizer updates as ops: each validates its operands, then runs one per-rule kernel of
// the parameter's backend (Backend::sgd_update and the rest), updating the parameter and its
// state tensors in place. nn/optimizer.cpp builds the Keras optimizers on them; a custom
// training loop can call them directly.
#pragma once
#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg {

// Common rules of every update below (formulas at the kernels in core/backend.hpp):
// - param is float32 or float64; grad has param's shape and device (its dtype is converted to
//   param's); every state tensor has param's shape, dtype and device and is contiguous. A
//   non-contiguous param is updated through a contiguous copy written back.
// - An undefined optional state tensor selects the variant without it.
// - The update is off the tape: it refuses a param that requires grad while grad mode is on
//   (run it under NoGrad, as Optimizer::apply_gradients does), and bumps the versions of param
//   and of the state tensors, so a backward that saved them before the update fails loudly.
// - Errors name the op and the operand (ShapeError, DTypeError, DeviceError, ValueError), and
//   BackendError when the device cannot run the kernel (float64 without cl_khr_fp64).

/// SGD: momentum undefined: p −= lr·g; else m = μ·m − lr·g and p += m (nesterov: p += μ·m −
/// lr·g). Uses s.lr, s.momentum.
void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& momentum, bool nesterov,
                 const OptimizerScalars& s);
/// RMSprop on velocity; average_gradient defined: centered; momentum defined: with momentum.
/// Uses s.lr, s.rho, s.momentum, s.epsilon.
void rmsprop_update_(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                     const Tensor& average_gradient, const Tensor& momentum,
                     const OptimizerScalars& s);
/// Adam on m, v; vhat defined: AMSGrad. Uses s.beta_1, s.beta_2, s.epsilon, s.step_size.
void adam_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                  const Tensor& vhat, const OptimizerScalars& s);
/// Adagrad on accumulator. Uses s.lr, s.epsilon.
void adagrad_update_(const Tensor& param, const Tensor& grad, const Tensor& accumulator,
                     const OptimizerScalars& s);
/// Adadelta on accumulated_grad, accumulated_delta_var. Uses s.lr, s.rho, s.epsilon.
void adadelta_update_(const Tensor& param, const Tensor& grad, const Tensor& accumulated_grad,
                      const Tensor& accumulated_delta_var, const OptimizerScalars& s);
/// Adamax on m, u. Uses s.beta_1, s.beta_2, s.epsilon, s.step_size.
void adamax_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                    const OptimizerScalars& s);
/// Nadam on m, v. Uses s.lr, s.beta_1, s.beta_2, s.epsilon, s.m_coef, s.g_coef,
/// s.v_correction.
void nadam_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                   const OptimizerScalars& s);

}  // namespace tg
