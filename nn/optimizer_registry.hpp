// The optimizer registry: each optimizer registers a factory from its config under its name, so
// that load_model rebuilds any optimizer (built-in or user-written) from a file.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/nn/config.hpp"
#include "tapegrad/nn/optimizer.hpp"

namespace tg::optim {

/// Makes an optimizer from its saved config (what its config() wrote: "name" and its settings).
using OptimizerFactory = std::function<std::shared_ptr<Optimizer>(const nn::Config&)>;

/// Registers an optimizer under name (its name(), as config() writes it under "name");
/// registering a name again replaces its factory.
void register_optimizer(const std::string& name, OptimizerFactory factory);
/// Whether a factory is registered for name.
bool optimizer_registered(const std::string& name);
/// Every registered name, sorted.
std::vector<std::string> registered_optimizers();
/// Rebuilds an optimizer (without state) from a config written by its config(), through the
/// factory registered for its "name". Throws IOError naming the optimizer when none is.
std::shared_ptr<Optimizer> from_config(const nn::Config& config);

// ---- helpers for factories ----
/// "learning_rate" (0.001 when absent; a schedule is saved as its current value).
LearningRate learning_rate_from_config(const nn::Config& c);
/// The number under key, or nullopt when absent (clipnorm, clipvalue, global_clipnorm).
std::optional<double> optional_from_config(const nn::Config& c, const std::string& key);

/// Registers an optimizer at static-initialisation time (see TG_REGISTER_OPTIMIZER).
struct OptimizerRegistrar {
  OptimizerRegistrar(const char* name, OptimizerFactory factory) {
    register_optimizer(name, std::move(factory));
  }
};

}  // namespace tg::optim

#define TG_OPTIMIZER_CONCAT_INNER_(a, b) a##b
#define TG_OPTIMIZER_CONCAT_(a, b) TG_OPTIMIZER_CONCAT_INNER_(a, b)
/// Registers optimizer `name` with a factory (const nn::Config&) → shared_ptr<Optimizer>; write
/// it at namespace scope in the .cpp that defines the optimizer (the macro is variadic, so a
/// lambda with commas is fine).
#define TG_REGISTER_OPTIMIZER(name, ...)                                                          \
  static const ::tg::optim::OptimizerRegistrar TG_OPTIMIZER_CONCAT_(tg_opt_registrar_, __LINE__)( \
      name, __VA_ARGS__)
