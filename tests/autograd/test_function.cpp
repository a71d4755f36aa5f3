// Custom differentiable functions (tg::autograd::Function) and losses written as plain
// functions of tensors.
#include <cmath>
#include <string>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using tg::autograd::Context;
using tg::autograd::Function;

namespace {
using V = std::vector<double>;

Tensor f64(std::vector<double> v, const Shape& shape = {}, bool requires_grad = true) {
  return tensor(v, shape, {.dtype = kFloat64, .requires_grad = requires_grad});
}

/// x³ with a hand-written backward 3x²·g.
struct Cube {
  static inline bool forward_recorded = true;
  static Tensor forward(Context& ctx, const Tensor& x) {
    forward_recorded = autograd::grad_enabled();
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(Context& ctx, const std::vector<Tensor>& grads) {
    Tensor x = ctx.saved_tensors()[0];
    return {grads[0] * 3.0 * x * x};
  }
};

/// A deliberately wrong backward (2x² instead of 3x²): gradcheck must catch it.
struct WrongCube {
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(Context& ctx, const std::vector<Tensor>& grads) {
    Tensor x = ctx.saved_tensors()[0];
    return {grads[0] * 2.0 * x * x};
  }
};

/// alpha·x + shift with non-tensor arguments kept in the context.
struct ScaleShift {
  static Tensor forward(Context& ctx, const Tensor& x, double alpha, int shift, std::string tag) {
    ctx.set("alpha", alpha);
    ctx.set("tag", tag);
    return x * alpha + static_cast<double>(shift);
  }
  static std::vector<Tensor> backward(Context& ctx, const std::vector<Tensor>& grads) {
    REQUIRE(ctx.get<std::string>("tag") == "scaled");
    return {grads[0] * ctx.get<double>("alpha")};
  }
};

/// a·b, recording which inputs backward was asked for.
struct Product {
  static inline bool need_a = false, need_b = false;
  static inline int calls = 0;
  static Tensor forward(Context& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return a * b;
  }
  static std::vector<Tensor> backward(Context& ctx, const std::vector<Tensor>& grads) {
    ++calls;
    need_a = ctx.needs_input_grad(0);
    need_b = ctx.needs_input_grad(1);
    auto s = ctx.saved_tensors();
    return {need_a ? grads[0] * s[1] : Tensor(), need_b ? grads[0] * s[0] : Tensor()};
  }
};

/// (sin x, cos x): two outputs.
struct SinCos {
  static std::vector<Tensor> forward(Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return {sin(x), cos(x)};
  }
  static std::vector<Tensor> backward(Context& ctx, const std::vector<Tensor>& grads) {
    Tensor x = ctx.saved_tensors()[0];
    return {grads[0] * cos(x) - grads[1] * sin(x)};
  }
};

/// Splits a vector into its first k elements and the rest (two outputs of different shapes).
struct SplitAt {
  static std::vector<Tensor> forward(Context& ctx, const Tensor& x, int64_t k) {
    ctx.set("k", k);
    ctx.set("n", x.shape()[0]);
    return {x.slice(0, 0, k).clone(), x.slice(0, k, x.shape()[0]).clone()};
  }
  static std::vector<Tensor> backward(Context&, const std::vector<Tensor>& grads) {
    return {concat({grads[0], grads[1]}, 0)};
  }
};

/// A backward that returns the wrong number of gradients.
struct BadCount {
  static Tensor forward(Context&, const Tensor& x) { return x * 2.0; }
  static std::vector<Tensor> backward(Context&, const std::vector<Tensor>& grads) {
    return {grads[0], grads[0]};
  }
};

/// A backward that returns a gradient of the wrong shape.
struct BadShape {
  static Tensor forward(Context&, const Tensor& x) { return x * 2.0; }
  static std::vector<Tensor> backward(Context&, const std::vector<Tensor>& grads) {
    return {sum(grads[0])};
  }
};

/// Huber loss, mean over elements: 0.5 r² for |r| ≤ delta, delta (|r| − 0.5 delta) beyond.
Tensor huber(const Tensor& pred, const Tensor& target, double delta = 1.0) {
  Tensor r = abs(pred - target);
  Tensor quad = minimum(r, delta);
  Tensor lin = r - quad;
  return mean(quad * quad * 0.5 + lin * delta);
}
}  // namespace

TEST_CASE("a custom cube with a hand-written backward", "[function]") {
  Tensor x = f64({1, 2, -1}, {3});
  Tensor y = Function<Cube>::apply(x);
  TG_CHECK_VALUES(y, (V{1, 8, -1}), 0, 0);
  CHECK_FALSE(Cube::forward_recorded);  // forward runs without recording
  REQUIRE(y.requires_grad());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK_THAT(y.grad_fn()->name(), Contains("Cube"));
  sum(y).backward();
  TG_CHECK_VALUES(x.grad(), (V{3, 12, 3}), 0, 0);  // 3x²

  // Composes with library ops on both sides.
  Tensor a = f64({0.5, -2.0}, {2});
  sum(Function<Cube>::apply(a * 2.0) * 3.0).backward();  // d/da 3 (2a)³ = 72 a²
  TG_CHECK_VALUES(a.grad(), (V{18, 288}), 1e-12, 1e-12);
}

TEST_CASE("gradcheck accepts the custom cube and rejects a wrong backward", "[function]") {
  auto cube = [](const std::vector<Tensor>& xs) { return Function<Cube>::apply(xs[0]); };
  Tensor x = tensor({0.3f, -1.1f, 2.0f, 0.7f}, {2, 2});
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(cube, {x}));
  // Second order: the backward is built from differentiable ops.
  TG_REQUIRE_GRADCHECK(autograd::gradgradcheck(cube, {x}));

