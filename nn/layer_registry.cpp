// The layer registry: type name → factory, the default saved entry of a layer, and rebuilding a
// layer from its entry.
#include "tapegrad/nn/layer_registry.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace tg::nn {

namespace {
std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::unordered_map<std::string, EntryFactory>& registry() {
  static std::unordered_map<std::string, EntryFactory> r;
  return r;
}

void put(const std::string& type, EntryFactory f) {
  if (type.empty()) fail<ValueError>("register_layer: the type name is empty");
  if (!f) fail<ValueError>("register_layer: the factory of '", type, "' is empty");
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[type] = std::move(f);
}

std::shared_ptr<Layer> finish(std::shared_ptr<Layer> l, const Config& c, const std::string& type) {
  if (!l) fail<IOError>("load_model: the factory registered for '", type, "' returned no layer");
  if (!c.get_or<bool>("trainable", true)) l->set_trainable(false);
  return l;
}
}  // namespace

void register_layer(const std::string& type, LayerFactory factory) {
  if (!factory) fail<ValueError>("register_layer: the factory of '", type, "' is empty");
  put(type, [type, f = std::move(factory)](const Json& e) {
    const Config c = Config::from_json(e.at("config").dump());
    return finish(f(c), c, type);
  });
}

void register_layer(const std::string& type, WrapperFactory factory) {
  if (!factory) fail<ValueError>("register_layer: the factory of '", type, "' is empty");
  put(type, [type, f = std::move(factory)](const Json& e) {
    const Config c = Config::from_json(e.at("config").dump());
    std::vector<std::shared_ptr<Layer>> wrapped;
    if (e.has("layer")) wrapped.push_back(layer_from_entry(e.at("layer")));
    if (e.has("layers"))
      for (const Json& w : e.at("layers").as_array("layers"))
        wrapped.push_back(layer_from_entry(w));
    return finish(f(c, std::move(wrapped)), c, type);
  });
}

void register_layer(const std::string& type, EntryFactory factory) {
  put(type, std::move(factory));
}

bool layer_registered(const std::string& type) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  return registry().count(type) != 0;
}

std::vector<std::string> registered_layers() {
  std::vector<std::string> out;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    for (const auto& [type, f] : registry()) out.push_back(type);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Json default_layer_entry(const Layer& l) {
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
  const std::vector<std::shared_ptr<Layer>> wrapped = l.wrapped_layers();
  if (wrapped.size() == 1) {
    e["layer"] = wrapped[0]->saved_entry();
  } else if (!wrapped.empty()) {
    Json::Array entries;
    for (const auto& w : wrapped) entries.push_back(w->saved_entry());
    e["layers"] = entries;
  }
  return e;
}

Json Layer::saved_entry() const { return default_layer_entry(*this); }

std::shared_ptr<Layer> layer_from_entry(const Json& e) {
  const std::string& type = e.at("class").as_string("class");
  EntryFactory f;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(type);
    if (it != registry().end()) f = it->second;  // copied: factories recurse into this function
  }
  if (!f) {
    std::string name;
    if (e.has("config") && e.at("config").has("name"))
      name = e.at("config").at("name").as_string("name");
    else if (e.has("name"))
      name = e.at("name").as_string("name");
    fail<IOError>("load_model: layer '", name, "' has type '", type,
                  "', which is neither built in nor registered with nn::register_layer");
  }
  return f(e);
}

Shape shape_from_config(const Config& c, const std::string& key) {
  return Shape(c.list_or_empty(key));
}

std::string initializer_from_config(const Config& c, const std::string& key,
                                    const std::string& fallback) {
  std::string n = c.get_or<std::string>(key, fallback);
  return n == "custom" ? fallback : n;
}

ActivationFn activation_from_config(const Config& c, const std::string& layer) {
  std::string a = c.get_or<std::string>("activation", "linear");
  if (a == "custom")
    fail<IOError>("load_model: layer '", layer,
                  "' used a custom activation function, which a file cannot hold; "
                  "rebuild the model in code and use load_weights");
  return ActivationFn(a);
}

DType dtype_from_name(const std::string& n, const char* who) {
  for (DType t : {kFloat32, kFloat64, kInt32, kInt64, kBool})
    if (dtype_name(t) == n) return t;
  fail<IOError>(who, ": unknown dtype '", n, "'");
}

}  // namespace tg::nn
