// Model files (TGMODEL format), weight files, .npy files, and atomic writes.
#include "tapegrad/nn/saving.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/json.hpp"
#include "tapegrad/nn/layers/activation_layer.hpp"
#include "tapegrad/nn/layers/conv.hpp"
#include "tapegrad/nn/layers/dense.hpp"
#include "tapegrad/nn/layers/merge.hpp"
#include "tapegrad/nn/layers/normalization.hpp"
#include "tapegrad/nn/layers/pooling.hpp"
#include "tapegrad/nn/layers/recurrent.hpp"
#include "tapegrad/nn/layers/reshaping.hpp"

namespace tg::nn {

namespace {
constexpr char kMagic[8] = {'T', 'G', 'M', 'O', 'D', 'E', 'L', '\1'};

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 14695981039346656037ull;  // the FNV-1a 64-bit offset basis
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ull;
  }
  return h;
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t get_u64(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

DType dtype_from_name(const std::string& n, const char* who) {
  for (DType t : {kFloat32, kFloat64, kInt32, kInt64, kBool})
    if (dtype_name(t) == n) return t;
  fail<IOError>(who, ": unknown dtype '", n, "'");
}

std::string read_file(const std::string& path, const char* who) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail<IOError>(who, ": cannot open '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// A container of named tensors and a JSON header.
struct Container {
  Json::Object header;
  std::vector<std::pair<std::string, Tensor>> tensors;

  std::string serialize() const {
    Json::Array index;
    std::string data;
    for (const auto& [name, t0] : tensors) {
      Tensor t = t0.detach().to(Device::cpu()).contiguous();
      while (data.size() % 64) data += '\0';
      const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
      Json::Array shape;
      for (int64_t d : t.shape()) shape.emplace_back(d);
      index.emplace_back(Json::Object{{"name", name},
                                      {"dtype", std::string(dtype_name(t.dtype()))},
                                      {"shape", shape},
                                      {"offset", data.size()},
                                      {"nbytes", nbytes}});
      data.append(
          static_cast<const char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()),
          nbytes);
    }
    Json::Object h = header;
    h["tensors"] = index;
    std::string hs = Json(h).dump();
    std::string out(kMagic, 8);
    put_u64(out, hs.size());
    out += hs;
    out += data;
    put_u64(out, fnv1a(out.data(), out.size()));
    return out;
  }

  static Container parse(const std::string& bytes, const std::string& path, const char* who) {
    if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0)
      fail<IOError>(who, ": '", path,
                    "' is not a tapegrad model file (bad magic or too short: ", bytes.size(),
                    " bytes)");
    const uint64_t stored = get_u64(bytes, bytes.size() - 8);
    if (stored != fnv1a(bytes.data(), bytes.size() - 8))
      fail<IOError>(who, ": '", path, "' is corrupt or truncated (checksum mismatch)");
    const uint64_t hlen = get_u64(bytes, 8);
    if (hlen > bytes.size() - 24)
      fail<IOError>(who, ": '", path, "' has a header length past the end of the file");
    Container c;
    Json h = Json::parse(bytes.substr(16, hlen));
    c.header = h.as_object("header");
    const size_t data_start = 16 + hlen, data_end = bytes.size() - 8;
    for (const Json& e : h.at("tensors").as_array("tensors")) {
      const std::string& name = e.at("name").as_string("tensor name");
      DType dt = dtype_from_name(e.at("dtype").as_string("dtype"), who);
      Shape shape;
      for (const Json& d : e.at("shape").as_array("shape")) shape.push_back(d.as_int("shape"));
      const uint64_t off = static_cast<uint64_t>(e.at("offset").as_int("offset"));
      const uint64_t nb = static_cast<uint64_t>(e.at("nbytes").as_int("nbytes"));
      if (nb != static_cast<uint64_t>(numel(shape)) * dtype_size(dt))
        fail<IOError>(who, ": tensor '", name, "' has ", nb, " bytes for shape ", shape);
      if (data_start + off + nb > data_end)
        fail<IOError>(who, ": tensor '", name, "' lies past the end of the data");
      c.tensors.emplace_back(name, from_blob(bytes.data() + data_start + off, shape, dt));
    }
    return c;
  }
};

/// Weights with their path names: "<layer>/<weight>", nested models prefixing their name.
void collect_named(Layer& l, const std::string& prefix,
                   std::vector<std::pair<std::string, Tensor>>& out, bool include_self) {
  // Iterative over the layer tree.
  std::vector<std::tuple<Layer*, std::string, bool>> stack{{&l, prefix, include_self}};
  std::unordered_map<const Layer*, bool> seen;
  while (!stack.empty()) {
    auto [layer, pre, self] = stack.back();
    stack.pop_back();
    if (seen[layer]) continue;
    seen[layer] = true;
    const std::string base = self ? pre + layer->name() + "/" : pre;
    std::vector<std::pair<std::string, Tensor>> own;
    for (Weight* w : layer->weights()) (void)w;
    // Own weights only: those not owned by a sublayer.
    std::unordered_map<const TensorImpl*, bool> sub;
    for (auto& s : layer->sublayers())
      for (Weight* w : s->weights()) sub[w->value.impl()] = true;
    for (Weight* w : layer->weights())
      if (!sub.count(w->value.impl())) out.emplace_back(base + w->name, w->value);
    auto subs = layer->sublayers();
    for (auto it = subs.rbegin(); it != subs.rend(); ++it)
      stack.emplace_back(it->get(), base, true);
  }
}

// ---- layer registry ----
std::mutex g_registry_mu;
std::unordered_map<std::string, LayerFactory>& registry() {
  static std::unordered_map<std::string, LayerFactory> r;
  return r;
}

Shape shape_of(const Config& c, const char* key) { return Shape(c.list_or_empty(key)); }
std::string init_name(const Config& c, const char* key, const char* fallback) {
  std::string n = c.get_or<std::string>(key, fallback);
  return n == "custom" ? std::string(fallback) : n;  // the saved weights replace the values
}
ActivationFn activation_of(const Config& c, const std::string& layer) {
  std::string a = c.get_or<std::string>("activation", "linear");
  if (a == "custom")
    fail<IOError>("load_model: layer '", layer,
                  "' used a custom activation function, which a file cannot hold; "
                  "rebuild the model in code and use load_weights");
  return ActivationFn(a);
}

std::shared_ptr<Layer> make_builtin(const std::string& type, const Config& c) {
  const std::string name = c.get_or<std::string>("name", "");
  std::shared_ptr<Layer> l;
  if (type == "Dense") {
    l = std::make_shared<DenseLayer>(
        c.get<int64_t>("units"),
        DenseOptions{.activation = activation_of(c, name),
                     .use_bias = c.get_or<bool>("use_bias", true),
                     .kernel_initializer = init_name(c, "kernel_initializer", "glorot_uniform"),
                     .bias_initializer = init_name(c, "bias_initializer", "zeros"),
                     .kernel_regularizer = read_regularizer(c, "kernel_regularizer", name),
                     .bias_regularizer = read_regularizer(c, "bias_regularizer", name),
                     .input_shape = shape_of(c, "input_shape"),
                     .name = name});
  } else if (type == "Flatten") {
    l = std::make_shared<FlattenLayer>(BasicLayerOptions{shape_of(c, "input_shape"), name});
  } else if (type == "Reshape") {
    l = std::make_shared<ReshapeLayer>(shape_of(c, "target_shape"),
                                       BasicLayerOptions{shape_of(c, "input_shape"), name});
  } else if (type == "Permute") {
    l = std::make_shared<PermuteLayer>(c.get<std::vector<int64_t>>("dims"),
                                       BasicLayerOptions{shape_of(c, "input_shape"), name});
  } else if (type == "Activation") {
    l = std::make_shared<ActivationLayer>(activation_of(c, name),
                                          BasicLayerOptions{shape_of(c, "input_shape"), name});
  } else if (type == "Dropout") {
    DropoutOptions o{.input_shape = shape_of(c, "input_shape"), .name = name};
    if (c.has("seed")) o.seed = static_cast<uint64_t>(c.get<int64_t>("seed"));
    l = std::make_shared<DropoutLayer>(c.get<double>("rate"), o);
  } else if (type == "Conv2D") {
    l = Conv2DLayer::from_config(c);
  } else if (type == "Conv1D") {
    l = Conv1DLayer::from_config(c);
  } else if (type == "Conv2DTranspose") {
    l = Conv2DTransposeLayer::from_config(c);
  } else if (type == "MaxPooling2D" || type == "AveragePooling2D") {
    l = Pooling2DLayer::from_config(c, type == "MaxPooling2D");
  } else if (type == "GlobalMaxPooling2D" || type == "GlobalAveragePooling2D") {
    l = GlobalPooling2DLayer::from_config(c, type == "GlobalMaxPooling2D");
  } else if (type == "BatchNormalization") {
    l = BatchNormalizationLayer::from_config(c);
  } else if (type == "LayerNormalization") {
    l = LayerNormalizationLayer::from_config(c);
  } else if (type == "Embedding") {
    l = EmbeddingLayer::from_config(c);
  } else if (type == "LSTM" || type == "GRU" || type == "SimpleRNN") {
    l = RNNLayer::from_config(type == "LSTM"  ? RNNLayer::Cell::LSTM
                              : type == "GRU" ? RNNLayer::Cell::GRU
                                              : RNNLayer::Cell::Simple,
                              c);
  } else if (type == "Add" || type == "Subtract" || type == "Multiply" || type == "Average" ||
             type == "Maximum" || type == "Minimum" || type == "Concatenate") {
    l = MergeLayer::from_config(type, c);
  } else {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    auto it = registry().find(type);
    if (it == registry().end())
      fail<IOError>("load_model: layer '", name, "' has type '", type,
                    "', which is neither built in nor registered with nn::register_layer");
    l = it->second(c);
  }
  if (!c.get_or<bool>("trainable", true)) l->set_trainable(false);
  return l;
}

// ---- architecture ----
Json architecture_of(Layer& layer);

Json layer_entry(Layer& l) {
  if (dynamic_cast<ModelImpl*>(&l)) return architecture_of(l);
  Config cfg = l.config();
  if (cfg.get_or<std::string>("activation", "") == "custom")
    fail<IOError>("save_model: layer '", l.name(),
                  "' uses a custom activation function, which a file cannot hold; "
                  "save_weights and rebuild the model in code");
  for (const char* key : {"kernel_regularizer", "bias_regularizer", "embeddings_regularizer"})
    if (cfg.get_or<std::string>(key, "") == "custom")
      fail<IOError>("save_model: layer '", l.name(), "' uses a custom ", key,
                    ", which a file cannot hold; save_weights and rebuild the model in code");
  Json::Object e{{"class", l.type()}, {"config", Json::parse(cfg.to_json())}};
  // Wrappers hold the layer they wrap.
  if (auto* b = dynamic_cast<BidirectionalLayer*>(&l))
    e["layer"] = layer_entry(*b->forward_layer());
  if (auto* t = dynamic_cast<TimeDistributedLayer*>(&l)) e["layer"] = layer_entry(*t->inner());
  return e;
}

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

Json architecture_of(Layer& layer) {
  auto* model = dynamic_cast<ModelImpl*>(&layer);
  Json::Object a{{"class", layer.type()}, {"name", layer.name()}, {"trainable", layer.trainable()}};
  if (auto* seq = dynamic_cast<SequentialImpl*>(model)) {
    Json::Array layers;
    for (auto& l : seq->sublayers()) layers.push_back(layer_entry(*l));
    a["layers"] = layers;
    if (!model->inputs().empty()) {
      Json::Array shape;
      const Shape& s = model->inputs()[0].shape();
      for (size_t i = 1; i < s.size(); ++i) shape.emplace_back(s[i]);
      a["input_shape"] = shape;
    }
    return a;
  }
  // Functional: layers, inputs, the calls in order, outputs.
  std::vector<std::shared_ptr<LayerCall>> calls;
  std::unordered_map<const LayerCall*, size_t> call_index;
  {
    // Recover the call order from the outputs (the model keeps it privately): post-order walk.
    std::vector<std::pair<std::shared_ptr<LayerCall>, bool>> stack;
    for (auto it = model->outputs().rbegin(); it != model->outputs().rend(); ++it)
      if (it->state()->call) stack.emplace_back(it->state()->call, false);
    while (!stack.empty()) {
      auto [c, expanded] = stack.back();
      stack.pop_back();
      if (call_index.count(c.get())) continue;
      if (expanded) {
        call_index[c.get()] = calls.size();
        calls.push_back(c);
        continue;
      }
      stack.emplace_back(c, true);
      for (auto it = c->inputs.rbegin(); it != c->inputs.rend(); ++it)
        if (it->state()->call && !call_index.count(it->state()->call.get()))
          stack.emplace_back(it->state()->call, false);
    }
  }
  std::vector<Layer*> layers;
  std::unordered_map<const Layer*, size_t> layer_index;
  Json::Array layer_json, call_json, input_json, output_json;
  for (auto& c : calls)
    if (!layer_index.count(c->layer.get())) {
      layer_index[c->layer.get()] = layers.size();
      layers.push_back(c->layer.get());
      layer_json.push_back(layer_entry(*c->layer));
    }
  for (const Symbol& s : model->inputs()) {
    Json::Array shape;
    for (size_t i = 1; i < s.shape().size(); ++i) shape.emplace_back(s.shape()[i]);
    input_json.push_back(Json::Object{
        {"name", s.name()}, {"shape", shape}, {"dtype", std::string(dtype_name(s.dtype()))}});
  }
  for (auto& c : calls) {
    Json::Array ins;
    for (const Symbol& s : c->inputs) ins.push_back(symbol_ref(s, model->inputs(), call_index));
    call_json.push_back(Json::Object{{"layer", layer_index.at(c->layer.get())}, {"inputs", ins}});
  }
  for (const Symbol& s : model->outputs())
    output_json.push_back(symbol_ref(s, model->inputs(), call_index));
  a["layers"] = layer_json;
  a["inputs"] = input_json;
  a["calls"] = call_json;
  a["outputs"] = output_json;
  return a;
}

std::shared_ptr<ModelImpl> model_from(const Json& a);

std::shared_ptr<Layer> layer_from(const Json& e) {
  const std::string& cls = e.at("class").as_string("class");
  if (cls == "Sequential" || cls == "Functional") return model_from(e);
  Config c = Config::from_json(e.at("config").dump());
  const std::string name = c.get_or<std::string>("name", "");
  if (cls == "Bidirectional") {
    auto inner = std::dynamic_pointer_cast<RNNLayer>(layer_from(e.at("layer")));
    return std::make_shared<BidirectionalLayer>(
        inner, BidirectionalOptions{.merge_mode = c.get<std::string>("merge_mode"), .name = name});
  }
  if (cls == "TimeDistributed")
    return std::make_shared<TimeDistributedLayer>(layer_from(e.at("layer")),
                                                  BasicLayerOptions{.name = name});
  return make_builtin(cls, c);
}

std::shared_ptr<ModelImpl> model_from(const Json& a) {
  const std::string& cls = a.at("class").as_string("class");
  const std::string& name = a.at("name").as_string("name");
  std::shared_ptr<ModelImpl> m;
  if (cls == "Sequential") {
    std::vector<std::shared_ptr<Layer>> layers;
    for (const Json& e : a.at("layers").as_array("layers")) layers.push_back(layer_from(e));
    auto seq = std::make_shared<SequentialImpl>(std::vector<std::shared_ptr<Layer>>{}, name);
    for (auto& l : layers) seq->add(l);
    if (a.has("input_shape") && !seq->built_graph()) {
      Shape s;
      for (const Json& d : a.at("input_shape").as_array("input_shape"))
        s.push_back(d.as_int("input_shape"));
      seq->build_for(s);
    }
    m = seq;
  } else if (cls == "Functional") {
    std::vector<std::shared_ptr<Layer>> layers;
    for (const Json& e : a.at("layers").as_array("layers")) layers.push_back(layer_from(e));
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
    m = std::make_shared<ModelImpl>(inputs, outputs, name);
  } else {
    fail<IOError>("load_model: unknown model class '", cls, "'");
  }
  if (a.has("trainable") && !a.at("trainable").as_bool("trainable")) m->set_trainable(false);
  return m;
}

void assign_weights(Layer& model, const std::vector<std::pair<std::string, Tensor>>& stored,
                    const char* who, const std::string& path) {
  std::vector<std::pair<std::string, Tensor>> named;
  collect_named(model, "", named, false);
  std::unordered_map<std::string, const Tensor*> by_name;
  for (const auto& [n, t] : stored) by_name[n] = &t;
  // Check everything first: a failed load changes no weight.
  for (const auto& [n, t] : named) {
    auto it = by_name.find(n);
    if (it == by_name.end()) fail<IOError>(who, ": '", path, "' has no weight '", n, "'");
    if (it->second->shape() != t.shape())
      fail<ShapeError>(who, ": weight '", n, "' has shape ", it->second->shape(), " in '", path,
                       "', the model has ", t.shape());
  }
  if (named.size() != stored.size())
    fail<IOError>(who, ": '", path, "' holds ", stored.size(), " weights, the model has ",
                  named.size());
  NoGrad ng;
  for (auto& [n, t] : named) {
    Tensor dst = t;
    dst.copy_(*by_name.at(n));
  }
}

optim::LearningRate lr_of(const Config& c) { return c.get_or<double>("learning_rate", 0.001); }
std::optional<double> opt_of(const Config& c, const char* k) {
  return c.has(k) ? std::optional<double>(c.get<double>(k)) : std::nullopt;
}
std::shared_ptr<optim::Optimizer> optimizer_from(const Config& c) {
  using namespace optim;
  const std::string n = c.get<std::string>("name");
  const double wd = c.get_or<double>("weight_decay", 0.0);
  auto cn = opt_of(c, "clipnorm"), cv = opt_of(c, "clipvalue"), gcn = opt_of(c, "global_clipnorm");
  if (n == "SGD")
    return std::make_shared<SGD>(
        SGDOptions{lr_of(c), c.get<double>("momentum"), c.get<bool>("nesterov"), wd, cn, cv, gcn});
  if (n == "RMSprop")
    return std::make_shared<RMSprop>(
        RMSpropOptions{lr_of(c), c.get<double>("rho"), c.get<double>("momentum"),
                       c.get<double>("epsilon"), c.get<bool>("centered"), wd, cn, cv, gcn});
  if (n == "Adam" || n == "AdamW") {
    AdamOptions o{lr_of(c),
                  c.get<double>("beta_1"),
                  c.get<double>("beta_2"),
                  c.get<double>("epsilon"),
                  c.get<bool>("amsgrad"),
                  wd,
                  cn,
                  cv,
                  gcn};
    if (n == "Adam") return std::make_shared<Adam>(o);
    return std::make_shared<AdamW>(
        AdamWOptions{o.learning_rate, wd, o.beta_1, o.beta_2, o.epsilon, o.amsgrad, cn, cv, gcn});
  }
  if (n == "Adagrad")
    return std::make_shared<Adagrad>(AdagradOptions{lr_of(c),
                                                    c.get<double>("initial_accumulator_value"),
                                                    c.get<double>("epsilon"), wd, cn, cv, gcn});
  if (n == "Adadelta")
    return std::make_shared<Adadelta>(
        AdadeltaOptions{lr_of(c), c.get<double>("rho"), c.get<double>("epsilon"), wd, cn, cv, gcn});
  if (n == "Adamax")
    return std::make_shared<Adamax>(AdamaxOptions{lr_of(c), c.get<double>("beta_1"),
                                                  c.get<double>("beta_2"), c.get<double>("epsilon"),
                                                  wd, cn, cv, gcn});
  if (n == "Nadam")
    return std::make_shared<Nadam>(NadamOptions{lr_of(c), c.get<double>("beta_1"),
                                                c.get<double>("beta_2"), c.get<double>("epsilon"),
                                                wd, cn, cv, gcn});
  fail<IOError>("load_model: unknown optimizer '", n, "'");
}
}  // namespace