  auto wrong = [](const std::vector<Tensor>& xs) { return Function<WrongCube>::apply(xs[0]); };
  auto res = autograd::gradcheck(wrong, {x});
  CHECK_FALSE(res.ok);
  CHECK_THAT(res.message, Contains("input 0") && Contains("analytic") && Contains("numeric"));
}

TEST_CASE("second derivative through a custom function", "[function]") {
  Tensor x = scalar_tensor(1.5, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = Function<Cube>::apply(x);
  auto g1 = autograd::grad({y}, {x}, {}, {.create_graph = true});
  CHECK(g1[0].item<double>() == Approx(6.75));  // 3x²
  auto g2 = autograd::grad({g1[0]}, {x});
  CHECK(g2[0].item<double>() == Approx(9.0));  // 6x
}

TEST_CASE("non-tensor arguments and ctx.set / ctx.get", "[function]") {
  Tensor x = f64({1, 2, 3}, {3});
  Tensor y = Function<ScaleShift>::apply(x, 2.5, 4, std::string("scaled"));
  TG_CHECK_VALUES(y, (V{6.5, 9.0, 11.5}), 0, 0);
  sum(y).backward();
  TG_CHECK_VALUES(x.grad(), (V{2.5, 2.5, 2.5}), 0, 0);
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& xs) {
        return Function<ScaleShift>::apply(xs[0], -0.75, 1, std::string("scaled"));
      },
      {x}));

  Context ctx;
  ctx.set("n", 3);
  ctx.set("name", std::string("abc"));
  CHECK(ctx.get<int>("n") == 3);
  CHECK(ctx.get<std::string>("name") == "abc");
  REQUIRE_THROWS_AS(ctx.get<double>("n"), ValueError);  // stored as int
  REQUIRE_THROWS_WITH(ctx.get<int>("missing"), Contains("missing"));
  ctx.set("n", 4);  // overwrite
  CHECK(ctx.get<int>("n") == 4);
}

TEST_CASE("needs_input_grad tells backward which gradients are wanted", "[function]") {
  Tensor a = f64({2, 3}, {2});
  Tensor b = f64({5, 7}, {2}, false);
  Product::calls = 0;
  sum(Function<Product>::apply(a, b)).backward();
  CHECK(Product::calls == 1);
  CHECK(Product::need_a);
  CHECK_FALSE(Product::need_b);
  TG_CHECK_VALUES(a.grad(), (V{5, 7}), 0, 0);

  Tensor c = f64({2, 3}, {2}, false);
  Tensor d = f64({5, 7}, {2});
  sum(Function<Product>::apply(c, d)).backward();
  CHECK_FALSE(Product::need_a);
  CHECK(Product::need_b);
  TG_CHECK_VALUES(d.grad(), (V{2, 3}), 0, 0);

  Tensor e = f64({1, 2}, {2});
  Tensor f = f64({3, 4}, {2});
  sum(Function<Product>::apply(e, f)).backward();
  CHECK(Product::need_a);
  CHECK(Product::need_b);
  TG_CHECK_VALUES(e.grad(), (V{3, 4}), 0, 0);
  TG_CHECK_VALUES(f.grad(), (V{1, 2}), 0, 0);

  // No input requires grad: nothing is recorded.
  Product::calls = 0;
  Tensor out = Function<Product>::apply(c, b);
  CHECK_FALSE(out.requires_grad());
  CHECK(out.grad_fn() == nullptr);
  TG_CHECK_VALUES(out, (V{10, 21}), 0, 0);
  // Under NoGrad neither.
  {
    NoGrad ng;
    CHECK_FALSE(Function<Product>::apply(e, f).requires_grad());
  }
}

