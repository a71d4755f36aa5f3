// Gradient hooks: once per backward with the total gradient, composition, removal,
// post-accumulate hooks, grad() and create_graph. Expected values are worked out by hand.
#include <cmath>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
Tensor f64(std::vector<double> v, const Shape& shape = {}, bool requires_grad = true) {
  return tensor(v, shape, {.dtype = kFloat64, .requires_grad = requires_grad});
}
Tensor scalar64(double v) { return scalar_tensor(v, {.dtype = kFloat64, .requires_grad = true}); }
using V = std::vector<double>;

/// A hook that records how often it ran and the gradients it saw, and returns g unchanged.
struct Recorder {
  int calls = 0;
  std::vector<V> seen;
  GradHook hook() {
    return [this](const Tensor& g) {
      ++calls;
      seen.push_back(g.to_vector<double>());
      return Tensor();
    };
  }
};

/// g scaled to unit L2 norm (the hook of the issue: clip-to-unit-norm).
Tensor unit_norm(const Tensor& g) { return g / sqrt(sum(g * g)); }

/// y = 2x³ with a hand-written backward, two outputs: (2x³, x²).
struct CubeAndSquare {
  static std::vector<Tensor> forward(autograd::Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return {x * x * x * 2.0, x * x};
  }
  static std::vector<Tensor> backward(autograd::Context& ctx, const std::vector<Tensor>& g) {
    Tensor x = ctx.saved_tensors()[0];
    return {g[0] * x * x * 6.0 + g[1] * x * 2.0};
  }
};
}  // namespace

TEST_CASE("a leaf hook runs once with the summed gradient of 1, 2 and 3 uses", "[hooks]") {
  SECTION("used once: y = 2x") {
    Tensor x = f64({1, 2}, {2});
    Recorder r;
    x.register_hook(r.hook());
    sum(x * 2.0).backward();
    CHECK(r.calls == 1);
    TG_CHECK_VALUES(tensor(r.seen[0], {2}), (V{2, 2}), 0, 0);
  }
  SECTION("used twice: y = 2x + 3x") {
    Tensor x = f64({1, 2}, {2});
    Recorder r;
    x.register_hook(r.hook());
    sum(x * 2.0 + x * 3.0).backward();
    CHECK(r.calls == 1);
    TG_CHECK_VALUES(tensor(r.seen[0], {2}), (V{5, 5}), 0, 0);
    TG_CHECK_VALUES(x.grad(), (V{5, 5}), 0, 0);
  }
  SECTION("used three times: y = 2x + 3x + x·x, dy/dx = 5 + 2x") {
    Tensor x = f64({1, 2}, {2});
    Recorder r;
    x.register_hook(r.hook());
    sum(x * 2.0 + x * 3.0 + x * x).backward();
    CHECK(r.calls == 1);
    TG_CHECK_VALUES(tensor(r.seen[0], {2}), (V{7, 9}), 0, 0);
  }
}

TEST_CASE("a clip-to-unit-norm hook clips the total, not each contribution", "[hooks]") {
  // L = sum(x) + sum(x): total gradient [2, 2] of norm 2√2, clipped to [1/√2, 1/√2]. Clipping
  // each [1, 1] and summing would give [√2, √2].
  Tensor x = f64({0.5, -3}, {2});
  x.register_hook(unit_norm);
  (sum(x) + sum(x)).backward();
  const double h = 1.0 / std::sqrt(2.0);
  TG_CHECK_VALUES(x.grad(), (V{h, h}), 1e-15, 0);
}

