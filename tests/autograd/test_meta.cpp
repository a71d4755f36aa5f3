// The shape-only path: inside a MetaScope every op runs its checks and shape rule and nothing
// else. The walk over op_cases.hpp runs every registered op's entries for real and under a
// MetaScope and compares output (and gradient) shapes and dtypes, with the CPU allocator's
// counters standing still during the meta run: no kernel wrote memory because none was
// allocated, and in-place writes to real tensors leave them as they were.
#include <cmath>

#include "autograd/op_cases.hpp"
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using tg::test::OpCase;

namespace {
/// Allocator counters that any allocation or cache reuse moves.
struct Counters {
  size_t allocated;
  uint64_t device_allocs, cache_hits;
  static Counters now() {
    AllocatorStats s = allocator_stats(Device::cpu());
    return {s.allocated_bytes, s.device_allocs, s.cache_hits};
  }
  bool operator==(const Counters&) const = default;
};

/// Shapes of the gradients that sum(fn(xs)) gives the floating inputs.
std::vector<Shape> grad_shapes(std::vector<Tensor>& xs, const Tensor& y) {
  std::vector<Shape> out;
  sum(y.to(kFloat64)).backward();
  for (size_t i : test::floating_inputs(xs))
    out.push_back(xs[i].grad().defined() ? xs[i].grad().shape() : Shape{-1});
  return out;
}
}  // namespace

TEST_CASE("every op entry gives the same shapes and dtypes in a MetaScope, allocating nothing",
          "[meta]") {
  const auto& cases = test::op_cases();
  int checked = 0, with_grads = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    INFO("case: " << c.name);
    const std::vector<Tensor> real_in = test::make_inputs(c, kFloat64, k);
    std::vector<Tensor> xs = real_in;
    Tensor y_real;
    REQUIRE_NOTHROW(y_real = c.fn(xs));

    std::vector<Tensor> ms;
    for (const Tensor& x : real_in) ms.push_back(x.clone());
    const Counters before = Counters::now();
    Tensor y_meta;
    {
      MetaScope meta;
      NoGrad ng;
      REQUIRE_NOTHROW(y_meta = c.fn(ms));
    }
    CHECK(Counters::now() == before);
    REQUIRE(y_meta.defined());
    CHECK(y_meta.shape() == y_real.shape());
    CHECK(y_meta.dtype() == y_real.dtype());
    CHECK(y_meta.device() == y_real.device());
    // The inputs are untouched (in-place ops write nothing in a MetaScope).
    for (size_t i = 0; i < ms.size(); ++i) {
      if (ms[i].dtype() != kFloat64 && ms[i].dtype() != kFloat32) continue;
      TG_CHECK_VALUES(ms[i], test::values(real_in[i]), 0.0, 0.0);
    }
    ++checked;

    if (!c.differentiable || c.large) continue;
    // Backward: the same gradient shapes, again without memory.
    std::vector<Tensor> gx = real_in, gm;
    for (size_t i : test::floating_inputs(gx)) gx[i] = gx[i].clone().requires_grad_(true);
    gm = gx;
    for (size_t i : test::floating_inputs(gm)) gm[i] = real_in[i].clone().requires_grad_(true);
    const std::vector<Shape> want = grad_shapes(gx, c.fn(gx));
    const Counters b2 = Counters::now();
    std::vector<Shape> got;
    {
      MetaScope meta;
      got = grad_shapes(gm, c.fn(gm));
    }
    CHECK(got == want);
    for (size_t i : test::floating_inputs(gm))
      if (gm[i].grad().defined()) CHECK(gm[i].grad().is_meta());
    CHECK(Counters::now() == b2);
    ++with_grads;
  }
  CHECK(checked == static_cast<int>(cases.size()));
  CHECK(with_grads > 150);
}

