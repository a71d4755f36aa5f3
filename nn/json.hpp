// A small JSON value with parsing and printing, for model files and configs.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace tg::nn {

/// A JSON value: null, bool, number, string, array or object.
class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::map<std::string, Json>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(double d) : v_(d) {}
  Json(int v) : v_(static_cast<double>(v)) {}
  Json(int64_t v) : v_(static_cast<double>(v)) {}
  Json(size_t v) : v_(static_cast<double>(v)) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(Array a) : v_(std::make_shared<Array>(std::move(a))) {}
  Json(Object o) : v_(std::make_shared<Object>(std::move(o))) {}

  bool is_null() const { return v_.index() == 0; }
  bool is_number() const { return std::holds_alternative<double>(v_); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_array() const { return std::holds_alternative<std::shared_ptr<Array>>(v_); }
  bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(v_); }
  /// Typed access; each throws IOError naming `what` when the value has another type.
  bool as_bool(const char* what = "value") const;
  double as_number(const char* what = "value") const;
  int64_t as_int(const char* what = "value") const;
  const std::string& as_string(const char* what = "value") const;
  const Array& as_array(const char* what = "value") const;
  const Object& as_object(const char* what = "value") const;
  /// Member key of an object (IOError when missing).
  const Json& at(const std::string& key) const;
  bool has(const std::string& key) const;

  /// Compact JSON text.
  std::string dump() const;
  /// Parses JSON text; throws IOError with the offset of the problem.
  static Json parse(const std::string& text);

 private:
  std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v_;
};

}  // namespace tg::nn
