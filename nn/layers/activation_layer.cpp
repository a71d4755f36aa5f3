// ActivationFn and Dropout layers.
#include "tapegrad/nn/layers/activation_layer.hpp"

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

ActivationLayer::ActivationLayer(ActivationFn a, BasicLayerOptions o)
    : Layer("Activation", o.name), activation_(std::move(a)) {
  if (!o.input_shape.empty()) set_declared_input_shape(o.input_shape.vec());
}
Tensor ActivationLayer::call(const Tensor& x, bool) { return activation_(x); }
Config ActivationLayer::config() const {
  Config c = Layer::config();
  c.set("activation", activation_.name());
  return c;
}

DropoutLayer::DropoutLayer(double rate, DropoutOptions o)
    : Layer("Dropout", o.name), rate_(rate), opts_(std::move(o)) {
  if (!(rate >= 0.0 && rate < 1.0))
    fail<ValueError>(label(), ": rate must be in [0, 1), got ", rate);
  if (!opts_.input_shape.empty()) set_declared_input_shape(opts_.input_shape.vec());
}
Tensor DropoutLayer::call(const Tensor& x, bool training) {
  if (!training) return x;
  // A seeded layer draws a new mask on each call, reproducibly.
  std::optional<uint64_t> seed;
  if (opts_.seed) seed = *opts_.seed + 0x9E3779B97F4A7C15ull * calls_++;
  return dropout(x, rate_, true, seed);
}
Config DropoutLayer::config() const {
  Config c = Layer::config();
  c.set("rate", rate_);
  if (opts_.seed) c.set("seed", static_cast<int64_t>(*opts_.seed));
  return c;
}

// ---- registration (load_model rebuilds these types from their configs) ----
TG_REGISTER_LAYER("Activation", [](const Config& c) -> std::shared_ptr<Layer> {
  const std::string name = c.get_or<std::string>("name", "");
  return std::make_shared<ActivationLayer>(
      activation_from_config(c, name),
      BasicLayerOptions{shape_from_config(c, "input_shape"), name});
});
TG_REGISTER_LAYER("Dropout", [](const Config& c) -> std::shared_ptr<Layer> {
  DropoutOptions o{.input_shape = shape_from_config(c, "input_shape"),
                   .name = c.get_or<std::string>("name", "")};
  if (c.has("seed")) o.seed = static_cast<uint64_t>(c.get<int64_t>("seed"));
  return std::make_shared<DropoutLayer>(c.get<double>("rate"), o);
});
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_activation_layer_layers() {}
}  // namespace detail

}  // namespace tg::nn
