// Flatten, Reshape and Permute.
#include "tapegrad/nn/layers/reshaping.hpp"

#include <algorithm>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

FlattenLayer::FlattenLayer(BasicLayerOptions o) : Layer("Flatten", o.name) {
  if (!o.input_shape.empty()) set_declared_input_shape(o.input_shape.vec());
}
Tensor FlattenLayer::call(const Tensor& x, bool) {
  if (x.dim() < 1) fail<ShapeError>(label(), ": expected an input with a batch axis, got a scalar");
  return x.dim() == 1 ? x.reshape({x.shape()[0], 1}) : x.flatten(1);
}

ReshapeLayer::ReshapeLayer(Shape target, BasicLayerOptions o)
    : Layer("Reshape", o.name), target_(std::move(target)) {
  if (!o.input_shape.empty()) set_declared_input_shape(o.input_shape.vec());
  if (std::count(target_.begin(), target_.end(), -1) > 1)
    fail<ValueError>(label(), ": at most one size of the target shape ", target_, " may be -1");
}
Tensor ReshapeLayer::call(const Tensor& x, bool) {
  Shape s = target_;
  s.insert_at(0, x.shape()[0]);
  int64_t known = 1, per = 1;
  for (int64_t d : target_)
    if (d != -1) known *= d;
  for (int64_t i = 1; i < x.dim(); ++i) per *= x.shape()[i];
  if ((std::count(target_.begin(), target_.end(), -1) == 0 && known != per) ||
      (known && per % known))
    fail<ShapeError>(label(), ": cannot reshape input ", x.shape(), " to [batch] + ", target_);
  return x.reshape(s);
}
Config ReshapeLayer::config() const {
  Config c = Layer::config();
  c.set("target_shape", target_.vec());
  return c;
}

PermuteLayer::PermuteLayer(std::vector<int64_t> dims, BasicLayerOptions o)
    : Layer("Permute", o.name), dims_(std::move(dims)) {
  if (!o.input_shape.empty()) set_declared_input_shape(o.input_shape.vec());
  std::vector<int64_t> sorted = dims_;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] != static_cast<int64_t>(i) + 1)
      fail<ValueError>(label(), ": dims must be a permutation of 1..", dims_.size());
}
Tensor PermuteLayer::call(const Tensor& x, bool) {
  if (x.dim() != static_cast<int64_t>(dims_.size()) + 1)
    fail<ShapeError>(label(), ": expected an input of rank ", dims_.size() + 1, ", got ",
                     x.shape());
  Axes order{0};
  for (int64_t d : dims_) order.push_back(d);
  return x.permute(order);
}
Config PermuteLayer::config() const {
  Config c = Layer::config();
  c.set("dims", dims_);
  return c;
}

// ---- registration (load_model rebuilds these types from their configs) ----
namespace {
BasicLayerOptions basic_options(const Config& c) {
  return {shape_from_config(c, "input_shape"), c.get_or<std::string>("name", "")};
}
}  // namespace
TG_REGISTER_LAYER("Flatten", [](const Config& c) -> std::shared_ptr<Layer> {
  return std::make_shared<FlattenLayer>(basic_options(c));
});
TG_REGISTER_LAYER("Reshape", [](const Config& c) -> std::shared_ptr<Layer> {
  return std::make_shared<ReshapeLayer>(shape_from_config(c, "target_shape"), basic_options(c));
});
TG_REGISTER_LAYER("Permute", [](const Config& c) -> std::shared_ptr<Layer> {
  return std::make_shared<PermuteLayer>(c.get<std::vector<int64_t>>("dims"), basic_options(c));
});
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_reshaping_layers() {}
}  // namespace detail

}  // namespace tg::nn
