// ActivationFn functions by Keras name or as any callable.
#pragma once
#include <functional>
#include <string>

#include "tapegrad/core/tensor.hpp"

namespace tg::nn {

/// An activation: a name (for configs) and the function. Converts from a name ("relu",
/// "softmax", ...) or from any callable Tensor(const Tensor&).
class ActivationFn {
 public:
  /// Identity ("linear").
  ActivationFn();
  /// By Keras name: linear, relu, sigmoid, tanh, softmax, log_softmax, gelu, elu, selu, softplus,
  /// softsign, leaky_relu, swish/silu, exponential, hard_sigmoid, relu6. Throws ValueError.
  ActivationFn(const std::string& name);
  ActivationFn(const char* name) : ActivationFn(std::string(name)) {}
  /// Any callable; its config name is "custom".
  ActivationFn(std::function<Tensor(const Tensor&)> fn, std::string name = "custom");

  Tensor operator()(const Tensor& x) const { return fn_ ? fn_(x) : x; }
  const std::string& name() const { return name_; }
  bool is_linear() const { return !fn_; }

 private:
  std::string name_ = "linear";
  std::function<Tensor(const Tensor&)> fn_;
};

}  // namespace tg::nn
