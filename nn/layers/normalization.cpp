// BatchNormalization, LayerNormalization and Embedding layers.
#include "tapegrad/nn/layers/normalization.hpp"

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

BatchNormalizationLayer::BatchNormalizationLayer(BatchNormalizationOptions o)
    : Layer("BatchNormalization", o.name), o_(std::move(o)) {
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
void BatchNormalizationLayer::build(const Shape& in) {
  const int64_t axis = normalize_axis(label(), o_.axis, static_cast<int64_t>(in.size()));
  const int64_t c = in[axis];
  if (c <= 0)
    fail<ShapeError>(label(), ": the normalized axis ", o_.axis, " of ", in, " must be known");
  if (o_.scale) gamma_ = add_weight("gamma", {c}, o_.gamma_initializer.get());
  if (o_.center) beta_ = add_weight("beta", {c}, o_.beta_initializer.get());
  moving_mean_ = add_weight("moving_mean", {c}, o_.moving_mean_initializer.get(), false);
  moving_variance_ =
      add_weight("moving_variance", {c}, o_.moving_variance_initializer.get(), false);
}
Tensor BatchNormalizationLayer::call(const Tensor& x, bool training) {
  const int64_t axis = normalize_axis(label(), o_.axis, x.dim());
  if (x.shape()[axis] != moving_mean_.numel())
    fail<ShapeError>(label(), ": expected ", moving_mean_.numel(), " channels on axis ", o_.axis,
                     ", got input ", x.shape());
  // Frozen (trainable = false) batch normalization runs in inference mode, as in Keras.
  return batch_norm(x, gamma_, beta_, moving_mean_, moving_variance_, training && trainable(),
                    o_.momentum, o_.epsilon, axis);
}
Config BatchNormalizationLayer::config() const {
  Config c = Layer::config();
  c.set("axis", o_.axis);
  c.set("momentum", o_.momentum);
  c.set("epsilon", o_.epsilon);
  c.set("center", o_.center);
  c.set("scale", o_.scale);
  return c;
}
std::shared_ptr<Layer> BatchNormalizationLayer::from_config(const Config& c) {
  return std::make_shared<BatchNormalizationLayer>(
      BatchNormalizationOptions{.axis = c.get<int64_t>("axis"),
                                .momentum = c.get<double>("momentum"),
                                .epsilon = c.get<double>("epsilon"),
                                .center = c.get<bool>("center"),
                                .scale = c.get<bool>("scale"),
                                .input_shape = Shape(c.list_or_empty("input_shape")),
                                .name = c.get<std::string>("name")});
}

LayerNormalizationLayer::LayerNormalizationLayer(LayerNormalizationOptions o)
    : Layer("LayerNormalization", o.name), o_(std::move(o)) {
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
void LayerNormalizationLayer::build(const Shape& in) {
  Axes axes = normalize_axes(label(), Axes(o_.axis), static_cast<int64_t>(in.size()));
  Shape ps;
  for (int64_t a : axes) ps.push_back(in[a]);
  if (o_.scale) gamma_ = add_weight("gamma", ps, initializers::ones());
  if (o_.center) beta_ = add_weight("beta", ps, initializers::zeros());
}
Tensor LayerNormalizationLayer::call(const Tensor& x, bool) {
  return layer_norm(x, gamma_, beta_, Axes(o_.axis), o_.epsilon);
}
Config LayerNormalizationLayer::config() const {
  Config c = Layer::config();
  c.set("axis", o_.axis);
  c.set("epsilon", o_.epsilon);
  c.set("center", o_.center);
  c.set("scale", o_.scale);
  return c;
}
std::shared_ptr<Layer> LayerNormalizationLayer::from_config(const Config& c) {
  return std::make_shared<LayerNormalizationLayer>(
      LayerNormalizationOptions{.axis = c.get<std::vector<int64_t>>("axis"),
                                .epsilon = c.get<double>("epsilon"),
                                .center = c.get<bool>("center"),
                                .scale = c.get<bool>("scale"),
                                .input_shape = Shape(c.list_or_empty("input_shape")),
                                .name = c.get<std::string>("name")});
}

EmbeddingLayer::EmbeddingLayer(int64_t in, int64_t out, EmbeddingOptions o)
    : Layer("Embedding", o.name), input_dim_(in), output_dim_(out), o_(std::move(o)) {
  if (in <= 0 || out <= 0) fail<ValueError>(label(), ": input_dim and output_dim must be positive");
  if (!o_.input_shape.empty()) set_declared_input_shape(o_.input_shape.vec());
}
void EmbeddingLayer::build(const Shape&) {
  table_ = add_weight("embeddings", {input_dim_, output_dim_}, o_.embeddings_initializer.get());
}
Tensor EmbeddingLayer::call(const Tensor& x, bool) {
  if (o_.embeddings_regularizer) add_loss(o_.embeddings_regularizer(table_));
  Tensor ix = is_floating(x.dtype()) ? x.to(kInt64) : x;  // Keras accepts float-typed indices
  if (ix.numel() > 0) {
    NoGrad ng;
    const int64_t lo = min(ix).item<int64_t>(), hi = max(ix).item<int64_t>();
    if (lo < 0 || hi >= input_dim_)
      fail<IndexError>(label(), ": index ", lo < 0 ? lo : hi, " out of range for input_dim ",
                       input_dim_);
  }
  return embedding(ix, table_);
}
Config EmbeddingLayer::config() const {
  Config c = Layer::config();
  c.set("input_dim", input_dim_);
  c.set("output_dim", output_dim_);
  write_regularizer(c, "embeddings_regularizer", o_.embeddings_regularizer);
  return c;
}
std::shared_ptr<Layer> EmbeddingLayer::from_config(const Config& c) {
  return std::make_shared<EmbeddingLayer>(
      c.get<int64_t>("input_dim"), c.get<int64_t>("output_dim"),
      EmbeddingOptions{.embeddings_regularizer = read_regularizer(c, "embeddings_regularizer",
                                                                  c.get<std::string>("name")),
                       .input_shape = Shape(c.list_or_empty("input_shape")),
                       .name = c.get<std::string>("name")});
}

// ---- registration (load_model rebuilds these types from their configs) ----
TG_REGISTER_LAYER("BatchNormalization", BatchNormalizationLayer::from_config);
TG_REGISTER_LAYER("LayerNormalization", LayerNormalizationLayer::from_config);
TG_REGISTER_LAYER("Embedding", EmbeddingLayer::from_config);
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_normalization_layers() {}
}  // namespace detail

}  // namespace tg::nn
