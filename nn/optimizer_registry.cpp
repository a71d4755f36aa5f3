// The optimizer registry: name → factory from a config.
#include "tapegrad/nn/optimizer_registry.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "tapegrad/core/error.hpp"

namespace tg::optim {

namespace {
std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::unordered_map<std::string, OptimizerFactory>& registry() {
  static std::unordered_map<std::string, OptimizerFactory> r;
  return r;
}
}  // namespace

void register_optimizer(const std::string& name, OptimizerFactory factory) {
  if (name.empty()) fail<ValueError>("register_optimizer: the name is empty");
  if (!factory) fail<ValueError>("register_optimizer: the factory of '", name, "' is empty");
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[name] = std::move(factory);
}

bool optimizer_registered(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  return registry().count(name) != 0;
}

std::vector<std::string> registered_optimizers() {
  std::vector<std::string> out;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    for (const auto& [name, f] : registry()) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::shared_ptr<Optimizer> from_config(const nn::Config& c) {
  const std::string n = c.get<std::string>("name");
  OptimizerFactory f;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(n);
    if (it != registry().end()) f = it->second;
  }
  if (!f)
    fail<IOError>("load_model: unknown optimizer '", n,
                  "' (neither built in nor registered with optim::register_optimizer)");
  std::shared_ptr<Optimizer> opt = f(c);
  if (!opt) fail<IOError>("load_model: the factory registered for '", n, "' returned no optimizer");
  return opt;
}

LearningRate learning_rate_from_config(const nn::Config& c) {
  return c.get_or<double>("learning_rate", 0.001);
}

std::optional<double> optional_from_config(const nn::Config& c, const std::string& key) {
  return c.has(key) ? std::optional<double>(c.get<double>(key)) : std::nullopt;
}

}  // namespace tg::optim