void register_layer(const std::string& type, LayerFactory factory) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  registry()[type] = std::move(factory);
}

void atomic_write(const std::string& path, const std::string& bytes, const char* who) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail<IOError>(who, ": cannot create '", tmp, "' next to '", path, "'");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
                  std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    fail<IOError>(who, ": writing '", tmp, "' failed; '", path, "' is unchanged");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail<IOError>(who, ": cannot rename '", tmp, "' to '", path, "'; '", path, "' is unchanged");
  }
}

void save_weights(Layer& model, const std::string& path) {
  Container c;
  c.header = {{"kind", "weights"}, {"format_version", 1}};
  collect_named(model, "", c.tensors, false);
  atomic_write(path, c.serialize(), "save_weights");
}

void load_weights(Layer& model, const std::string& path) {
  Container c = Container::parse(read_file(path, "load_weights"), path, "load_weights");
  assign_weights(model, c.tensors, "load_weights", path);
}

void save_model(ModelImpl& model, const std::string& path) {
  Container c;
  c.header = {{"kind", "model"}, {"format_version", 1}, {"architecture", architecture_of(model)}};
  collect_named(model, "", c.tensors, false);
  if (model.compiled() && model.optimizer()) {
    auto& opt = *model.optimizer();
    Json::Object o{{"config", Json::parse(opt.config().to_json())},
                   {"iterations", opt.iterations()}};
    // The weight each state index belongs to: the optimizer numbers parameters in the order it
    // first updated them, which differs from trainable_weights() once layers are (un)frozen.
    std::unordered_map<const TensorImpl*, std::string> weight_name;
    for (const auto& [n, t] : c.tensors) weight_name[t.impl()] = n;
    const std::vector<const TensorImpl*> seen = opt.state_params();
    std::vector<int64_t> renumber(seen.size(), -1);
    Json::Array owners;
    for (size_t i = 0; i < seen.size(); ++i) {
      auto it = weight_name.find(seen[i]);
      if (it == weight_name.end()) continue;  // state of a tensor that is no longer a weight
      renumber[i] = static_cast<int64_t>(owners.size());
      owners.emplace_back(it->second);
    }
    o["state_params"] = owners;
    c.header["optimizer"] = o;
    for (auto& [n, t] : opt.state()) {
      const size_t slash = n.find('/');
      const int64_t k = renumber.at(std::stoul(n.substr(0, slash)));
      if (k >= 0) c.tensors.emplace_back("optimizer/" + std::to_string(k) + n.substr(slash), t);
    }
    c.header["compile"] = Json::parse(model.compile_config().to_json());
  }
  atomic_write(path, c.serialize(), "save_model");
}

