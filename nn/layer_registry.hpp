// The layer registry: each layer type registers a factory next to its definition, so that
// load_model rebuilds any layer (built-in, user-written, wrapper or model) from its entry.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/core/error.hpp"
#include "tapegrad/nn/activations.hpp"
#include "tapegrad/nn/config.hpp"
#include "tapegrad/nn/json.hpp"
#include "tapegrad/nn/layer.hpp"

namespace tg::nn {

/// Makes a layer from its saved config: the inverse of its config() (a plain layer).
using LayerFactory = std::function<std::shared_ptr<Layer>(const Config&)>;
/// Makes a wrapper layer from its config and the layers it wraps (its wrapped_layers(), already
/// rebuilt from the entries nested in its own).
using WrapperFactory =
    std::function<std::shared_ptr<Layer>(const Config&, std::vector<std::shared_ptr<Layer>>)>;
/// Makes a layer from its whole saved entry (what its saved_entry() wrote: models, whose graph
/// is not a flat config).
using EntryFactory = std::function<std::shared_ptr<Layer>(const Json& entry)>;

/// Registers a layer type (a user-written layer too) so load_model can rebuild it; the
/// "trainable" flag of the config is applied after the factory. Registering a type again
/// replaces its factory.
void register_layer(const std::string& type, LayerFactory factory);
/// Registers a wrapper type (a layer whose wrapped_layers() is not empty).
void register_layer(const std::string& type, WrapperFactory factory);
/// Registers a type whose saved_entry() writes more than config and wrapped layers.
void register_layer(const std::string& type, EntryFactory factory);
/// Whether a factory is registered for type.
bool layer_registered(const std::string& type);
/// Every registered type, sorted.
std::vector<std::string> registered_layers();

/// The default saved entry of a layer: {"class": type, "config": config, "layer": the entry of
/// its one wrapped layer, or "layers": the entries of several}. Refuses (IOError) a config that
/// names a custom activation or regularizer, which a file cannot hold.
Json default_layer_entry(const Layer& layer);
/// Rebuilds a layer from its entry through the factory registered for its "class". Throws
/// IOError naming the layer and its type when nothing is registered for that type.
std::shared_ptr<Layer> layer_from_entry(const Json& entry);

// ---- helpers for factories ----
/// A shape stored under key (empty when absent), e.g. "input_shape".
Shape shape_from_config(const Config& c, const std::string& key);
/// The initializer name under key, or fallback when absent or "custom" (a user initializer: the
/// saved weights replace the values it would make).
std::string initializer_from_config(const Config& c, const std::string& key,
                                    const std::string& fallback);
/// The activation under "activation" (linear when absent); "custom" throws IOError naming layer.
ActivationFn activation_from_config(const Config& c, const std::string& layer);
/// The dtype named name ("float32", as dtype_name writes it); IOError naming who otherwise.
DType dtype_from_name(const std::string& name, const char* who);

/// Registers a layer type at static-initialisation time (see TG_REGISTER_LAYER).
struct LayerRegistrar {
  LayerRegistrar(const char* type, LayerFactory factory) {
    register_layer(type, std::move(factory));
  }
  LayerRegistrar(const char* type, WrapperFactory factory) {
    register_layer(type, std::move(factory));
  }
  LayerRegistrar(const char* type, EntryFactory factory) {
    register_layer(type, std::move(factory));
  }
};

}  // namespace tg::nn

#define TG_LAYER_CONCAT_INNER_(a, b) a##b
#define TG_LAYER_CONCAT_(a, b) TG_LAYER_CONCAT_INNER_(a, b)
/// Registers layer type `type` (its type() string) with `factory`: a LayerFactory (const
/// Config&), a WrapperFactory (const Config&, wrapped layers) or an EntryFactory (const Json&).
/// Write it at namespace scope in the .cpp that defines the layer's constructor: in a static
/// library, the linker keeps the registrar only with code of its file that the program uses.
/// In a program, writing it next to the layer's definition in the program's own sources is
/// enough (object files are always linked).
/// The factory may be a lambda (the macro is variadic, so commas inside it are fine).
#define TG_REGISTER_LAYER(type, ...)                                                     \
  static const ::tg::nn::LayerRegistrar TG_LAYER_CONCAT_(tg_layer_registrar_, __LINE__)( \
      type, __VA_ARGS__)
