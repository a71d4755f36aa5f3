// Merge layers.
#include "tapegrad/nn/layers/merge.hpp"

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

MergeLayer::MergeLayer(std::string kind, MergeOptions o)
    : Layer(std::move(kind), o.name), o_(std::move(o)) {
  static const char* kinds[] = {"Add",     "Subtract", "Multiply",   "Average",
                                "Maximum", "Minimum",  "Concatenate"};
  bool known = false;
  for (const char* k : kinds) known |= type() == k;
  if (!known) fail<ValueError>("MergeLayer: unknown kind '", type(), "'");
}

std::vector<Tensor> MergeLayer::call_multi(const std::vector<Tensor>& xs, bool) {
  if (xs.size() < 2) fail<ValueError>(label(), ": needs at least 2 inputs, got ", xs.size());
  if (type() == "Concatenate") {
    for (size_t i = 1; i < xs.size(); ++i) {
      bool ok = xs[i].dim() == xs[0].dim();
      const int64_t ax = ok ? normalize_axis(label(), o_.axis, xs[0].dim()) : 0;
      for (int64_t d = 0; ok && d < xs[0].dim(); ++d)
        ok = d == ax || xs[i].shape()[d] == xs[0].shape()[d];
      if (!ok)
        fail<ShapeError>(label(), ": inputs must match except along axis ", o_.axis, ", got ",
                         xs[0].shape(), " and ", xs[i].shape());
    }
    return {concat(xs, o_.axis)};
  }
  if (type() == "Subtract" && xs.size() != 2)
    fail<ValueError>(label(), ": needs exactly 2 inputs, got ", xs.size());
  for (size_t i = 1; i < xs.size(); ++i) {
    try {
      broadcast_shapes(label(), xs[0].shape(), xs[i].shape());
    } catch (const ShapeError&) {
      fail<ShapeError>(label(), ": input shapes ", xs[0].shape(), " and ", xs[i].shape(),
                       " do not match");
    }
  }
  Tensor y = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) {
    if (type() == "Add" || type() == "Average")
      y = add(y, xs[i]);
    else if (type() == "Subtract")
      y = sub(y, xs[i]);
    else if (type() == "Multiply")
      y = mul(y, xs[i]);
    else if (type() == "Maximum")
      y = maximum(y, xs[i]);
    else
      y = minimum(y, xs[i]);
  }
  if (type() == "Average") y = div(y, static_cast<double>(xs.size()));
  return {y};
}

Config MergeLayer::config() const {
  Config c = Layer::config();
  if (type() == "Concatenate") c.set("axis", o_.axis);
  return c;
}

std::shared_ptr<Layer> MergeLayer::from_config(const std::string& kind, const Config& c) {
  return std::make_shared<MergeLayer>(kind, MergeOptions{.axis = c.get_or<int64_t>("axis", -1),
                                                         .name = c.get<std::string>("name")});
}

// ---- registration (load_model rebuilds these types from their configs) ----
TG_REGISTER_LAYER("Add", [](const Config& c) { return MergeLayer::from_config("Add", c); });
TG_REGISTER_LAYER("Subtract",
                  [](const Config& c) { return MergeLayer::from_config("Subtract", c); });
TG_REGISTER_LAYER("Multiply",
                  [](const Config& c) { return MergeLayer::from_config("Multiply", c); });
TG_REGISTER_LAYER("Average", [](const Config& c) { return MergeLayer::from_config("Average", c); });
TG_REGISTER_LAYER("Maximum", [](const Config& c) { return MergeLayer::from_config("Maximum", c); });
TG_REGISTER_LAYER("Minimum", [](const Config& c) { return MergeLayer::from_config("Minimum", c); });
TG_REGISTER_LAYER("Concatenate",
                  [](const Config& c) { return MergeLayer::from_config("Concatenate", c); });
// Referenced by load_model, so that a static link keeps this file's registrars.
namespace detail {
void link_merge_layers() {}
}  // namespace detail

}  // namespace tg::nn
