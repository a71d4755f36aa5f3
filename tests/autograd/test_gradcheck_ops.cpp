// Gradients of every differentiable op entry against finite differences (float64, reference
// backend), and gradcheck's own ability to catch a wrong gradient.
#include "autograd/op_cases.hpp"
#include "test_util.hpp"

using namespace tg;
using tg::test::OpCase;

namespace {
/// Gradchecks the differentiable entries selected by `pick`; returns how many ran.
int check_cases(bool large) {
  const auto& cases = test::op_cases();
  int n = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    if (!c.differentiable || c.large != large) continue;
    INFO("case: " << c.name);
    auto res = autograd::gradcheck(c.fn, test::make_inputs(c, kFloat64, k), c.gc);
    INFO(res.message);
    CHECK(res.ok);
    ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("gradcheck passes for every small differentiable op entry (full Jacobian)",
          "[gradcheck]") {
  CHECK(check_cases(false) > 150);
}

TEST_CASE("gradcheck passes for every large differentiable op entry (random directions)",
          "[gradcheck]") {
  CHECK(check_cases(true) > 50);
}

// ---- gradcheck must catch wrong gradients ----

namespace {
/// y = x², with a backward that returns 3x instead of 2x.
struct WrongSquare {
  static Tensor forward(autograd::Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return mul(x, x);
  }
  static std::vector<Tensor> backward(autograd::Context& ctx, const std::vector<Tensor>& g) {
    return {mul(g[0], mul(ctx.saved_tensors()[0], 3.0))};
  }
};
/// y = x², correct backward (the control).
struct RightSquare {
  static Tensor forward(autograd::Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return mul(x, x);
  }
  static std::vector<Tensor> backward(autograd::Context& ctx, const std::vector<Tensor>& g) {
    return {mul(g[0], mul(ctx.saved_tensors()[0], 2.0))};
  }
};
/// y = a·b, whose backward forgets to flow into b's second element.
struct WrongMulSecond {
  static Tensor forward(autograd::Context& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return mul(a, b);
  }
  static std::vector<Tensor> backward(autograd::Context& ctx, const std::vector<Tensor>& g) {
    auto s = ctx.saved_tensors();
    Tensor mask = tensor<double>({1, 0, 1}, {3}, {.dtype = g[0].dtype()});
    return {mul(g[0], s[1]), mul(mul(g[0], s[0]), mask)};
  }
};
}  // namespace

TEST_CASE("gradcheck accepts a correct custom backward", "[gradcheck]") {
  Tensor x = tensor<double>({0.5, -1.25, 2.0}, {3});
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& xs) { return autograd::Function<RightSquare>::apply(xs[0]); },
      {x}));
}

TEST_CASE("gradcheck rejects a wrong custom backward and names input, element, analytic, numeric",
          "[gradcheck]") {
  Tensor x = tensor<double>({0.5, -1.25, 2.0}, {3});
  auto res = autograd::gradcheck(
      [](const std::vector<Tensor>& xs) { return autograd::Function<WrongSquare>::apply(xs[0]); },
      {x});
  INFO(res.message);
  CHECK_FALSE(res.ok);
  CHECK_FALSE(static_cast<bool>(res));
  CHECK(res.message.find("input 0") != std::string::npos);
  CHECK(res.message.find("element [0]") != std::string::npos);
  // The first element: analytic 3·0.5 = 1.5, numeric 2·0.5 = 1.
  CHECK(res.message.find("analytic 1.5") != std::string::npos);
  CHECK(res.message.find("numeric 1") != std::string::npos);
}

TEST_CASE("gradcheck names the second input and its element when only that gradient is wrong",
          "[gradcheck]") {
  Tensor a = tensor<double>({0.5, -1.5, 2.0}, {3});
  Tensor b = tensor<double>({1.0, 2.0, 3.0}, {3});
  auto res = autograd::gradcheck(
      [](const std::vector<Tensor>& xs) {
        return autograd::Function<WrongMulSecond>::apply(xs[0], xs[1]);
      },
      {a, b});
  INFO(res.message);
  CHECK_FALSE(res.ok);
  CHECK(res.message.find("input 1") != std::string::npos);
  CHECK(res.message.find("element [1]") != std::string::npos);
  // d(a1·b1)/db1 = a1 = -1.5, the wrong backward gives 0.
  const bool zero = res.message.find("analytic 0 ") != std::string::npos ||
                    res.message.find("analytic -0 ") != std::string::npos;
  CHECK(zero);
  CHECK(res.message.find("numeric -1.5") != std::string::npos);
}

TEST_CASE("gradcheck's random-direction mode also rejects a wrong backward", "[gradcheck]") {
  Tensor x = uniform({40}, 0.5, 1.5, 7, {.dtype = kFloat64});
  auto f = [](const std::vector<Tensor>& xs) {
    return autograd::Function<WrongSquare>::apply(xs[0]);
  };
  auto g = [](const std::vector<Tensor>& xs) {
    return autograd::Function<RightSquare>::apply(xs[0]);
  };
  autograd::GradcheckOptions o{.max_jacobian = 100};  // 40 × 40 > 100: random directions
  auto bad = autograd::gradcheck(f, {x}, o);
  INFO(bad.message);
  CHECK_FALSE(bad.ok);
  CHECK(bad.message.find("analytic") != std::string::npos);
  CHECK(bad.message.find("numeric") != std::string::npos);
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(g, {x}, o));
}