TEST_CASE("a custom function with several outputs", "[function]") {
  Tensor x = f64({0.2, 1.0, -0.7}, {3});
  auto outs = Function<SinCos>::apply(x);
  static_assert(std::is_same_v<decltype(outs), std::vector<Tensor>>);
  REQUIRE(outs.size() == 2);
  TG_CHECK_VALUES(outs[0], (V{std::sin(0.2), std::sin(1.0), std::sin(-0.7)}), 1e-15, 1e-12);
  TG_CHECK_VALUES(outs[1], (V{std::cos(0.2), std::cos(1.0), std::cos(-0.7)}), 1e-15, 1e-12);
  CHECK(outs[0].grad_fn() == outs[1].grad_fn());
  CHECK(outs[1].impl()->output_nr == 1);

  // Both outputs used: d/dx (sin x + 2 cos x) = cos x − 2 sin x.
  sum(outs[0] + outs[1] * 2.0).backward();
  V expect;
  for (double v : {0.2, 1.0, -0.7}) expect.push_back(std::cos(v) - 2 * std::sin(v));
  TG_CHECK_VALUES(x.grad(), expect, 1e-12, 1e-12);

  // Only one output used: the other's gradient is taken as zero.
  Tensor z = f64({0.4}, {1});
  auto zs = Function<SinCos>::apply(z);
  sum(zs[1]).backward();  // −sin z
  TG_CHECK_VALUES(z.grad(), (V{-std::sin(0.4)}), 1e-15, 1e-12);

  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& xs) {
        auto o = Function<SinCos>::apply(xs[0]);
        return o[0] * o[1] + o[1];
      },
      {x}));

  // Outputs of different shapes.
  Tensor w = f64({1, 2, 3, 4, 5}, {5});
  auto parts = Function<SplitAt>::apply(w, int64_t{2});
  CHECK(parts[0].shape() == Shape{2});
  CHECK(parts[1].shape() == Shape{3});
  TG_CHECK_VALUES(parts[1], (V{3, 4, 5}), 0, 0);
  sum(parts[1] * parts[1]).backward();  // only the second part used: 2w there, 0 before
  TG_CHECK_VALUES(w.grad(), (V{0, 0, 6, 8, 10}), 0, 0);
}

TEST_CASE("a custom backward that returns the wrong gradients is an error", "[function]") {
  Tensor x = f64({1, 2}, {2});
  REQUIRE_THROWS_AS(sum(Function<BadCount>::apply(x)).backward(), ValueError);
  Tensor y = f64({1, 2}, {2});
  REQUIRE_THROWS_AS(sum(Function<BadShape>::apply(y)).backward(), ShapeError);
}

TEST_CASE("a saved input modified in place is caught in a custom backward", "[function]") {
  Tensor x = f64({1, 2}, {2});
  Tensor h = x * 1.0;
  Tensor y = Function<Cube>::apply(h);
  {
    NoGrad ng;
    h.add_(1.0);
  }
  REQUIRE_THROWS_WITH(sum(y).backward(), Contains("modified in place"));
}

TEST_CASE("Huber loss as a plain function of tensors: values and gradient by hand", "[function]") {
  Tensor pred = f64({0.5, 2.0, -3.0, 0.0}, {4});
  Tensor target = f64({0, 0, 0, 0}, {4}, false);
  Tensor loss = huber(pred, target);
  // 0.125, 2 − 0.5 = 1.5, 3 − 0.5 = 2.5, 0 ⇒ mean 4.125 / 4.
  CHECK(loss.item<double>() == Approx(4.125 / 4.0));
  loss.backward();
  // d/dpred = clip(r, −1, 1) / n.
  TG_CHECK_VALUES(pred.grad(), (V{0.5 / 4, 1.0 / 4, -1.0 / 4, 0.0}), 1e-15, 1e-12);
  // Away from the kinks at |r| = delta and r = 0 it passes gradcheck.
  Tensor p2 = tensor(std::vector<double>{0.3, -0.4, 1.7, -2.2, 0.9});
  Tensor t2 = tensor(std::vector<double>{0.0, 0.1, -0.2, 0.5, 0.2});
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& xs) { return huber(xs[0], xs[1]); }, {p2, t2}));
}

TEST_CASE("gradient descent on a Huber loss makes the loss fall", "[function]") {
  // y = 2x + 1 with two outliers (±8); fit y ≈ w x + b.
  manual_seed(17);
  Tensor x = uniform({64, 1}, -2.0, 2.0);
  Tensor y;
  {
    NoGrad ng;
    y = x * 2.0 + 1.0;
    y[3] += 8.0;
    y[10] -= 8.0;
  }
  Tensor w = zeros({1, 1}, {.requires_grad = true});
  Tensor b = zeros({1}, {.requires_grad = true});
  auto loss_now = [&] {
    NoGrad ng;
    return huber(add(matmul(x, w), b), y).item<double>();
  };
  const double initial = loss_now();
  double prev = initial;
  int rises = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor loss = huber(add(matmul(x, w), b), y);
    loss.backward();
    {
      NoGrad ng;
      w -= w.grad() * 0.5;
      b -= b.grad() * 0.5;
    }
    w.zero_grad();
    b.zero_grad();
    const double now = loss_now();
    if (now > prev * (1 + 1e-5)) ++rises;  // float32 rounding aside
    prev = now;
  }
  const double final_loss = loss_now();
  INFO("initial " << initial << ", final " << final_loss);
  // Initial ≈ 1.7 (E huber(2x + 1) for x ~ U(−2, 2)); final ≈ 2 · 7.5 / 64 from the outliers.
  CHECK(final_loss < 0.3 * initial);
  CHECK(final_loss < 0.3);
  CHECK(rises == 0);
  // Huber is robust to the two outliers: the fit is close to the true line.
  CHECK(w.item<double>() == Approx(2.0).margin(0.2));
  CHECK(b.item<double>() == Approx(1.0).margin(0.2));
}
