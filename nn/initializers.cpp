// Keras initializers over the seeded random functions.
#include "tapegrad/nn/initializers.hpp"

#include <cmath>
#include <vector>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg::nn {

std::pair<double, double> compute_fans(const Shape& s) {
  if (s.empty()) return {1.0, 1.0};
  if (s.size() == 1) return {static_cast<double>(s[0]), static_cast<double>(s[0])};
  if (s.size() == 2) return {static_cast<double>(s[0]), static_cast<double>(s[1])};
  double receptive = 1;
  for (size_t i = 0; i + 2 < s.size(); ++i) receptive *= static_cast<double>(s[i]);
  return {receptive * static_cast<double>(s[s.size() - 2]),
          receptive * static_cast<double>(s.back())};
}

namespace initializers {
namespace {
Tensor draw_uniform(const Shape& s, double lo, double hi, std::optional<uint64_t> seed, DType dt) {
  return seed ? uniform(s, lo, hi, *seed, {.dtype = dt}) : uniform(s, lo, hi, {.dtype = dt});
}
Tensor draw_normal(const Shape& s, double mean, double sd, std::optional<uint64_t> seed, DType dt) {
  return seed ? normal(s, mean, sd, *seed, {.dtype = dt}) : normal(s, mean, sd, {.dtype = dt});
}
/// Normal redrawn outside ±2 stddev (as tf.random.truncated_normal).
Tensor draw_truncated(const Shape& s, double mean, double sd, std::optional<uint64_t> seed,
                      DType dt) {
  NoGrad ng;
  Tensor z = draw_normal(s, 0.0, 1.0, seed, kFloat64);
  uint64_t round = 1;
  while (true) {
    Tensor bad = gt(abs(z), 2.0);
    if (sum(bad).item<int64_t>() == 0) break;
    Tensor fresh = seed ? normal(s, 0.0, 1.0, *seed + 0x9E37 * round, {.dtype = kFloat64})
                        : normal(s, 0.0, 1.0, {.dtype = kFloat64});
    z = where(bad, fresh, z);
    ++round;
  }
  return add(mul(z, sd), mean).to(dt);
}
double fan_avg(const Shape& s) {
  auto [i, o] = compute_fans(s);
  return (i + o) / 2.0;
}
double fan_in(const Shape& s) { return compute_fans(s).first; }
}  // namespace

Initializer glorot_uniform(std::optional<uint64_t> seed) {
  return [seed](const Shape& s, DType dt) {
    double limit = std::sqrt(3.0 / fan_avg(s));
    return draw_uniform(s, -limit, limit, seed, dt);
  };
}
Initializer glorot_normal(std::optional<uint64_t> seed) {
  // Keras' variance scaling corrects the truncation with 0.87962566103423978.
  return [seed](const Shape& s, DType dt) {
    return draw_truncated(s, 0.0, std::sqrt(1.0 / fan_avg(s)) / 0.87962566103423978, seed, dt);
  };
}
Initializer he_uniform(std::optional<uint64_t> seed) {
  return [seed](const Shape& s, DType dt) {
    double limit = std::sqrt(6.0 / fan_in(s));
    return draw_uniform(s, -limit, limit, seed, dt);
  };
}
Initializer he_normal(std::optional<uint64_t> seed) {
  return [seed](const Shape& s, DType dt) {
    return draw_truncated(s, 0.0, std::sqrt(2.0 / fan_in(s)) / 0.87962566103423978, seed, dt);
  };
}
Initializer lecun_uniform(std::optional<uint64_t> seed) {
  return [seed](const Shape& s, DType dt) {
    double limit = std::sqrt(3.0 / fan_in(s));
    return draw_uniform(s, -limit, limit, seed, dt);
  };
}
Initializer lecun_normal(std::optional<uint64_t> seed) {
  return [seed](const Shape& s, DType dt) {
    return draw_truncated(s, 0.0, std::sqrt(1.0 / fan_in(s)) / 0.87962566103423978, seed, dt);
  };
}
Initializer orthogonal(double gain, std::optional<uint64_t> seed) {
  return [gain, seed](const Shape& s, DType dt) {
    if (s.size() < 2) fail<ShapeError>("orthogonal: needs a shape of rank ≥ 2, got ", s);
    // Nothing to orthogonalise in an empty shape; a symbolic (meta) call needs no values.
    if (numel(s) == 0 || in_meta_scope()) return zeros(s, {.dtype = dt});
    int64_t cols = s.back(), rows = numel(s) / cols;
    // QR of an (max × min) normal matrix by modified Gram-Schmidt in float64.
    const int64_t n = std::max(rows, cols), m = std::min(rows, cols);
    std::vector<double> a = draw_normal({n, m}, 0.0, 1.0, seed, kFloat64).to_vector<double>();
    for (int64_t j = 0; j < m; ++j) {
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < n; ++i) dot += a[i * m + j] * a[i * m + k];
        for (int64_t i = 0; i < n; ++i) a[i * m + j] -= dot * a[i * m + k];
      }
      double norm = 0;
      for (int64_t i = 0; i < n; ++i) norm += a[i * m + j] * a[i * m + j];
      norm = std::sqrt(norm);
      for (int64_t i = 0; i < n; ++i) a[i * m + j] /= norm;
    }
    Tensor q = tensor(a, {n, m});
    if (rows < cols) q = q.t();
    NoGrad ng;
    return mul(q.contiguous().reshape(s), gain).to(dt);
  };
}
Initializer random_uniform(double lo, double hi, std::optional<uint64_t> seed) {
  return [=](const Shape& s, DType dt) { return draw_uniform(s, lo, hi, seed, dt); };
}
Initializer random_normal(double mean, double sd, std::optional<uint64_t> seed) {
  return [=](const Shape& s, DType dt) { return draw_normal(s, mean, sd, seed, dt); };
}
Initializer truncated_normal(double mean, double sd, std::optional<uint64_t> seed) {
  return [=](const Shape& s, DType dt) { return draw_truncated(s, mean, sd, seed, dt); };
}
Initializer zeros() {
  return [](const Shape& s, DType dt) { return tg::zeros(s, {.dtype = dt}); };
}
Initializer ones() {
  return [](const Shape& s, DType dt) { return tg::ones(s, {.dtype = dt}); };
}
Initializer constant(double v) {
  return [v](const Shape& s, DType dt) { return full(s, v, {.dtype = dt}); };
}
}  // namespace initializers

Initializer get_initializer(const std::string& name) {
  using namespace initializers;
  if (name == "glorot_uniform") return glorot_uniform();
  if (name == "glorot_normal") return glorot_normal();
  if (name == "he_uniform") return he_uniform();
  if (name == "he_normal") return he_normal();
  if (name == "lecun_uniform") return lecun_uniform();
  if (name == "lecun_normal") return lecun_normal();
  if (name == "orthogonal") return orthogonal();
  if (name == "random_uniform") return random_uniform();
  if (name == "random_normal") return random_normal();
  if (name == "truncated_normal") return truncated_normal();
  if (name == "zeros") return initializers::zeros();
  if (name == "ones") return initializers::ones();
  fail<ValueError>("get_initializer: unknown initializer '", name, "'");
}

}  // namespace tg::nn
