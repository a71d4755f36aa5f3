// Layer: lazy building, eager and symbolic calls, weight bookkeeping.
#include "tapegrad/nn/layer.hpp"

#include <cctype>
#include <map>
#include <mutex>
#include <unordered_set>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg::nn {

namespace {
std::string unique_name(const std::string& base) {
  static std::mutex mu;
  static std::map<std::string, int> counts;
  std::lock_guard<std::mutex> lock(mu);
  int n = counts[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

}  // namespace

std::string snake_case(const std::string& type) {
  std::string out;
  for (size_t i = 0; i < type.size(); ++i) {
    const char c = type[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      const bool prev_lower = i > 0 && std::islower(static_cast<unsigned char>(type[i - 1]));
      const bool next_lower =
          i + 1 < type.size() && std::islower(static_cast<unsigned char>(type[i + 1]));
      const bool prev_upper = i > 0 && std::isupper(static_cast<unsigned char>(type[i - 1]));
      if (i > 0 && (prev_lower || (prev_upper && next_lower))) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

Symbol Input(const Shape& shape, InputOptions opts) {
  for (int64_t d : shape)
    if (d < -1 || d == 0)
      fail<ShapeError>("Input: sizes must be positive (or -1 for unknown), got ", shape);
  auto s = std::make_shared<SymbolState>();
  s->shape = shape;
  s->shape.insert_at(0, -1);
  s->dtype = opts.dtype;
  s->name = opts.name.empty() ? unique_name("input_layer") : opts.name;
  return Symbol(s);
}

Layer::Layer(std::string type, std::string name)
    : type_(std::move(type)),
      name_(name.empty() ? unique_name(snake_case(type_)) : std::move(name)) {}

void Layer::build(const Shape&) {}

void Layer::build_multi(const std::vector<Shape>& shapes) {
  if (shapes.size() == 1) build(shapes[0]);
}

Tensor Layer::call(const Tensor&, bool) {
  fail<ValueError>(label(), ": the layer does not implement call(x, training)");
}

std::vector<Tensor> Layer::call_multi(const std::vector<Tensor>& inputs, bool training) {
  if (inputs.size() != 1) fail<ValueError>(label(), ": expected 1 input, got ", inputs.size());
  return {call(inputs[0], training)};
}

namespace {
// Sizes an unknown axis (-1) takes in the two shape-only probes of compute_output_shapes; an
// output size that differs between them depends on an unknown size and is reported as -1. The
// second is 1.5 times the first, so the sizes stay apart through six halvings (stride-2 convs
// and pools) and stay large enough for any kernel a model on unknown sizes would use.
constexpr int64_t kProbeSizes[2] = {128, 192};

Shape with_unknown(Shape s, int64_t size) {
  for (auto& d : s)
    if (d < 0) d = size;
  return s;
}
}  // namespace

std::vector<Shape> Layer::compute_output_shapes(const std::vector<Shape>& input_shapes) {
  ensure_built(input_shapes);
  bool unknown = false;
  for (const Shape& s : input_shapes)
    for (int64_t d : s) unknown |= d < 0;
  // The layer's own call on meta tensors: its checks and every op's shape rule run, no kernel
  // and no allocation (the weights are real; ops read them for nothing but their shapes).
  auto probe = [&](int64_t size) {
    std::vector<Tensor> outs;
    {
      MetaScope meta;
      NoGrad ng;
      std::vector<Tensor> probes;
      for (const Shape& s : input_shapes) probes.push_back(Tensor::empty(with_unknown(s, size)));
      outs = call_multi(probes, false);
    }
    collect_losses();  // drop what the probe added
    std::vector<Shape> shapes;
    for (const Tensor& o : outs) shapes.push_back(o.shape());
    return shapes;
  };
  std::vector<Shape> shapes = probe(kProbeSizes[0]);
  if (!unknown) return shapes;
  const std::vector<Shape> other = probe(kProbeSizes[1]);
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (i >= other.size() || other[i].size() != shapes[i].size())
      fail<ValueError>(label(), ": output ", i, " changes rank with the unknown input sizes (",
                       shapes[i], " for ", kProbeSizes[0], ", ",
                       i < other.size() ? other[i] : Shape{}, " for ", kProbeSizes[1], ")");
    for (size_t d = 0; d < shapes[i].size(); ++d)
      if (shapes[i][d] != other[i][d]) shapes[i][d] = -1;
  }
  return shapes;
}

Config Layer::config() const {
  Config c;
  c.set("name", name_);
  c.set("trainable", trainable_);
  if (declared_input_shape_) c.set("input_shape", declared_input_shape_->vec());
  return c;
}

void Layer::ensure_built(const std::vector<Shape>& input_shapes) {
  if (built_) return;
  NoMetaScope compute;  // weights are real even when the first call is symbolic
  build_multi(input_shapes);
  built_ = true;
}

Tensor Layer::operator()(const Tensor& x, bool training) {
  return (*this)(std::vector<Tensor>{x}, training).at(0);
}

std::vector<Tensor> Layer::operator()(const std::vector<Tensor>& xs, bool training) {
  const std::string where = label();  // errors of the ops inside name this layer
  ErrorContext ctx(where.c_str(), ErrorContext::Kind::Layer);
  if (!built_) {
    std::vector<Shape> shapes;
    for (const Tensor& x : xs) {
      if (!x.defined()) fail<ValueError>(label(), ": input is an undefined tensor");
      Shape s = x.shape();
      if (!s.empty()) s[0] = -1;
      shapes.push_back(s);
    }
    ensure_built(shapes);
  }
  return call_multi(xs, training);
}

std::vector<Symbol> Layer::call_symbolic(const std::vector<Symbol>& inputs) {
  const std::string where = label();
  ErrorContext ctx(where.c_str(), ErrorContext::Kind::Layer);
  std::vector<Shape> shapes;
  for (const Symbol& s : inputs) {
    if (!s.defined()) fail<ValueError>(label(), ": called on an undefined symbolic tensor");
    shapes.push_back(s.shape());
  }
  std::vector<Shape> out_shapes = compute_output_shapes(shapes);
  auto call = std::make_shared<LayerCall>();
  call->layer = shared_from_this();
  call->inputs = inputs;
  call->num_outputs = out_shapes.size();
  std::vector<Symbol> outs;
  for (size_t i = 0; i < out_shapes.size(); ++i) {
    auto st = std::make_shared<SymbolState>();
    st->shape = out_shapes[i];
    st->dtype = inputs.empty() ? kFloat32 : inputs[0].dtype();
    if (is_floating(st->dtype) == false) st->dtype = kFloat32;
    st->call = call;
    st->index = i;
    st->name = name_ + (out_shapes.size() > 1 ? ":" + std::to_string(i) : "");
    outs.emplace_back(st);
  }
  return outs;
}

Tensor Layer::add_weight(const std::string& name, const Shape& shape, const Initializer& init,
                         bool trainable, DType dtype) {
  for (const Weight& w : weights_)
    if (w.name == name) fail<ValueError>(label(), ": weight '", name, "' added twice");
  Tensor v;
  {
    NoMetaScope compute;  // also when a layer adds a weight during a symbolic call
    NoGrad ng;
    v = init(shape, dtype).contiguous();
    if (v.shape() != shape)
      fail<ShapeError>(label(), ": initializer of '", name, "' returned shape ", v.shape(),
                       ", expected ", shape);
    if (v.storage().use_count() > 1 || !v.is_leaf()) v = v.clone().detach();
  }
  if (trainable) v.requires_grad_(true);
  weights_.push_back({name, v, trainable});
  return v;
}

std::vector<Weight*> Layer::weights() {
  std::vector<Weight*> out;
  std::unordered_set<const TensorImpl*> seen;
  auto add_from = [&](Layer& l) {
    for (Weight& w : l.weights_)
      if (seen.insert(w.value.impl()).second) out.push_back(&w);
  };
  // Iterative walk over sublayers (depth first, in order).
  std::vector<Layer*> stack{this};
  std::unordered_set<const Layer*> visited;
  while (!stack.empty()) {
    Layer* l = stack.back();
    stack.pop_back();
    if (!visited.insert(l).second) continue;
    add_from(*l);
    auto subs = l->sublayers();
    for (auto it = subs.rbegin(); it != subs.rend(); ++it) stack.push_back(it->get());
  }
  return out;
}

std::vector<Tensor> Layer::trainable_weights() {
  std::vector<Tensor> out;
  std::vector<Layer*> stack{this};
  // A weight is trainable when it and every enclosing layer are trainable.
  std::unordered_set<const Layer*> visited;
  std::unordered_set<const TensorImpl*> seen;
  while (!stack.empty()) {
    Layer* l = stack.back();
    stack.pop_back();
    if (!visited.insert(l).second || !l->trainable_) continue;
    for (Weight& w : l->weights_)
      if (w.trainable && seen.insert(w.value.impl()).second) out.push_back(w.value);
    auto subs = l->sublayers();
    for (auto it = subs.rbegin(); it != subs.rend(); ++it) stack.push_back(it->get());
  }
  return out;
}

std::vector<Tensor> Layer::non_trainable_weights() {
  std::vector<Tensor> trainable = trainable_weights();
  std::unordered_set<const TensorImpl*> t;
  for (const Tensor& x : trainable) t.insert(x.impl());
  std::vector<Tensor> out;
  for (Weight* w : weights())
    if (!t.count(w->value.impl())) out.push_back(w->value);
  return out;
}

int64_t Layer::count_params() {
  int64_t n = 0;
  for (Weight* w : weights()) n += w->value.numel();
  return n;
}

std::vector<Tensor> Layer::collect_losses() {
  std::vector<Tensor> out;
  std::vector<Layer*> stack{this};
  std::unordered_set<const Layer*> visited;
  while (!stack.empty()) {
    Layer* l = stack.back();
    stack.pop_back();
    if (!visited.insert(l).second) continue;
    for (Tensor& t : l->losses_) out.push_back(t);
    l->losses_.clear();
    for (auto& s : l->sublayers()) stack.push_back(s.get());
  }
  return out;
}

void Layer::to(Device device) {
  NoGrad ng;
  for (Weight* w : weights())
    if (w->value.device() != device) w->value.set_data(w->value.detach().to(device).contiguous());
}

void Layer::set_declared_input_shape(const std::optional<std::vector<int64_t>>& s) {
  if (s) declared_input_shape_ = Shape(*s);
}

}  // namespace tg::nn
