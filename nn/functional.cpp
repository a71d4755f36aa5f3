// The functional API's graph: a model as a graph of layer calls from symbolic inputs to
// outputs; running it, its output shapes, and its entry in a model file.
#include "tapegrad/nn/model.hpp"

#include <unordered_map>
#include <unordered_set>

#include "tapegrad/nn/layer_registry.hpp"

namespace tg::nn {

ModelImpl::ModelImpl(std::vector<Symbol> inputs, std::vector<Symbol> outputs, std::string name)
    : Layer("Functional", std::move(name)) {
  set_graph(std::move(inputs), std::move(outputs));
}

ModelImpl::ModelImpl(std::string type, std::string name)
    : Layer(std::move(type), std::move(name)) {}

void ModelImpl::set_graph(std::vector<Symbol> inputs, std::vector<Symbol> outputs) {
  if (inputs.empty()) fail<ValueError>(label(), ": a model needs at least one input");
  if (outputs.empty()) fail<ValueError>(label(), ": a model needs at least one output");
  std::unordered_set<const SymbolState*> input_set;
  for (const Symbol& s : inputs) {
    if (!s.defined()) fail<ValueError>(label(), ": an input is undefined");
    if (s.state()->call) fail<ValueError>(label(), ": input '", s.name(), "' is not an nn::Input");
    input_set.insert(s.state().get());
  }
  // Post-order walk from the outputs (explicit stack): every call after the calls it reads.
  std::vector<std::shared_ptr<LayerCall>> order;
  std::unordered_set<const LayerCall*> done, open;
  std::vector<std::pair<std::shared_ptr<LayerCall>, bool>> stack;
  for (auto it = outputs.rbegin(); it != outputs.rend(); ++it) {
    if (!it->defined()) fail<ValueError>(label(), ": an output is undefined");
    if (it->state()->call)
      stack.emplace_back(it->state()->call, false);
    else if (!input_set.count(it->state().get()))
      fail<ValueError>(label(), ": output '", it->name(),
                       "' is an input that is not among the model's inputs");
  }
  while (!stack.empty()) {
    auto [call, expanded] = stack.back();
    stack.pop_back();
    if (done.count(call.get())) continue;
    if (expanded) {
      done.insert(call.get());
      order.push_back(call);
      continue;
    }
    stack.emplace_back(call, true);
    for (auto it = call->inputs.rbegin(); it != call->inputs.rend(); ++it) {
      const auto& st = it->state();
      if (st->call) {
        if (!done.count(st->call.get())) stack.emplace_back(st->call, false);
      } else if (!input_set.count(st.get())) {
        fail<ValueError>(label(), ": the outputs depend on input '", st->name,
                         "', which is not among the model's inputs");
      }
    }
  }
  // Weights are saved and loaded by layer name: two layers with one name would be mixed up.
  std::vector<std::shared_ptr<Layer>> layers;
  std::unordered_set<const Layer*> seen;
  std::unordered_set<std::string> names;
  for (const auto& c : order)
    if (seen.insert(c->layer.get()).second) {
      if (!names.insert(c->layer->name()).second)
        fail<ValueError>(label(), ": two layers are named '", c->layer->name(),
                         "'; layer names must be unique in a model");
      layers.push_back(c->layer);
    }
  inputs_ = std::move(inputs);
  outputs_ = std::move(outputs);
  order_ = std::move(order);
  layers_ = std::move(layers);
  Layer::ensure_built({});
}

void ModelImpl::clear_graph() {
  inputs_.clear();
  outputs_.clear();
  order_.clear();
  layers_.clear();
}

void ModelImpl::ensure_graph(const std::vector<Tensor>&) {}

std::vector<Tensor> ModelImpl::call_multi(const std::vector<Tensor>& xs, bool training) {
  ensure_graph(xs);
  if (xs.size() != inputs_.size())
    fail<ValueError>(label(), ": expected ", inputs_.size(), " inputs, got ", xs.size());
  std::unordered_map<const SymbolState*, Tensor> values;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& want = inputs_[i].shape();
    const Shape& got = xs[i].shape();
    bool ok = want.size() == got.size();
    for (size_t d = 0; ok && d < want.size(); ++d) ok = want[d] < 0 || want[d] == got[d];
    if (!ok)
      fail<ShapeError>(label(), ": input '", inputs_[i].name(), "' expects shape ", want,
                       " (-1: any), got ", got);
    values[inputs_[i].state().get()] = xs[i];
  }
  // Outputs of each call, looked up through the call pointer.
  std::unordered_map<const LayerCall*, std::vector<Tensor>> results;
  auto value_of = [&](const Symbol& s) -> const Tensor& {
    const auto& st = s.state();
    if (!st->call) return values.at(st.get());
    return results.at(st->call.get()).at(st->index);
  };
  for (const auto& call : order_) {
    std::vector<Tensor> ins;
    for (const Symbol& s : call->inputs) ins.push_back(value_of(s));
    results[call.get()] = (*call->layer)(ins, training);
  }
  std::vector<Tensor> outs;
  for (const Symbol& s : outputs_) outs.push_back(value_of(s));
  return outs;
}

std::vector<Shape> ModelImpl::compute_output_shapes(const std::vector<Shape>& in) {
  if (!has_graph()) return Layer::compute_output_shapes(in);
  if (in.size() != inputs_.size())
    fail<ValueError>(label(), ": expected ", inputs_.size(), " inputs, got ", in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& want = inputs_[i].shape();
    bool ok = want.size() == in[i].size();
    for (size_t d = 1; ok && d < want.size(); ++d)
      ok = want[d] < 0 || in[i][d] < 0 || want[d] == in[i][d];
    if (!ok)
      fail<ShapeError>(label(), ": input '", inputs_[i].name(), "' expects shape ", want, ", got ",
                       in[i]);
  }
  std::vector<Shape> out;
  for (const Symbol& s : outputs_) out.push_back(s.shape());
  return out;
}

