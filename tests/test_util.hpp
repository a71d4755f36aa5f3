// Helpers shared by the tests: value comparison and gradcheck assertions.
#pragma once
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace tg::test {

/// Elementwise |a - b| <= atol + rtol·|b|; on failure returns a message naming the element.
inline std::string compare_values(const std::vector<double>& a, const std::vector<double>& b,
                                  double atol, double rtol) {
  if (a.size() != b.size())
    return "sizes differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const bool both_nan = std::isnan(a[i]) && std::isnan(b[i]);
    const bool same_inf = std::isinf(a[i]) && a[i] == b[i];
    if (both_nan || same_inf) continue;
    if (!(std::abs(a[i] - b[i]) <= atol + rtol * std::abs(b[i])))
      return "element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs expected " +
             std::to_string(b[i]);
  }
  return "";
}

/// Values of t as doubles (any dtype, any device).
inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

/// A float32 tensor holding the values v with shape s.
inline Tensor f32(const std::vector<double>& v, const Shape& s) {
  return tensor(v, s, {.dtype = kFloat32});
}

/// Overwrites a weight's values (under NoGrad, as an optimizer does).
inline void set_values(const Tensor& w, const std::vector<double>& v) {
  NoGrad ng;
  Tensor dst = w;
  dst.copy_(tensor(v, w.shape(), {.dtype = kFloat64}));
}

/// The message of the exception of type E thrown by f ("<no exception>" if none).
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

/// Everything f writes to stdout (fd 1), which is a plain file meanwhile (not a terminal).
inline std::string capture_stdout(const std::function<void()>& f) {
  std::cout.flush();
  std::fflush(stdout);
  std::FILE* tmp = std::tmpfile();
  const int saved = dup(1);
  dup2(fileno(tmp), 1);
  try {
    f();
  } catch (...) {
    std::fflush(stdout);
    dup2(saved, 1);
    close(saved);
    std::fclose(tmp);
    throw;
  }
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

/// A fresh, empty temporary folder unique to this process: <tmp>/tg_<prefix>_<pid>_<name>.
inline std::filesystem::path temp_dir(const std::string& prefix, const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("tg_" + prefix + "_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

/// The whole file p as bytes.
inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
/// Writes bytes b to p, replacing the file.
inline void write_bytes(const std::filesystem::path& p, const std::string& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
}

}  // namespace tg::test

/// Checks that tensor T holds the values V (a std::vector<double>) within tolerances.
#define TG_CHECK_VALUES(T, V, ATOL, RTOL)                                                         \
  do {                                                                                            \
    std::string tg_msg_ = ::tg::test::compare_values(::tg::test::values(T), (V), (ATOL), (RTOL)); \
    INFO(tg_msg_);                                                                                \
    CHECK(tg_msg_.empty());                                                                       \
  } while (0)

/// Requires a passing tg::autograd::gradcheck (or gradgradcheck) result, printing its message.
#define TG_REQUIRE_GRADCHECK(RESULT) \
  do {                               \
    auto tg_res_ = (RESULT);         \
    INFO(tg_res_.message);           \
    REQUIRE(tg_res_.ok);             \
  } while (0)
