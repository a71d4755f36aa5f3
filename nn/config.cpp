// JSON form of Config.
#include "tapegrad/nn/config.hpp"

#include <cctype>
#include <cstdio>
#include <sstream>

#include "tapegrad/core/error.hpp"

namespace tg::nn {

template <class T>
T Config::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) fail<ValueError>("Config: no value named '", key, "'");
  if (const T* p = std::get_if<T>(&it->second)) return *p;
  if constexpr (std::is_same_v<T, double>)
    if (const int64_t* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  fail<ValueError>("Config: value '", key, "' has another type");
}
template bool Config::get<bool>(const std::string&) const;
template int64_t Config::get<int64_t>(const std::string&) const;
template double Config::get<double>(const std::string&) const;
template std::string Config::get<std::string>(const std::string&) const;
template std::vector<int64_t> Config::get<std::vector<int64_t>>(const std::string&) const;

namespace {
void write_string(std::ostringstream& os, const std::string& s) {
  os << '"';
  for (char c : s) {
    if (c == '"' || c == '\\')
      os << '\\' << c;
    else if (c == '\n')
      os << "\\n";
    else
      os << c;
  }
  os << '"';
}

struct Parser {
  const std::string& s;
  size_t i = 0;
  [[noreturn]] void error(const char* what) {
    fail<IOError>("Config::from_json: ", what, " at offset ", i);
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) error("unexpected character");
  }
  std::string str() {
    ws();
    if (i >= s.size() || s[i] != '"') error("expected a string");
    ++i;
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) {
        ++i;
        out += s[i] == 'n' ? '\n' : s[i];
      } else {
        out += s[i];
      }
      ++i;
    }
    if (i >= s.size()) error("unterminated string");
    ++i;
    return out;
  }
  ConfigValue number() {
    ws();
    size_t start = i;
    bool is_float = false;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                            s[i] == '+' || s[i] == '.' || s[i] == 'e' || s[i] == 'E')) {
      if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') is_float = true;
      ++i;
    }
    if (start == i) error("expected a value");
    std::string tok = s.substr(start, i - start);
    size_t used = 0;
    ConfigValue v;
    try {
      if (is_float)
        v = std::stod(tok, &used);
      else
        v = static_cast<int64_t>(std::stoll(tok, &used));
    } catch (const std::exception&) {
      error("bad number");
    }
    if (used != tok.size()) error("bad number");  // "1-2", "1.2.3": a prefix is not the number
    return v;
  }
  ConfigValue value() {
    ws();
    if (i >= s.size()) error("unexpected end");
    if (s[i] == '"') return str();
    if (s.compare(i, 4, "true") == 0) {
      i += 4;
      return true;
    }
    if (s.compare(i, 5, "false") == 0) {
      i += 5;
      return false;
    }
    if (s[i] == '[') {
      ++i;
      std::vector<int64_t> v;
      if (eat(']')) return v;
      do {
        ConfigValue x = number();
        if (!std::holds_alternative<int64_t>(x)) error("lists hold integers only");
        v.push_back(std::get<int64_t>(x));
      } while (eat(','));
      expect(']');
      return v;
    }
    return number();
  }
};
}  // namespace

std::string Config::to_json() const {
  std::ostringstream os;
  os.precision(17);
  os << '{';
  bool first = true;
  for (const auto& [k, v] : values_) {
    if (!first) os << ", ";
    first = false;
    write_string(os, k);
    os << ": ";
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, bool>)
            os << (x ? "true" : "false");
          else if constexpr (std::is_same_v<T, std::string>)
            write_string(os, x);
          else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            os << '[';
            for (size_t j = 0; j < x.size(); ++j) os << (j ? ", " : "") << x[j];
            os << ']';
          } else if constexpr (std::is_same_v<T, double>) {
            std::ostringstream d;
            d.precision(17);
            d << x;
            std::string t = d.str();
            if (t.find_first_of(".eEn") == std::string::npos) t += ".0";
            os << t;
          } else {
            os << x;
          }
        },
        v);
  }
  os << '}';
  return os.str();
}

Config Config::from_json(const std::string& json) {
  Parser p{json};
  Config c;
  p.expect('{');
  if (p.eat('}')) return c;
  do {
    std::string k = p.str();
    p.expect(':');
    c.values_[k] = p.value();
  } while (p.eat(','));
  p.expect('}');
  return c;
}

}  // namespace tg::nn