TEST_CASE("gradcheck catches a gradient that is missing altogether", "[gradcheck]") {
  // detach() hides the dependence on x from the tape: the analytic gradient is 0.
  Tensor x = tensor<double>({0.3, 0.7}, {2});
  auto res = autograd::gradcheck(
      [](const std::vector<Tensor>& xs) { return add(mul(xs[0], 2.0), exp(xs[0].detach())); }, {x});
  INFO(res.message);
  CHECK_FALSE(res.ok);
  CHECK(res.message.find("input 0") != std::string::npos);
  // Nothing on the tape at all: the numeric Jacobian must then be zero.
  auto res2 =
      autograd::gradcheck([](const std::vector<Tensor>& xs) { return exp(xs[0].detach()); }, {x});
  INFO(res2.message);
  CHECK_FALSE(res2.ok);
}

TEST_CASE("gradcheck differentiates floating inputs only and passes integer inputs through",
          "[gradcheck]") {
  Tensor x = tensor<double>({1.0, 2.0, 3.0, 4.0}, {2, 2});
  Tensor idx = tensor<int64_t>({1, 0}, {2, 1});
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& xs) {
        REQUIRE(xs[1].dtype() == kInt64);
        REQUIRE(xs[0].dtype() == kFloat64);
        return square(gather(xs[0], 1, xs[1]));
      },
      {x.to(kFloat32), idx}));
}

// ---- gradients where finite differences cannot go: values worked out by hand ----

TEST_CASE("gradients at ties and kinks follow the documented conventions", "[gradcheck]") {
  // max/min share the gradient evenly among tied extrema.
  Tensor m = tensor<double>({1, 3, 3}, {3}).requires_grad_();
  max(m).backward();
  TG_CHECK_VALUES(m.grad(), (std::vector<double>{0, 0.5, 0.5}), 0, 0);
  Tensor n = tensor<double>({2, 2, 2, 5}, {2, 2}).requires_grad_();
  min(n, {1}).backward(ones({2}, {.dtype = kFloat64}));
  TG_CHECK_VALUES(n.grad(), (std::vector<double>{0.5, 0.5, 1, 0}), 0, 0);
  // maximum/minimum give ties to the first operand.
  Tensor a = tensor<double>({1, 2}, {2}).requires_grad_(),
         b = tensor<double>({1, 3}, {2}).requires_grad_();
  sum(maximum(a, b)).backward();
  TG_CHECK_VALUES(a.grad(), (std::vector<double>{1, 0}), 0, 0);
  TG_CHECK_VALUES(b.grad(), (std::vector<double>{0, 1}), 0, 0);
  Tensor c = tensor<double>({4, 0}, {2}).requires_grad_(),
         d = tensor<double>({4, 1}, {2}).requires_grad_();
  sum(minimum(c, d)).backward();
  TG_CHECK_VALUES(c.grad(), (std::vector<double>{1, 1}), 0, 0);
  TG_CHECK_VALUES(d.grad(), (std::vector<double>{0, 0}), 0, 0);
  // abs and relu have gradient 0 at 0; clip passes the gradient on its closed interval.
  Tensor z = tensor<double>({-1, 0, 1, 2}, {4}).requires_grad_();
  sum(abs(z)).backward();
  TG_CHECK_VALUES(z.grad(), (std::vector<double>{-1, 0, 1, 1}), 0, 0);
  z.zero_grad();
  sum(relu(z)).backward();
  TG_CHECK_VALUES(z.grad(), (std::vector<double>{0, 0, 1, 1}), 0, 0);
  z.zero_grad();
  sum(clip(z, 0, 1)).backward();
  TG_CHECK_VALUES(z.grad(), (std::vector<double>{0, 1, 1, 0}), 0, 0);
}

TEST_CASE("prod's gradient is the product of the other elements, also at zeros", "[gradcheck]") {
  Tensor x = tensor<double>({2, 0, 3}, {3}).requires_grad_();
  prod(x).backward();
  TG_CHECK_VALUES(x.grad(), (std::vector<double>{0, 6, 0}), 0, 0);
  Tensor y = tensor<double>({2, 0, 3, 0}, {4}).requires_grad_();
  prod(y).backward();
  TG_CHECK_VALUES(y.grad(), (std::vector<double>{0, 0, 0, 0}), 0, 0);
  Tensor w = tensor<double>({2, 5, 4, 0.5}, {2, 2}).requires_grad_();
  prod(w, {0}).backward(ones({2}, {.dtype = kFloat64}));
  TG_CHECK_VALUES(w.grad(), (std::vector<double>{4, 0.5, 2, 5}), 0, 0);
}
