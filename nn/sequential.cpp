// Sequential: a linear stack of layers whose graph is built once the input shape is known, and
// its entry in a model file.
#include "tapegrad/nn/model.hpp"

#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

SequentialImpl::SequentialImpl(std::vector<std::shared_ptr<Layer>> layers, std::string name)
    : ModelImpl("Sequential", std::move(name)) {
  for (auto& l : layers) add(l);
}

void SequentialImpl::add(std::shared_ptr<Layer> layer) {
  if (!layer) fail<ValueError>(label(), ": add() got a null layer");
  for (const auto& l : stack_) {
    if (l == layer) fail<ValueError>(label(), ": layer '", layer->name(), "' was already added");
    if (l->name() == layer->name())
      fail<ValueError>(label(), ": a layer named '", layer->name(),
                       "' is already in the model; names must be unique");
  }
  if (stack_.empty() && layer->declared_input_shape())
    input_shape_ = *layer->declared_input_shape();
  stack_.push_back(layer);
  if (input_shape_) {
    try {
      rebuild();
    } catch (...) {
      stack_.pop_back();  // leave the model as it was
      if (stack_.empty()) input_shape_.reset();
      throw;
    }
  }
}

void SequentialImpl::pop() {
  if (stack_.empty()) fail<ValueError>(label(), ": pop() on an empty model");
  stack_.pop_back();
  if (stack_.empty()) {
    input_shape_.reset();
    clear_graph();
  } else if (input_shape_) {
    rebuild();
  }
}

void SequentialImpl::rebuild() {
  Symbol in = Input(*input_shape_);
  Symbol x = in;
  for (const auto& l : stack_) x = l->call_symbolic({x})[0];
  set_graph({in}, {x});
}

void SequentialImpl::build_for(const Shape& input_shape) {
  input_shape_ = input_shape;
  if (!stack_.empty()) rebuild();
}

void SequentialImpl::ensure_graph(const std::vector<Tensor>& x) {
  if (has_graph()) return;
  if (stack_.empty()) fail<ValueError>(label(), ": the model has no layers");
  if (x.size() != 1)
    fail<ValueError>(label(), ": a Sequential model takes 1 input, got ", x.size());
  Shape s = x[0].shape();
  if (s.empty()) fail<ShapeError>(label(), ": inputs need a batch axis, got a scalar");
  s.erase_at(0);
  build_for(s);
}

std::vector<Tensor> SequentialImpl::call_multi(const std::vector<Tensor>& xs, bool training) {
  ensure_graph(xs);
  return ModelImpl::call_multi(xs, training);
}

std::vector<Shape> SequentialImpl::compute_output_shapes(const std::vector<Shape>& in) {
  if (!has_graph()) {
    if (in.size() != 1)
      fail<ValueError>(label(), ": a Sequential model takes 1 input, got ", in.size());
    Shape s = in[0];
    s.erase_at(0);
    build_for(s);
  }
  return ModelImpl::compute_output_shapes(in);
}

Json SequentialImpl::saved_entry() const {
  Json::Array layers;
  for (const auto& l : stack_) layers.push_back(l->saved_entry());
  Json::Object a{
      {"class", type()}, {"name", name()}, {"trainable", trainable()}, {"layers", layers}};
  if (!inputs().empty()) {
    Json::Array shape;
    const Shape& s = inputs()[0].shape();
    for (size_t i = 1; i < s.size(); ++i) shape.emplace_back(s[i]);
    a["input_shape"] = shape;
  }
  return a;
}

namespace {
std::shared_ptr<Layer> sequential_from_entry(const Json& a) {
  std::vector<std::shared_ptr<Layer>> layers;
  for (const Json& e : a.at("layers").as_array("layers")) layers.push_back(layer_from_entry(e));
  auto seq = std::make_shared<SequentialImpl>(std::vector<std::shared_ptr<Layer>>{},
                                              a.at("name").as_string("name"));
  for (auto& l : layers) seq->add(l);
  if (a.has("input_shape") && !seq->built_graph()) {
    Shape s;
    for (const Json& d : a.at("input_shape").as_array("input_shape"))
      s.push_back(d.as_int("input_shape"));
    seq->build_for(s);
  }
  if (a.has("trainable") && !a.at("trainable").as_bool("trainable")) seq->set_trainable(false);
  return seq;
}
}  // namespace

TG_REGISTER_LAYER("Sequential", EntryFactory(sequential_from_entry));

// Referenced by load_model, so that a static link keeps this file's registrar.
namespace detail {
void link_sequential_model() {}
}  // namespace detail

}  // namespace tg::nn
