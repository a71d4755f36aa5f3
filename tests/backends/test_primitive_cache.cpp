// The CPU backend's oneDNN primitive cache: a repeated shape reuses its primitive, a new one
// builds exactly one.
#include "tapegrad/backends/cpu/cpu_backend.hpp"
#include "test_util.hpp"

using namespace tg;

namespace {
struct Delta {
  int64_t created, hits, size;
};
/// Counter changes made by f.
template <class F>
Delta delta(F f) {
  PrimitiveCacheStats a = cpu_primitive_cache_stats();
  f();
  PrimitiveCacheStats b = cpu_primitive_cache_stats();
  return {static_cast<int64_t>(b.created - a.created), static_cast<int64_t>(b.hits - a.hits),
          static_cast<int64_t>(b.size) - static_cast<int64_t>(a.size)};
}
}  // namespace

// Shapes below are unusual on purpose, so that no other test in this executable has built them.

TEST_CASE("matmul: same shapes reuse the primitive, a new shape creates one", "[primitive_cache]") {
  Tensor a = uniform({67, 71}, -1, 1, 1), b = uniform({71, 73}, -1, 1, 2);
  Tensor y1, y2;
  Delta first = delta([&] { y1 = matmul(a, b); });
  CHECK(first.created == 1);
  CHECK(first.size == 1);
  Delta second = delta([&] {
    y2 = matmul(uniform({67, 71}, -1, 1, 3), uniform({71, 73}, -1, 1, 4));
  });
  CHECK(second.created == 0);
  CHECK(second.hits == 1);
  CHECK(second.size == 0);
  // The cached primitive computes with the new data, not the old.
  Tensor r;
  {
    UseReferenceBackend ref;
    r = matmul(uniform({67, 71}, -1, 1, 3), uniform({71, 73}, -1, 1, 4));
  }
  TG_CHECK_VALUES(y2, test::values(r), 1e-4, 1e-4);
  // A new shape builds a new primitive; the old shape still hits.
  Delta third = delta([&] { matmul(uniform({67, 71}, -1, 1, 5), uniform({71, 74}, -1, 1, 6)); });
  CHECK(third.created == 1);
  CHECK(third.hits == 0);
  Delta fourth = delta([&] { matmul(a, b); });
  CHECK(fourth.created == 0);
  CHECK(fourth.hits == 1);
  // Other strides (a transposed operand) are another descriptor.
  Tensor at = uniform({71, 67}, -1, 1, 7).t();
  Delta strided = delta([&] { matmul(at, b); });
  CHECK(strided.created == 1);
  Delta strided_again = delta([&] { matmul(at, b); });
  CHECK(strided_again.created == 0);
  CHECK(strided_again.hits == 1);
}

TEST_CASE("binary: same shapes reuse the primitive, a new shape creates one", "[primitive_cache]") {
  Tensor a = uniform({131, 137}, -1, 1, 1), b = uniform({131, 137}, -1, 1, 2);  // 17947 elements
  Delta first = delta([&] { add(a, b); });
  CHECK(first.created == 1);
  Delta second = delta([&] { add(b, a); });
  CHECK(second.created == 0);
  CHECK(second.hits == 1);
  Delta other_op = delta([&] { mul(a, b); });
  CHECK(other_op.created == 1);
  // A column broadcast (a row broadcast over a short row runs in the backend's own loop).
  Delta bcast = delta([&] { add(a, uniform({131, 1}, -1, 1, 3)); });
  CHECK(bcast.created == 1);
  Delta bcast_again = delta([&] { add(a, uniform({131, 1}, -1, 1, 4)); });
  CHECK(bcast_again.created == 0);
  CHECK(bcast_again.hits == 1);
  Delta new_shape = delta([&] {
    add(uniform({131, 138}, -1, 1, 5), uniform({131, 138}, -1, 1, 6));
  });
  CHECK(new_shape.created == 1);
}

TEST_CASE("softmax: same shapes reuse the primitive, a new shape or axis creates one",
          "[primitive_cache]") {
  Tensor x = uniform({37, 41}, -1, 1, 1);  // 1517 elements ≥ 1024
  Delta first = delta([&] { softmax(x); });
  CHECK(first.created == 1);
  Delta second = delta([&] { softmax(uniform({37, 41}, -1, 1, 2)); });
  CHECK(second.created == 0);
  CHECK(second.hits == 1);
  Delta axis0 = delta([&] { softmax(x, 0); });
  CHECK(axis0.created == 1);
  Delta log_sm = delta([&] { log_softmax(x); });
  CHECK(log_sm.created == 1);
  Delta log_again = delta([&] { log_softmax(x); });
  CHECK(log_again.created == 0);
  CHECK(log_again.hits == 1);
  Delta new_shape = delta([&] { softmax(uniform({37, 42}, -1, 1, 3)); });
  CHECK(new_shape.created == 1);
}

TEST_CASE("eltwise and reduction primitives are cached too", "[primitive_cache]") {
  Tensor x = uniform({16411}, 0.5, 1.5, 1);  // above the 4096-element threshold
  Delta e1 = delta([&] { exp(x); });
  CHECK(e1.created == 1);
  Delta e2 = delta([&] { exp(uniform({16411}, 0.5, 1.5, 2)); });
  CHECK(e2.created == 0);
  CHECK(e2.hits == 1);
  // Same algorithm, other parameter: a new primitive.
  Delta l1 = delta([&] { leaky_relu(x, 0.1); });
  Delta l2 = delta([&] { leaky_relu(x, 0.3); });
  CHECK(l1.created == 1);
  CHECK(l2.created == 1);
  // (Sums over a leading or trailing block of axes use plain loops; max goes to oneDNN.)
  Tensor m = x.reshape({1, 16411});
  Delta r1 = delta([&] { max(m, {1}); });
  CHECK(r1.created == 1);
  Delta r2 = delta([&] { max(m, {1}); });
  CHECK(r2.created == 0);
  CHECK(r2.hits == 1);
}

TEST_CASE("a training-style loop of repeated steps creates no primitive after the first step",
          "[primitive_cache]") {
  Tensor w = uniform({96, 112}, -0.1, 0.1, 1).requires_grad_();
  Tensor x = uniform({160, 96}, -1, 1, 2);
  auto step = [&] {
    Tensor h = softmax(tanh(matmul(x, w)));
    Tensor loss = mean(mul(h, h));
    w.zero_grad();
    loss.backward();
    return loss.item<double>();
  };
  step();
  Delta later = delta([&] {
    for (int i = 0; i < 3; ++i) step();
  });
  CHECK(later.created == 0);
  CHECK(later.hits >= 3 * 4);  // at least matmul, tanh, softmax and the backward matmul per step
  CHECK(later.size == 0);
}
