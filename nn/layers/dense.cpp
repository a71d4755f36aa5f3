// Dense layer.
#include "tapegrad/nn/layers/dense.hpp"

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

DenseLayer::DenseLayer(int64_t units, DenseOptions opts)
    : Layer("Dense", opts.name), units_(units), opts_(std::move(opts)) {
  if (units <= 0) fail<ValueError>(label(), ": units must be positive, got ", units);
  if (!opts_.input_shape.empty()) set_declared_input_shape(opts_.input_shape.vec());
}

void DenseLayer::check_input(const Shape& s) const {
  if (s.empty()) fail<ShapeError>(label(), ": expected an input of rank ≥ 1, got a scalar");
  if (kernel_.defined() && s.back() != kernel_.shape()[0]) {
    fail<ShapeError>(label(), ": expected input [*, ", kernel_.shape()[0], "], got ", s);
  }
}

void DenseLayer::build(const Shape& input_shape) {
  check_input(input_shape);
  const int64_t in = input_shape.back();
  if (in <= 0)
    fail<ShapeError>(label(), ": the last axis of the input must be known, got ", input_shape);
  kernel_ = add_weight("kernel", {in, units_}, opts_.kernel_initializer.get());
  if (opts_.use_bias) bias_ = add_weight("bias", {units_}, opts_.bias_initializer.get());
}

Tensor DenseLayer::call(const Tensor& x, bool) {
  check_input(x.shape());
  Tensor y = matmul(x.dtype() == kernel_.dtype() ? x : x.to(kernel_.dtype()), kernel_);
  if (bias_.defined()) y = add(y, bias_);
  if (opts_.kernel_regularizer) add_loss(opts_.kernel_regularizer(kernel_));
  if (opts_.bias_regularizer && bias_.defined()) add_loss(opts_.bias_regularizer(bias_));
  return opts_.activation(y);
}

Config DenseLayer::config() const {
  Config c = Layer::config();
  c.set("units", units_);
  c.set("activation", opts_.activation.name());
  c.set("use_bias", opts_.use_bias);
  c.set("kernel_initializer", opts_.kernel_initializer.name);
  c.set("bias_initializer", opts_.bias_initializer.name);
  write_regularizer(c, "kernel_regularizer", opts_.kernel_regularizer);
  write_regularizer(c, "bias_regularizer", opts_.bias_regularizer);
  return c;
}

// ---- registration (load_model rebuilds these types from their configs) ----
TG_REGISTER_LAYER("Dense", [](const Config& c) -> std::shared_ptr<Layer> {
  const std::string name = c.get_or<std::string>("name", "");
  return std::make_shared<DenseLayer>(
      c.get<int64_t>("units"),
      DenseOptions{
          .activation = activation_from_config(c, name),
          .use_bias = c.get_or<bool>("use_bias", true),
          .kernel_initializer = initializer_from_config(c, "kernel_initializer", "glorot_uniform"),
          .bias_initializer = initializer_from_config(c, "bias_initializer", "zeros"),
          .kernel_regularizer = read_regularizer(c, "kernel_regularizer", name),
          .bias_regularizer = read_regularizer(c, "bias_regularizer", name),
          .input_shape = shape_from_config(c, "input_shape"),
          .name = name});
});
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_dense_layers() {}
}  // namespace detail

}  // namespace tg::nn
