// The global seeded generator and the random creation functions.
#include <atomic>
#include <mutex>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/registry.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg {

namespace {
struct Generator {
  std::mutex mu;
  uint64_t seed = 0x5eed;
  uint64_t offset = 0;
  /// Reserves n counters of the stream; returns (seed, first counter).
  std::pair<uint64_t, uint64_t> take(uint64_t n) {
    std::lock_guard<std::mutex> lock(mu);
    uint64_t o = offset;
    offset += n;
    return {seed, o};
  }
};
Generator& global() {
  static Generator g;
  return g;
}

Tensor make_random(const Shape& shape, Distribution dist, double a, double b, uint64_t seed,
                   uint64_t offset, const TensorOptions& opts) {
  if (!is_floating(opts.dtype))
    fail<DTypeError>(dist == Distribution::Uniform ? "uniform" : "normal",
                     ": needs a floating dtype, got ", opts.dtype);
  Tensor t = Tensor::empty(shape, opts.dtype, opts.device,
                           dist == Distribution::Uniform ? "uniform" : "normal");
  backend_for(opts.device).random(t, dist, a, b, seed, offset);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(global().mu);
  global().seed = seed;
  global().offset = 0;
}

Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts) {
  if (!(low < high)) fail<ValueError>("uniform: need low < high, got [", low, ", ", high, ")");
  auto [seed, off] = global().take(static_cast<uint64_t>(checked_numel("uniform", shape)));
  return make_random(shape, Distribution::Uniform, low, high, seed, off, opts);
}
Tensor uniform(const Shape& shape, double low, double high, uint64_t seed, TensorOptions opts) {
  if (!(low < high)) fail<ValueError>("uniform: need low < high, got [", low, ", ", high, ")");
  return make_random(shape, Distribution::Uniform, low, high, seed, 0, opts);
}
Tensor normal(const Shape& shape, double mean, double stddev, TensorOptions opts) {
  if (stddev < 0) fail<ValueError>("normal: negative stddev ", stddev);
  auto [seed, off] = global().take(static_cast<uint64_t>(checked_numel("normal", shape)));
  return make_random(shape, Distribution::Normal, mean, stddev, seed, off, opts);
}
Tensor normal(const Shape& shape, double mean, double stddev, uint64_t seed, TensorOptions opts) {
  if (stddev < 0) fail<ValueError>("normal: negative stddev ", stddev);
  return make_random(shape, Distribution::Normal, mean, stddev, seed, 0, opts);
}
Tensor rand(const Shape& shape, TensorOptions opts) { return uniform(shape, 0.0, 1.0, opts); }
Tensor randn(const Shape& shape, TensorOptions opts) { return normal(shape, 0.0, 1.0, opts); }

}  // namespace tg