TEST_CASE("a non-leaf hook runs once with the total and changes what flows on", "[hooks]") {
  SECTION("scaling a tensor used twice") {
    // h = 3x; L = sum(2h) + sum(h²): dL/dh = 2 + 2h, halved by the hook = 1 + h;
    // dL/dx = 3 (1 + 3x) = 3 + 9x = [12, 21] at x = [1, 2].
    Tensor x = f64({1, 2}, {2});
    Tensor h = x * 3.0;
    int calls = 0;
    h.register_hook([&](const Tensor& g) {
      ++calls;
      return g * 0.5;
    });
    (sum(h * 2.0) + sum(h * h)).backward();
    CHECK(calls == 1);
    TG_CHECK_VALUES(x.grad(), (V{12, 21}), 0, 0);
  }
  SECTION("used three times: h = x + 1; L = sum(h) + sum(2h) + sum(h²), dL/dh = 3 + 2h") {
    Tensor x = f64({1, -2}, {2});
    Tensor h = x + 1.0;
    Recorder r;
    h.register_hook(r.hook());
    (sum(h) + sum(h * 2.0) + sum(h * h)).backward();
    CHECK(r.calls == 1);
    TG_CHECK_VALUES(tensor(r.seen[0], {2}), (V{7, 1}), 0, 0);
  }
  SECTION("gradient reversal (domain-adversarial training)") {
    // f = 2x; r = f + 0 with a hook g -> -0.5 g; L = sum(f) + sum(r²).
    // dL/dr = 2r = 4x, reversed: -2x; dL/df = 1 - 2x; dL/dx = 2 (1 - 2x) = [-2, -6] at [1, 2].
    Tensor x = f64({1, 2}, {2});
    Tensor f = x * 2.0;
    Tensor r = f + 0.0;
    r.register_hook([](const Tensor& g) { return g * -0.5; });
    (sum(f) + sum(r * r)).backward();
    TG_CHECK_VALUES(x.grad(), (V{-2, -6}), 0, 0);
  }
}

TEST_CASE("several hooks compose in registration order", "[hooks]") {
  // L = sum(3x): g = [3, 3]; (g + 1) · 10 = 40 (the other order would give 31).
  Tensor x = f64({1, 2}, {2});
  x.register_hook([](const Tensor& g) { return g + 1.0; });
  Recorder middle;
  x.register_hook(middle.hook());  // undefined return: observes, changes nothing
  x.register_hook([](const Tensor& g) { return g * 10.0; });
  sum(x * 3.0).backward();
  TG_CHECK_VALUES(tensor(middle.seen.at(0), {2}), (V{4, 4}), 0, 0);
  TG_CHECK_VALUES(x.grad(), (V{40, 40}), 0, 0);

  Tensor y = f64({1, 2}, {2});
  Tensor h = y * 1.0;
  h.register_hook([](const Tensor& g) { return g * 10.0; });
  h.register_hook([](const Tensor& g) { return g + 1.0; });
  sum(h * 3.0).backward();  // 3 · 10 + 1 = 31
  TG_CHECK_VALUES(y.grad(), (V{31, 31}), 0, 0);
}

TEST_CASE("hooks run once per backward pass, also on the second pass", "[hooks]") {
  Tensor x = f64({1, 2}, {2});
  Recorder r;
  x.register_hook(r.hook());
  Tensor y = sum(x * 2.0 + x * 3.0);
  y.backward({}, {.retain_graph = true});
  y.backward();
  CHECK(r.calls == 2);
  TG_CHECK_VALUES(x.grad(), (V{10, 10}), 0, 0);
}

TEST_CASE("a handle removes its hook", "[hooks]") {
  Tensor x = f64({1, 2}, {2});
  HookHandle keep = x.register_hook([](const Tensor& g) { return g * 2.0; });
  HookHandle drop = x.register_hook([](const Tensor& g) { return g * 100.0; });
  drop.remove();
  drop.remove();  // a second remove does nothing
  sum(x * 3.0).backward();
  TG_CHECK_VALUES(x.grad(), (V{6, 6}), 0, 0);

  Tensor w = f64({1}, {1});
  Tensor h = w * 4.0;
  Recorder r;
  HookHandle hh = h.register_hook(r.hook());
  hh.remove();
  sum(h).backward();
  CHECK(r.calls == 0);
  TG_CHECK_VALUES(w.grad(), (V{4}), 0, 0);

  HookHandle orphan;
  {
    Tensor gone = f64({1}, {1});
    orphan = gone.register_hook([](const Tensor& g) { return g; });
  }
  CHECK_NOTHROW(orphan.remove());  // the tensor is gone
  HookHandle empty;
  CHECK_NOTHROW(empty.remove());
}

