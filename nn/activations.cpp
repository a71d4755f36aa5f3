// Named activations.
#include "tapegrad/nn/activations.hpp"

#include "tapegrad/autograd/ops.hpp"

namespace tg::nn {

ActivationFn::ActivationFn() = default;

ActivationFn::ActivationFn(std::function<Tensor(const Tensor&)> fn, std::string name)
    : name_(std::move(name)), fn_(std::move(fn)) {}

ActivationFn::ActivationFn(const std::string& name) : name_(name) {
  if (name == "linear" || name.empty()) {
    name_ = "linear";
  } else if (name == "relu") {
    fn_ = [](const Tensor& x) { return relu(x); };
  } else if (name == "sigmoid") {
    fn_ = [](const Tensor& x) { return sigmoid(x); };
  } else if (name == "tanh") {
    fn_ = [](const Tensor& x) { return tanh(x); };
  } else if (name == "softmax") {
    fn_ = [](const Tensor& x) { return softmax(x, -1); };
  } else if (name == "log_softmax") {
    fn_ = [](const Tensor& x) { return log_softmax(x, -1); };
  } else if (name == "gelu") {
    fn_ = [](const Tensor& x) { return gelu(x, false); };  // keras.activations.gelu: exact
  } else if (name == "elu") {
    fn_ = [](const Tensor& x) { return elu(x, 1.0); };
  } else if (name == "selu") {
    fn_ = [](const Tensor& x) { return selu(x); };
  } else if (name == "softplus") {
    fn_ = [](const Tensor& x) { return softplus(x); };
  } else if (name == "softsign") {
    fn_ = [](const Tensor& x) { return softsign(x); };
  } else if (name == "leaky_relu") {
    fn_ = [](const Tensor& x) { return leaky_relu(x, 0.2); };
  } else if (name == "swish" || name == "silu") {
    fn_ = [](const Tensor& x) { return mul(x, sigmoid(x)); };
  } else if (name == "exponential") {
    fn_ = [](const Tensor& x) { return exp(x); };
  } else if (name == "hard_sigmoid") {
    fn_ = [](const Tensor& x) { return clip(add(div(x, 6.0), 0.5), 0.0, 1.0); };
  } else if (name == "relu6") {
    fn_ = [](const Tensor& x) { return clip(x, 0.0, 6.0); };
  } else {
    fail<ValueError>("ActivationFn: unknown activation '", name, "'");
  }
}

}  // namespace tg::nn