Model load_model(const std::string& path) {
  Container c = Container::parse(read_file(path, "load_model"), path, "load_model");
  Json h(c.header);
  if (h.at("kind").as_string("kind") != "model")
    fail<IOError>("load_model: '", path, "' holds ", h.at("kind").as_string("kind"),
                  ", not a model (use load_weights)");
  std::shared_ptr<ModelImpl> m = model_from(h.at("architecture"));
  std::vector<std::pair<std::string, Tensor>> weights, opt_state;
  for (auto& [n, t] : c.tensors) {
    if (n.rfind("optimizer/", 0) == 0)
      opt_state.emplace_back(n.substr(10), t);
    else
      weights.emplace_back(n, t);
  }
  assign_weights(*m, weights, "load_model", path);
  if (h.has("compile") && h.has("optimizer")) {
    Config cc = Config::from_json(h.at("compile").dump());
    if (m->restore_compile(
            cc, optimizer_from(Config::from_json(h.at("optimizer").at("config").dump())))) {
      std::vector<Tensor> params = m->trainable_weights();
      if (h.at("optimizer").has("state_params")) {
        std::vector<std::pair<std::string, Tensor>> named;
        collect_named(*m, "", named, false);
        params.clear();
        for (const Json& n : h.at("optimizer").at("state_params").as_array("state_params")) {
          auto it = std::find_if(named.begin(), named.end(), [&](const auto& e) {
            return e.first == n.as_string("state_params");
          });
          if (it == named.end())
            fail<IOError>("load_model: '", path, "' holds optimizer state for an unknown weight '",
                          n.as_string("state_params"), "'");
          params.push_back(it->second);
        }
      }
      m->optimizer()->load_state(params, opt_state,
                                 h.at("optimizer").at("iterations").as_int("iterations"));
    }
  }
  return Model(m);
}