TEST_CASE("retain_grad stores the gradient after the tensor's hooks", "[hooks]") {
  // h = 3x, L = sum(h²): dL/dh = 2h = [6, 12], doubled by the hook = [12, 24] (what .grad
  // keeps, as PyTorch runs retain_grad last); dL/dx = 3 · [12, 24].
  Tensor x = f64({1, 2}, {2});
  Tensor h = x * 3.0;
  h.retain_grad();
  h.register_hook([](const Tensor& g) { return g * 2.0; });
  sum(h * h).backward();
  TG_CHECK_VALUES(h.grad(), (V{12, 24}), 0, 0);
  TG_CHECK_VALUES(x.grad(), (V{36, 72}), 0, 0);
}

TEST_CASE("hooks run under grad() once with the total", "[hooks]") {
  Tensor x = scalar64(2.0);
  int calls = 0;
  x.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 10.0;
  });
  // y = x² + 3x: dy/dx = 2x + 3 = 7, hooked 70.
  auto g = autograd::grad({x * x + x * 3.0}, {x});
  CHECK(calls == 1);
  CHECK(g[0].item<double>() == 70.0);
  CHECK_FALSE(x.grad().defined());  // grad() leaves .grad alone

  // A hooked non-leaf that is itself a grad() input.
  Tensor w = scalar64(1.5);
  Tensor h = w * 2.0;  // h = 3
  h.register_hook([](const Tensor& gh) { return gh + 1.0; });
  auto gh = autograd::grad({h * h + h}, {h, w});  // d/dh = 2h + 1 = 7, hooked 8; dw = 16
  CHECK(gh[0].item<double>() == 8.0);
  CHECK(gh[1].item<double>() == 16.0);
}

TEST_CASE("a hook's result stays differentiable under create_graph", "[hooks]") {
  // y = x³; g = 3x² = 12 at x = 2; the hook squares it: 9x⁴ = 144; d(9x⁴)/dx = 36x³ = 288.
  Tensor x = scalar64(2.0);
  HookHandle square = x.register_hook([](const Tensor& g) { return g * g; });
  auto g1 = autograd::grad({x * x * x}, {x}, {}, {.create_graph = true});
  CHECK(g1[0].item<double>() == 144.0);
  REQUIRE(g1[0].requires_grad());
  square.remove();  // the second pass would square again
  auto g2 = autograd::grad({g1[0]}, {x});
  CHECK(g2[0].item<double>() == 288.0);

  // The same through backward(create_graph): .grad keeps the hooked, differentiable gradient.
  Tensor z = scalar64(2.0);
  HookHandle sq = z.register_hook([](const Tensor& g) { return g * g; });
  (z * z * z).backward({}, {.create_graph = true});
  CHECK(z.grad().item<double>() == 144.0);
  sq.remove();
  auto g3 = autograd::grad({z.grad()}, {z});
  CHECK(g3[0].item<double>() == 288.0);
}

TEST_CASE("hooks on views see the view's total gradient", "[hooks]") {
  // v = x[0:2] (a view); L = sum(v²) + sum(v): dL/dv = 2v + 1 = [3, 5], doubled by the hook;
  // the third element gets nothing.
  Tensor x = f64({1, 2, 3}, {3});
  Tensor v = x.slice(0, 0, 2);
  Recorder r;
  v.register_hook(r.hook());
  v.register_hook([](const Tensor& g) { return g * 2.0; });
  (sum(v * v) + sum(v)).backward();
  CHECK(r.calls == 1);
  TG_CHECK_VALUES(tensor(r.seen[0], {2}), (V{3, 5}), 0, 0);
  TG_CHECK_VALUES(x.grad(), (V{6, 10, 0}), 0, 0);
}

