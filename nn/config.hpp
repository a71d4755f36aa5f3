// Layer and model configurations: the constructor arguments, written out and read back as JSON.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace tg::nn {

/// One configuration value.
using ConfigValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>>;

/// Named constructor arguments of a layer, optimizer or model (ordered by name).
class Config {
 public:
  void set(const std::string& key, ConfigValue v) { values_[key] = std::move(v); }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  /// The value under key as T; throws ValueError when missing or of another type.
  template <class T>
  T get(const std::string& key) const;
  /// The integer list under key (a shape, e.g. "input_shape"), or an empty list when missing.
  std::vector<int64_t> list_or_empty(const std::string& key) const {
    return has(key) ? get<std::vector<int64_t>>(key) : std::vector<int64_t>{};
  }
  /// The value under key, or fallback when missing.
  template <class T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }
  const std::map<std::string, ConfigValue>& values() const { return values_; }
  /// A JSON object.
  std::string to_json() const;
  /// Parses what to_json wrote; throws IOError naming the problem.
  static Config from_json(const std::string& json);
  friend bool operator==(const Config&, const Config&) = default;

 private:
  std::map<std::string, ConfigValue> values_;
};

}  // namespace tg::nn