// ---- .npy ----
void save_npy(const std::string& path, const Tensor& t0) {
  if (!t0.defined()) fail<ValueError>("save_npy: undefined tensor");
  Tensor t = t0.detach().to(Device::cpu()).contiguous();
  const char* descr = nullptr;
  switch (t.dtype()) {
    case kFloat32:
      descr = "<f4";
      break;
    case kFloat64:
      descr = "<f8";
      break;
    case kInt32:
      descr = "<i4";
      break;
    case kInt64:
      descr = "<i8";
      break;
    case kBool:
      descr = "|b1";
      break;
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i)
    shape += std::to_string(t.shape()[i]) +
             (t.shape().size() == 1 ? "," : (i + 1 < t.shape().size() ? ", " : ""));
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\1';
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()),
             static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
  atomic_write(path, out, "save_npy");
}

Tensor load_npy(const std::string& path) {
  std::string b = read_file(path, "load_npy");
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0)
    fail<IOError>("load_npy: '", path, "' is not a .npy file");
  const int major = static_cast<unsigned char>(b[6]);
  size_t hlen, start;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) |
           (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) fail<IOError>("load_npy: '", path, "' is truncated");
    hlen = 0;
    for (int i = 0; i < 4; ++i)
      hlen |= static_cast<size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    start = 12;
  } else {
    fail<IOError>("load_npy: '", path, "' has unsupported version ", major);
  }
  if (start + hlen > b.size()) fail<IOError>("load_npy: '", path, "' is truncated in its header");
  const std::string h = b.substr(start, hlen);
  auto field = [&](const char* key) -> std::string {
    size_t at = h.find(std::string("'") + key + "'");
    if (at == std::string::npos) fail<IOError>("load_npy: '", path, "' header lacks '", key, "'");
    at = h.find(':', at) + 1;
    while (at < h.size() && h[at] == ' ') ++at;
    size_t end = h[at] == '(' ? h.find(')', at) + 1
                              : h.find_first_of(",}", h[at] == '\'' ? h.find('\'', at + 1) : at);
    return h.substr(at, end - at);
  };
  std::string descr = field("descr"), fortran = field("fortran_order"), shape_s = field("shape");
  descr = descr.substr(1, descr.size() - 2);
  DType dt;
  if (descr == "<f4")
    dt = kFloat32;
  else if (descr == "<f8")
    dt = kFloat64;
  else if (descr == "<i4")
    dt = kInt32;
  else if (descr == "<i8")
    dt = kInt64;
  else if (descr == "|b1")
    dt = kBool;
  else
    fail<IOError>("load_npy: '", path, "' has unsupported dtype '", descr, "'");
  Shape shape;
  std::string digits;
  for (char ch : shape_s) {
    if (std::isdigit(static_cast<unsigned char>(ch)))
      digits += ch;
    else if (!digits.empty()) {
      shape.push_back(std::stoll(digits));
      digits.clear();
    }
  }
  const size_t nbytes = static_cast<size_t>(numel(shape)) * dtype_size(dt);
  if (start + hlen + nbytes > b.size())
    fail<IOError>("load_npy: '", path, "' is truncated: ", b.size() - start - hlen,
                  " data bytes for shape ", shape);
  const bool is_fortran = fortran.find("True") != std::string::npos;
  if (!is_fortran) return from_blob(b.data() + start + hlen, shape, dt);
  Shape rev(shape.rbegin(), shape.rend());
  Tensor t = from_blob(b.data() + start + hlen, rev, dt);
  Axes order;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) order.push_back(i);
  return t.permute(order).contiguous();
}

}  // namespace tg::nn