TEST_CASE("hooks on the outputs of a custom Function", "[hooks]") {
  // outs = (2x³, x²); L = sum(o0) + sum(3 o0) + sum(o1): dL/do0 = 4 (hooked: halved to 2),
  // dL/do1 = 1; dL/dx = 2 · 6x² + 1 · 2x = 12x² + 2x = [14, 52] at x = [1, 2].
  Tensor x = f64({1, 2}, {2});
  auto outs = autograd::Function<CubeAndSquare>::apply(x);
  Recorder r;
  outs[0].register_hook(r.hook());
  outs[0].register_hook([](const Tensor& g) { return g * 0.5; });
  (sum(outs[0]) + sum(outs[0] * 3.0) + sum(outs[1])).backward();
  CHECK(r.calls == 1);
  TG_CHECK_VALUES(tensor(r.seen[0], {2}), (V{4, 4}), 0, 0);
  TG_CHECK_VALUES(x.grad(), (V{14, 52}), 0, 0);
}

TEST_CASE("post-accumulate hooks run once .grad holds the pass's gradient", "[hooks]") {
  Tensor x = f64({1, 2}, {2});
  std::vector<V> seen;
  HookHandle h = x.register_post_accumulate_grad_hook(
      [&](const Tensor& t) { seen.push_back(t.grad().to_vector<double>()); });
  Tensor y = sum(x * 2.0 + x * 3.0);
  y.backward({}, {.retain_graph = true});
  REQUIRE(seen.size() == 1);
  TG_CHECK_VALUES(tensor(seen[0], {2}), (V{5, 5}), 0, 0);
  y.backward({}, {.retain_graph = true});  // accumulates: the hook sees 10
  REQUIRE(seen.size() == 2);
  TG_CHECK_VALUES(tensor(seen[1], {2}), (V{10, 10}), 0, 0);

  // A per-parameter optimizer step inside the hook (SGD, lr 0.1), then zeroing the gradient.
  Tensor w = f64({1, -1}, {2});
  w.register_post_accumulate_grad_hook([](const Tensor& t) {
    NoGrad ng;
    Tensor p = t;
    p.sub_(t.grad() * 0.1);
    t.zero_grad();
  });
  sum(w * w).backward();  // dL/dw = 2w = [2, -2]; w - 0.2 · [1, -1]
  TG_CHECK_VALUES(w, (V{0.8, -0.8}), 1e-15, 0);
  CHECK_FALSE(w.grad().defined());

  // grad() accumulates nothing, so post-accumulate hooks do not run.
  autograd::grad({sum(x * x)}, {x});
  CHECK(seen.size() == 2);
  h.remove();
  sum(x).backward();
  CHECK(seen.size() == 2);
}

TEST_CASE("hook misuse is refused with the tensor's shapes named", "[hooks]") {
  REQUIRE_THROWS_AS(ones({2}).register_hook([](const Tensor& g) { return g; }), ValueError);
  Tensor x = f64({1, 2}, {2});
  Tensor h = x * 2.0;
  REQUIRE_THROWS_WITH(h.register_post_accumulate_grad_hook([](const Tensor&) {}),
                      Contains("only leaf tensors"));
  REQUIRE_THROWS_AS(ones({2}).register_post_accumulate_grad_hook([](const Tensor&) {}),
                    ValueError);
  x.register_hook([](const Tensor& g) { return sum(g); });
  REQUIRE_THROWS_WITH(sum(x * 3.0).backward(),
                      Contains("register_hook") && Contains("[]") && Contains("[2]"));
  Tensor y = f64({1, 2}, {2});
  Tensor k = y * 2.0;
  k.register_hook([](const Tensor& g) { return g.to(kFloat32); });
  REQUIRE_THROWS_WITH(sum(k).backward(), Contains("register_hook") && Contains("float32"));
}