TEST_CASE("a MetaScope raises the errors a real run raises, with the same message", "[meta]") {
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const ShapeError& e) {
      return e.what();
    }
    return "no ShapeError";
  };
  Tensor a = ones({3, 4}), b = ones({5, 6});
  const std::string real = message([&] { matmul(a, b); });
  std::string meta;
  {
    MetaScope m;
    meta = message([&] { matmul(a, b); });
  }
  CHECK_THAT(real, Contains("matmul") && Contains("[3, 4]") && Contains("[5, 6]"));
  CHECK(meta == real);
  {
    MetaScope m;
    Tensor x = Tensor::empty({1, 8, 8, 3});
    Tensor w = Tensor::empty({3, 3, 5, 4});  // 5 input channels for a 3-channel input
    CHECK_THROWS_AS(conv2d(x, w), ShapeError);
  }
  // Dtype rules: whatever a real run says, a meta run says.
  auto outcome = [](auto&& f) -> std::string {
    try {
      return "ok: " + std::string(dtype_name(f().dtype()));
    } catch (const Error& e) {
      return e.what();
    }
  };
  Tensor i = ones({3, 3}, {.dtype = kInt64}), x = ones({2, 3, 3, 1}, {.dtype = kInt32});
  const std::vector<std::function<Tensor()>> calls = {
      [&] { return exp(i); },          [&] { return softmax(i, -1); },
      [&] { return matmul(i, i); },    [&] { return conv2d(x, ones({1, 1, 1, 1}, {.dtype = kInt32})); },
      [&] { return sigmoid(i); },      [&] { return log_softmax(i, 0); }};
  for (size_t k = 0; k < calls.size(); ++k) {
    INFO("call " << k);
    const std::string real = outcome(calls[k]);
    MetaScope m;
    CHECK(outcome(calls[k]) == real);
  }
}

TEST_CASE("meta tensors: shapes of a 224x224 convolution by hand, no memory", "[meta]") {
  Tensor w = uniform({7, 7, 3, 64}, -1, 1, 3);
  const Counters before = Counters::now();
  Tensor y;
  {
    MetaScope meta;
    Tensor x = Tensor::empty({8, 224, 224, 3});
    CHECK(x.is_meta());
    // valid, stride 2: (224 − 7) / 2 + 1 = 109 (floor)
    y = conv2d(x, w, {.strides = {2, 2}});
    // pool 3, stride 2, valid: (109 − 3) / 2 + 1 = 54
    y = max_pool2d(relu(y), {.pool_size = {3, 3}, .strides = {2, 2}});
  }
  CHECK(Counters::now() == before);
  CHECK(y.shape() == Shape{8, 54, 54, 64});
  CHECK(y.is_meta());
  CHECK_FALSE(w.is_meta());
}

TEST_CASE("reads in a MetaScope: real tensors give their values, meta tensors zeros", "[meta]") {
  Tensor r = tensor(std::vector<float>{1.5f, -2.0f, 4.0f}, {3});
  MetaScope meta;
  CHECK(r.to_vector<float>() == std::vector<float>{1.5f, -2.0f, 4.0f});
  CHECK(r.select(0, 2).item<double>() == 4.0);
  Tensor m = add(r, 1.0);
  CHECK(m.is_meta());
  CHECK(m.to_vector<float>() == std::vector<float>{0, 0, 0});
  // In-place writes to a real tensor are no-ops.
  r.mul_(10.0);
  CHECK(r.to_vector<float>() == std::vector<float>{1.5f, -2.0f, 4.0f});
}

TEST_CASE("a meta tensor used after its scope gets zeroed memory, and NoMetaScope computes",
          "[meta]") {
  Tensor m;
  {
    MetaScope meta;
    m = Tensor::empty({2, 3});
    {
      NoMetaScope compute;
      CHECK_FALSE(in_meta_scope());
      Tensor real = add(ones({2}), 1.0);
      CHECK_FALSE(real.is_meta());
      CHECK(real.to_vector<float>() == std::vector<float>{2, 2});
    }
    CHECK(in_meta_scope());
  }
  CHECK_FALSE(in_meta_scope());
  CHECK(m.is_meta());
  Tensor y = add(m, 2.0);  // the kernel's read gives m its memory, zero-filled
  CHECK_FALSE(m.is_meta());
  CHECK(y.to_vector<float>() == std::vector<float>(6, 2.0f));
}

TEST_CASE("a MetaScope wins over UseReferenceBackend and ends with its scope", "[meta]") {
  UseReferenceBackend ref;
  {
    MetaScope meta;
    CHECK(backend_for(Device::cpu()).name() == "meta");
  }
  CHECK(backend_for(Device::cpu()).name() == "reference");
}
