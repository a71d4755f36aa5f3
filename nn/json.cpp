// JSON parsing and printing.
#include "tapegrad/nn/json.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tapegrad/core/error.hpp"

namespace tg::nn {

bool Json::as_bool(const char* what) const {
  if (auto p = std::get_if<bool>(&v_)) return *p;
  fail<IOError>("json: ", what, " is not a boolean");
}
double Json::as_number(const char* what) const {
  if (auto p = std::get_if<double>(&v_)) return *p;
  fail<IOError>("json: ", what, " is not a number");
}
int64_t Json::as_int(const char* what) const {
  double d = as_number(what);
  if (d != std::floor(d)) fail<IOError>("json: ", what, " is not an integer: ", d);
  // Doubles at or beyond 2^63 have no int64 (the cast would be undefined).
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
    fail<IOError>("json: ", what, " is out of the int64 range: ", d);
  return static_cast<int64_t>(d);
}
const std::string& Json::as_string(const char* what) const {
  if (auto p = std::get_if<std::string>(&v_)) return *p;
  fail<IOError>("json: ", what, " is not a string");
}
const Json::Array& Json::as_array(const char* what) const {
  if (auto p = std::get_if<std::shared_ptr<Array>>(&v_)) return **p;
  fail<IOError>("json: ", what, " is not an array");
}
const Json::Object& Json::as_object(const char* what) const {
  if (auto p = std::get_if<std::shared_ptr<Object>>(&v_)) return **p;
  fail<IOError>("json: ", what, " is not an object");
}
bool Json::has(const std::string& key) const { return is_object() && as_object().count(key); }
const Json& Json::at(const std::string& key) const {
  const Object& o = as_object(key.c_str());
  auto it = o.find(key);
  if (it == o.end()) fail<IOError>("json: missing key '", key, "'");
  return it->second;
}

namespace {
void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}
}  // namespace

std::string Json::dump() const {
  std::string out;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>)
          out += "null";
        else if constexpr (std::is_same_v<T, bool>)
          out += x ? "true" : "false";
        else if constexpr (std::is_same_v<T, double>) {
          char buf[40];
          if (x == std::floor(x) && std::abs(x) < 1e15)
            std::snprintf(buf, sizeof buf, "%.0f", x);
          else
            std::snprintf(buf, sizeof buf, "%.17g", x);
          out += buf;
        } else if constexpr (std::is_same_v<T, std::string>)
          dump_string(out, x);
        else if constexpr (std::is_same_v<T, std::shared_ptr<Array>>) {
          out += '[';
          for (size_t i = 0; i < x->size(); ++i) out += (i ? "," : "") + (*x)[i].dump();
          out += ']';
        } else {
          out += '{';
          bool first = true;
          for (const auto& [k, v] : *x) {
            if (!first) out += ',';
            first = false;
            dump_string(out, k);
            out += ':';
            out += v.dump();
          }
          out += '}';
        }
      },
      v_);
  return out;
}

namespace {
struct Parser {
  const std::string& s;
  size_t i = 0;
  int depth = 0;
  [[noreturn]] void error(const char* what) { fail<IOError>("json: ", what, " at offset ", i); }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  Json value() {
    ws();
    if (i >= s.size()) error("unexpected end of text");
    if (++depth > 200) error("nesting too deep");
    Json r;
    const char c = s[i];
    if (c == '{') {
      ++i;
      Json::Object o;
      ws();
      if (i < s.size() && s[i] == '}') {
        ++i;
        r = Json(std::move(o));
      } else {
        while (true) {
          ws();
          std::string k = string();
          ws();
          if (i >= s.size() || s[i] != ':') error("expected ':'");
          ++i;
          o[k] = value();
          ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == '}') {
            ++i;
            break;
          }
          error("expected ',' or '}'");
        }
        r = Json(std::move(o));
      }
    } else if (c == '[') {
      ++i;
      Json::Array a;
      ws();
      if (i < s.size() && s[i] == ']') {
        ++i;
      } else {
        while (true) {
          a.push_back(value());
          ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == ']') {
            ++i;
            break;
          }
          error("expected ',' or ']'");
        }
      }
      r = Json(std::move(a));
    } else if (c == '"') {
      r = Json(string());
    } else if (s.compare(i, 4, "true") == 0) {
      i += 4;
      r = Json(true);
    } else if (s.compare(i, 5, "false") == 0) {
      i += 5;
      r = Json(false);
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
      r = Json();
    } else
      r = Json(number());
    --depth;
    return r;
  }
  /// Four hex digits of a \u escape.
  uint32_t hex4() {
    if (i + 4 > s.size()) error("bad \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s[i++];
      const int d = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
      if (d < 0) error("bad hex digit in a \\u escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }
  /// Appends code point cp as UTF-8.
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::string string() {
    if (i >= s.size() || s[i] != '"') error("expected a string");
    ++i;
    std::string out;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) error("bad escape");
      switch (const char e = s[i++]) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate: its low half must follow
            if (s.compare(i, 2, "\\u") != 0) error("unpaired surrogate in a \\u escape");
            i += 2;
            const uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) error("unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            error("unpaired surrogate in a \\u escape");
          }
          utf8(out, cp);
          break;
        }
        default:
          error("bad escape");
      }
    }
    if (i >= s.size()) error("unterminated string");
    ++i;
    return out;
  }
  /// A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, finite.
  double number() {
    const size_t start = i;
    auto digits = [&] {
      const size_t from = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      return i - from;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (digits() == 0) {
      i = start;
      error("unexpected character");
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      if (digits() == 0) error("bad number");
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      if (digits() == 0) error("bad number");
    }
    double v = 0;
    const auto r = std::from_chars(s.data() + start, s.data() + i, v);
    if (r.ec != std::errc() || r.ptr != s.data() + i || !std::isfinite(v)) error("bad number");
    return v;
  }
};
}  // namespace

Json Json::parse(const std::string& text) {
  Parser p{text};
  Json v = p.value();
  p.ws();
  if (p.i != text.size()) p.error("trailing characters");
  return v;
}

}  // namespace tg::nn
