// Pooling layers over the pooling ops.
#include "tapegrad/nn/layers/pooling.hpp"

#include "tapegrad/nn/layer_registry.hpp"
#include "tapegrad/nn/layers/conv.hpp"

namespace tg::nn {

Pooling2DLayer::Pooling2DLayer(bool max, std::vector<int64_t> ps, Pooling2DOptions o)
    : Layer(max ? "MaxPooling2D" : "AveragePooling2D", o.name),
      max_(max),
      pool_size_(std::move(ps)),
      o_(std::move(o)) {
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
Tensor Pooling2DLayer::call(const Tensor& x, bool) {
  if (x.dim() != 4)
    fail<ShapeError>(label(), ": expected input (batch, h, w, channels), got ", x.shape());
  Pool2dOptions p{.pool_size = pool_size_,
                  .strides = o_.strides,
                  .padding = o_.padding,
                  .data_format = o_.data_format};
  return max_ ? max_pool2d(x, p) : avg_pool2d(x, p);
}
Config Pooling2DLayer::config() const {
  Config c = Layer::config();
  c.set("pool_size", pool_size_);
  c.set("strides", o_.strides.empty() ? pool_size_ : o_.strides);
  write_padding(c, o_.padding);
  c.set("data_format", o_.data_format);
  return c;
}
std::shared_ptr<Layer> Pooling2DLayer::from_config(const Config& c, bool max) {
  return std::make_shared<Pooling2DLayer>(
      max, c.get<std::vector<int64_t>>("pool_size"),
      Pooling2DOptions{.strides = c.get<std::vector<int64_t>>("strides"),
                       .padding = padding_from_config(c),
                       .data_format = c.get<std::string>("data_format"),
                       .input_shape = Shape(c.list_or_empty("input_shape")),
                       .name = c.get<std::string>("name")});
}

GlobalPooling2DLayer::GlobalPooling2DLayer(bool max, GlobalPooling2DOptions o)
    : Layer(max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D", o.name),
      max_(max),
      o_(std::move(o)) {
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
Tensor GlobalPooling2DLayer::call(const Tensor& x, bool) {
  if (x.dim() != 4)
    fail<ShapeError>(label(), ": expected input (batch, h, w, channels), got ", x.shape());
  return max_ ? global_max_pool2d(x, o_.keepdims, o_.data_format)
              : global_avg_pool2d(x, o_.keepdims, o_.data_format);
}
Config GlobalPooling2DLayer::config() const {
  Config c = Layer::config();
  c.set("data_format", o_.data_format);
  c.set("keepdims", o_.keepdims);
  return c;
}
std::shared_ptr<Layer> GlobalPooling2DLayer::from_config(const Config& c, bool max) {
  return std::make_shared<GlobalPooling2DLayer>(
      max, GlobalPooling2DOptions{.data_format = c.get<std::string>("data_format"),
                                  .keepdims = c.get<bool>("keepdims"),
                                  .input_shape = Shape(c.list_or_empty("input_shape")),
                                  .name = c.get<std::string>("name")});
}

// ---- registration (load_model rebuilds these types from their configs) ----
TG_REGISTER_LAYER("MaxPooling2D",
                  [](const Config& c) { return Pooling2DLayer::from_config(c, true); });
TG_REGISTER_LAYER("AveragePooling2D",
                  [](const Config& c) { return Pooling2DLayer::from_config(c, false); });
TG_REGISTER_LAYER("GlobalMaxPooling2D",
                  [](const Config& c) { return GlobalPooling2DLayer::from_config(c, true); });
TG_REGISTER_LAYER("GlobalAveragePooling2D",
                  [](const Config& c) { return GlobalPooling2DLayer::from_config(c, false); });
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_pooling_layers() {}
}  // namespace detail

}  // namespace tg::nn