Config ModelImpl::config() const {
  Config c = Layer::config();
  std::vector<int64_t> n_in{static_cast<int64_t>(inputs_.size())};
  c.set("num_inputs", static_cast<int64_t>(inputs_.size()));
  c.set("num_outputs", static_cast<int64_t>(outputs_.size()));
  return c;
}

std::shared_ptr<Layer> ModelImpl::get_layer(const std::string& name) const {
  for (const auto& l : sublayers())
    if (l->name() == name) return l;
  fail<ValueError>(label(), ": no layer named '", name, "'");
}

void ModelImpl::to(Device device) {
  Layer::to(device);
  if (optimizer_) optimizer_->to(device);
}

// ---------------------------------------------------------------- saved entry

namespace {
Json symbol_ref(const Symbol& s, const std::vector<Symbol>& inputs,
                const std::unordered_map<const LayerCall*, size_t>& call_index) {
  const auto& st = s.state();
  if (!st->call) {
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i] == s) return Json::Array{Json("input"), Json(i), Json(0)};
    fail<ValueError>("save_model: a symbolic tensor refers to an input outside the model");
  }
  return Json::Array{Json("call"), Json(call_index.at(st->call.get())), Json(st->index)};
}

/// Rebuilds a functional model: its layers, inputs, the calls in order, and outputs.
std::shared_ptr<Layer> functional_from_entry(const Json& a) {
  const std::string& name = a.at("name").as_string("name");
  std::vector<std::shared_ptr<Layer>> layers;
  for (const Json& e : a.at("layers").as_array("layers")) layers.push_back(layer_from_entry(e));
  std::vector<Symbol> inputs;
  for (const Json& e : a.at("inputs").as_array("inputs")) {
    Shape s;
    for (const Json& d : e.at("shape").as_array("shape")) s.push_back(d.as_int("shape"));
    inputs.push_back(
        Input(s, {.name = e.at("name").as_string("name"),
                  .dtype = dtype_from_name(e.at("dtype").as_string("dtype"), "load_model")}));
  }
  std::vector<std::vector<Symbol>> call_outputs;
  auto resolve = [&](const Json& ref) -> Symbol {
    const auto& r = ref.as_array("reference");
    if (r.size() != 3) fail<IOError>("load_model: bad tensor reference");
    const std::string& kind = r[0].as_string("reference kind");
    const size_t i = static_cast<size_t>(r[1].as_int("reference")),
                 k = static_cast<size_t>(r[2].as_int("reference"));
    if (kind == "input" && i < inputs.size()) return inputs[i];
    if (kind == "call" && i < call_outputs.size() && k < call_outputs[i].size())
      return call_outputs[i][k];
    fail<IOError>("load_model: tensor reference [", kind, ", ", i, ", ", k, "] points nowhere");
  };
  for (const Json& c : a.at("calls").as_array("calls")) {
    const size_t li = static_cast<size_t>(c.at("layer").as_int("layer"));
    if (li >= layers.size())
      fail<IOError>("load_model: call refers to layer ", li, " of ", layers.size());
    std::vector<Symbol> ins;
    for (const Json& r : c.at("inputs").as_array("inputs")) ins.push_back(resolve(r));
    call_outputs.push_back(layers[li]->call_symbolic(ins));
  }
  std::vector<Symbol> outputs;
  for (const Json& r : a.at("outputs").as_array("outputs")) outputs.push_back(resolve(r));
  auto m = std::make_shared<ModelImpl>(inputs, outputs, name);
  if (a.has("trainable") && !a.at("trainable").as_bool("trainable")) m->set_trainable(false);
  return m;
}
}  // namespace

Json ModelImpl::saved_entry() const {
  // Layers in the order of their first call, each stored once (shared layers are called again).
  std::unordered_map<const LayerCall*, size_t> call_index;
  for (size_t i = 0; i < order_.size(); ++i) call_index[order_[i].get()] = i;
  std::unordered_map<const Layer*, size_t> layer_index;
  Json::Array layer_json, call_json, input_json, output_json;
  for (const auto& c : order_)
    if (!layer_index.count(c->layer.get())) {
      layer_index[c->layer.get()] = layer_json.size();
      layer_json.push_back(c->layer->saved_entry());
    }
  for (const Symbol& s : inputs_) {
    Json::Array shape;
    for (size_t i = 1; i < s.shape().size(); ++i) shape.emplace_back(s.shape()[i]);
    input_json.push_back(Json::Object{
        {"name", s.name()}, {"shape", shape}, {"dtype", std::string(dtype_name(s.dtype()))}});
  }
  for (const auto& c : order_) {
    Json::Array ins;
    for (const Symbol& s : c->inputs) ins.push_back(symbol_ref(s, inputs_, call_index));
    call_json.push_back(Json::Object{{"layer", layer_index.at(c->layer.get())}, {"inputs", ins}});
  }
  for (const Symbol& s : outputs_) output_json.push_back(symbol_ref(s, inputs_, call_index));
  return Json::Object{{"class", type()},       {"name", name()},       {"trainable", trainable()},
                      {"layers", layer_json},  {"inputs", input_json}, {"calls", call_json},
                      {"outputs", output_json}};
}

TG_REGISTER_LAYER("Functional", EntryFactory(functional_from_entry));

// Referenced by load_model, so that a static link keeps this file's registrar.
namespace detail {
void link_functional_model() {}
}  // namespace detail

}  // namespace tg::nn
