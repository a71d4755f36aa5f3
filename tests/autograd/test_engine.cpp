// The backward engine: accumulation, retain_graph, detach, grad mode, grad(), hooks, long
// chains, in-place ops and views. Expected gradients are worked out by hand.
#include <cmath>
#include <future>
#include <thread>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
Tensor f64(std::vector<double> v, const Shape& shape = {}, bool requires_grad = true) {
  return tensor(v, shape, {.dtype = kFloat64, .requires_grad = requires_grad});
}
Tensor scalar64(double v, bool requires_grad = true) {
  return scalar_tensor(v, {.dtype = kFloat64, .requires_grad = requires_grad});
}
using V = std::vector<double>;
}  // namespace

TEST_CASE("backward of a scalar fills the leaves' grad", "[engine]") {
  Tensor x = scalar64(3.0);
  Tensor y = x * x + x * 2.0;  // dy/dx = 2x + 2 = 8
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  CHECK(x.is_leaf());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name() == "add");
  CHECK_FALSE(x.grad().defined());
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().shape() == Shape{});
  CHECK(x.grad().dtype() == kFloat64);
  CHECK(x.grad().item<double>() == 8.0);
  // The grad of a leaf carries no history.
  CHECK_FALSE(x.grad().requires_grad());
  // Non-leaf tensors keep no grad unless asked.
  CHECK_FALSE(y.grad().defined());

  // Several leaves, one of them not requiring grad.
  Tensor a = f64({1, 2, 3}, {3});
  Tensor b = f64({4, 5, 6}, {3});
  Tensor c = f64({2, 2, 2}, {3}, false);
  sum(a * b * c).backward();  // d/da = b·c, d/db = a·c
  TG_CHECK_VALUES(a.grad(), (V{8, 10, 12}), 0, 0);
  TG_CHECK_VALUES(b.grad(), (V{2, 4, 6}), 0, 0);
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("backward with an explicit output gradient", "[engine]") {
  Tensor x = f64({1, 2, 3}, {3});
  Tensor y = x * x;
  y.backward(f64({1.0, 0.5, -1.0}, {3}, false));  // 2x · g
  TG_CHECK_VALUES(x.grad(), (V{2, 2, -6}), 0, 0);

  // A gradient of another dtype is converted to the output's dtype.
  Tensor w = tensor({1.0f, 2.0f}, {2, 1}, {.requires_grad = true});
  Tensor z = w * 3.0;
  z.backward(tensor(std::vector<double>{1.0, 2.0}, {2, 1}));
  CHECK(w.grad().dtype() == kFloat32);
  TG_CHECK_VALUES(w.grad(), (V{3, 6}), 0, 0);

  // The free-function form with several outputs: gradients add up.
  Tensor p = f64({1, 2}, {2});
  Tensor o1 = p * 2.0, o2 = p * p;
  autograd::backward({o1, o2}, {f64({1, 1}, {2}, false), f64({1, 10}, {2}, false)});
  TG_CHECK_VALUES(p.grad(), (V{2 + 2, 2 + 40}), 0, 0);
}

TEST_CASE(".grad accumulates across backward calls; zero_grad resets it", "[engine]") {
  Tensor x = f64({1, -2}, {2});
  sum(x * x).backward();  // 2x
  TG_CHECK_VALUES(x.grad(), (V{2, -4}), 0, 0);
  sum(x * 3.0).backward();  // + 3
  TG_CHECK_VALUES(x.grad(), (V{5, -1}), 0, 0);
  Tensor g_before = x.grad();
  sum(x).backward();  // + 1, out of place: an earlier grad handle is unchanged
  TG_CHECK_VALUES(x.grad(), (V{6, 0}), 0, 0);
  TG_CHECK_VALUES(g_before, (V{5, -1}), 0, 0);

  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x * 4.0).backward();
  TG_CHECK_VALUES(x.grad(), (V{4, 4}), 0, 0);

  x.set_grad(f64({10, 20}, {2}, false));
  sum(x).backward();
  TG_CHECK_VALUES(x.grad(), (V{11, 21}), 0, 0);
  REQUIRE_THROWS_AS(x.set_grad(zeros({3})), ShapeError);
}

TEST_CASE("retain_graph allows a second backward", "[engine]") {
  Tensor x = f64({0.5, 1.5}, {2});
  Tensor y = sum(exp(x) * x);  // d/dx = e^x (1 + x)
  y.backward({}, {.retain_graph = true});
  const V once{std::exp(0.5) * 1.5, std::exp(1.5) * 2.5};
  TG_CHECK_VALUES(x.grad(), once, 1e-12, 1e-12);
  y.backward();
  TG_CHECK_VALUES(x.grad(), (V{2 * once[0], 2 * once[1]}), 1e-12, 1e-12);
  REQUIRE_THROWS_AS(y.backward(), ValueError);  // the second one did not retain
}

TEST_CASE("detach cuts the graph", "[engine]") {
  Tensor x = f64({1, 2, 3}, {3});
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.storage() == y.storage());
  Tensor z = sum(d * x);  // treated as a constant: d/dx = d = 2x (not 4x)
  z.backward();
  TG_CHECK_VALUES(x.grad(), (V{2, 4, 6}), 0, 0);
  // A graph made only of detached tensors cannot be back-propagated.
  REQUIRE_THROWS_AS(sum(d * d).backward(), ValueError);
}

TEST_CASE("NoGrad stops recording, nests, and EnableGrad re-enables", "[engine]") {
  Tensor x = f64({1, 2}, {2});
  REQUIRE(autograd::grad_enabled());
  {
    NoGrad ng;
    CHECK_FALSE(autograd::grad_enabled());
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    TG_CHECK_VALUES(y, (V{2, 4}), 0, 0);
    {
      NoGrad inner;
      CHECK_FALSE(autograd::grad_enabled());
      {
        EnableGrad eg;
        CHECK(autograd::grad_enabled());
        Tensor r = x * 3.0;
        CHECK(r.requires_grad());
        CHECK(r.grad_fn() != nullptr);
      }
      CHECK_FALSE(autograd::grad_enabled());
    }
    CHECK_FALSE(autograd::grad_enabled());  // the inner scope restored "off", not "on"
  }
  CHECK(autograd::grad_enabled());
  Tensor z = x * 2.0;
  CHECK(z.requires_grad());

  autograd::set_grad_enabled(false);
  CHECK_FALSE((x * 2.0).requires_grad());
  autograd::set_grad_enabled(true);
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("grad mode is thread-local", "[engine]") {
  SECTION("NoGrad on this thread leaves another thread recording") {
    NoGrad ng;
    bool other_enabled = false, other_recorded = false;
    double other_grad = 0;
    std::thread t([&] {
      other_enabled = autograd::grad_enabled();
      Tensor a = scalar64(2.0);
      Tensor b = a * a;
      other_recorded = b.requires_grad();
      b.backward();
      other_grad = a.grad().item<double>();
    });
    t.join();
    CHECK(other_enabled);
    CHECK(other_recorded);
    CHECK(other_grad == 4.0);
    CHECK_FALSE(autograd::grad_enabled());
  }
  SECTION("NoGrad on another thread leaves this thread recording") {
    std::promise<void> entered, may_leave;
    std::future<void> leave = may_leave.get_future();
    bool other_enabled = true;
    std::thread t([&] {
      NoGrad ng;
      other_enabled = autograd::grad_enabled();
      entered.set_value();
      leave.wait();
    });
    entered.get_future().wait();  // the other thread is inside its NoGrad now
    const bool here = autograd::grad_enabled();
    Tensor x = scalar64(1.0);
    const bool recorded = (x * 2.0).requires_grad();
    may_leave.set_value();
    t.join();
    CHECK_FALSE(other_enabled);
    CHECK(here);
    CHECK(recorded);
  }
}

TEST_CASE("requires_grad_ works on leaves only", "[engine]") {
  Tensor x = ones({2});
  CHECK_FALSE(x.requires_grad());
  x.requires_grad_();
  CHECK(x.requires_grad());
  Tensor y = x * 2.0;
  REQUIRE_THROWS_AS(y.requires_grad_(), ValueError);
  REQUIRE_THROWS_AS(y.requires_grad_(false), ValueError);
  x.requires_grad_(false);
  CHECK_FALSE((x * 2.0).requires_grad());
}

TEST_CASE("grad() returns gradients without touching .grad", "[engine]") {
  Tensor x = f64({1, 2}, {2});
  Tensor y = sum(x * x * x);
  auto g = autograd::grad({y}, {x});
  REQUIRE(g.size() == 1);
  TG_CHECK_VALUES(g[0], (V{3, 12}), 0, 0);  // 3x²
  CHECK_FALSE(g[0].requires_grad());        // no create_graph: no history
  CHECK_FALSE(x.grad().defined());

  // A gradient with respect to an intermediate tensor.
  Tensor a = f64({1, 2}, {2});
  Tensor h = a * 2.0;
  Tensor out = sum(h * h);
  auto gh = autograd::grad({out}, {h, a});
  TG_CHECK_VALUES(gh[0], (V{4, 8}), 0, 0);   // 2h
  TG_CHECK_VALUES(gh[1], (V{8, 16}), 0, 0);  // 8a
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("grad() with create_graph gives second and third derivatives", "[engine]") {
  Tensor x = scalar64(1.5);
  Tensor y = x * x * x;
  auto g1 = autograd::grad({y}, {x}, {}, {.create_graph = true});
  CHECK(g1[0].item<double>() == Approx(3 * 1.5 * 1.5));  // 3x² = 6.75
  REQUIRE(g1[0].requires_grad());
  auto g2 = autograd::grad({g1[0]}, {x}, {}, {.create_graph = true});
  CHECK(g2[0].item<double>() == Approx(6 * 1.5));  // 6x = 9
  auto g3 = autograd::grad({g2[0]}, {x});
  CHECK(g3[0].item<double>() == Approx(6.0));

  // Elementwise: d²/dx² sin(x) = −sin(x), through exp and sin.
  Tensor v = f64({0.3, -1.2, 2.0}, {3});
  auto gv = autograd::grad({sum(sin(v))}, {v}, {}, {.create_graph = true});
  TG_CHECK_VALUES(gv[0], (V{std::cos(0.3), std::cos(-1.2), std::cos(2.0)}), 1e-12, 1e-12);
  auto gv2 = autograd::grad({sum(gv[0])}, {v});
  TG_CHECK_VALUES(gv2[0], (V{-std::sin(0.3), -std::sin(-1.2), -std::sin(2.0)}), 1e-12, 1e-12);

  // A mixed partial: f = x²·y ⇒ ∂²f/∂x∂y = 2x.
  Tensor a = scalar64(3.0), b = scalar64(-2.0);
  auto ga = autograd::grad({a * a * b}, {a}, {}, {.create_graph = true});  // 2ab = -12
  CHECK(ga[0].item<double>() == Approx(-12.0));
  auto gab = autograd::grad({ga[0]}, {b});
  CHECK(gab[0].item<double>() == Approx(6.0));

  // backward(create_graph) leaves a differentiable .grad.
  Tensor c = scalar64(2.0);
  (c * c * c * c).backward({}, {.create_graph = true});  // 4c³ = 32
  CHECK(c.grad().item<double>() == Approx(32.0));
  REQUIRE(c.grad().requires_grad());
  auto gc = autograd::grad({c.grad()}, {c});  // 12c² = 48
  CHECK(gc[0].item<double>() == Approx(48.0));
}

TEST_CASE("grad() with allow_unused returns undefined for unused inputs", "[engine]") {
  Tensor x = f64({1, 2}, {2});
  Tensor u = f64({5}, {1});
  Tensor y = sum(x * 3.0);
  auto g = autograd::grad({y}, {x, u}, {}, {.retain_graph = true, .allow_unused = true});
  REQUIRE(g.size() == 2);
  TG_CHECK_VALUES(g[0], (V{3, 3}), 0, 0);
  CHECK_FALSE(g[1].defined());
  REQUIRE_THROWS_AS(autograd::grad({y}, {x, u}), ValueError);
}

TEST_CASE("hooks see and may replace gradients of leaves and non-leaves", "[engine]") {
  SECTION("a hook on a leaf doubles its gradient") {
    Tensor x = f64({1, 2}, {2});
    x.register_hook([](const Tensor& g) { return g * 2.0; });
    sum(x * 3.0).backward();
    TG_CHECK_VALUES(x.grad(), (V{6, 6}), 0, 0);
  }
  SECTION("a hook on a non-leaf changes what flows further down") {
    Tensor x = f64({1, 2}, {2});
    Tensor h = x * 3.0;
    h.register_hook([](const Tensor& g) { return g * 2.0; });
    sum(h * h).backward();  // dL/dh = 2h, doubled, times 3 = 12h = 36x
    TG_CHECK_VALUES(x.grad(), (V{36, 72}), 0, 0);
  }
  SECTION("a hook returning an undefined tensor only observes") {
    Tensor x = f64({1, 2}, {2});
    Tensor seen;
    int calls = 0;
    Tensor h = exp(x);
    h.register_hook([&](const Tensor& g) {
      seen = g;
      ++calls;
      return Tensor();
    });
    sum(h * 5.0).backward();
    CHECK(calls == 1);
    TG_CHECK_VALUES(seen, (V{5, 5}), 0, 0);
    TG_CHECK_VALUES(x.grad(), (V{5 * std::exp(1.0), 5 * std::exp(2.0)}), 1e-12, 1e-12);
  }
  SECTION("hooks also run inside grad()") {
    Tensor x = scalar64(2.0);
    x.register_hook([](const Tensor& g) { return g * 10.0; });
    auto g = autograd::grad({x * x}, {x});
    CHECK(g[0].item<double>() == 40.0);
  }
  SECTION("register_hook needs a tensor that requires grad") {
    REQUIRE_THROWS_AS(ones({2}).register_hook([](const Tensor& g) { return g; }), ValueError);
  }
}

TEST_CASE("retain_grad keeps the gradient of a non-leaf", "[engine]") {
  Tensor x = f64({1, 2}, {2});
  Tensor h = x * 3.0;
  Tensor k = h + 1.0;
  h.retain_grad();
  sum(h * h).backward({}, {.retain_graph = true});
  TG_CHECK_VALUES(h.grad(), (V{6, 12}), 0, 0);  // 2h
  CHECK_FALSE(h.grad().requires_grad());
  CHECK_FALSE(k.grad().defined());
  TG_CHECK_VALUES(x.grad(), (V{18, 36}), 0, 0);
  // Accumulates like a leaf's grad.
  sum(h * h).backward();
  TG_CHECK_VALUES(h.grad(), (V{12, 24}), 0, 0);
  // On a leaf it is a no-op.
  CHECK_NOTHROW(x.retain_grad());
}

TEST_CASE("a diamond graph accumulates both paths", "[engine]") {
  Tensor x = f64({0.5, -1.0}, {2});
  Tensor a = x * 2.0;
  Tensor b = exp(x);
  sum(a * b).backward();  // d/dx (2x e^x) = 2e^x + 2x e^x
  TG_CHECK_VALUES(x.grad(), (V{2 * std::exp(0.5) * 1.5, 2 * std::exp(-1.0) * 0.0}), 1e-12, 1e-12);

  // x used twice by one op, and a shared intermediate used by two branches.
  Tensor y = f64({3.0}, {1});
  Tensor s = y * y;            // y²
  Tensor t = s * y + s * 2.0;  // y³ + 2y²
  sum(t).backward();           // 3y² + 4y = 39
  TG_CHECK_VALUES(y.grad(), (V{39}), 0, 1e-15);

  // A deep diamond: the same tensor reaches the output along 20 paths of different lengths.
  Tensor z = scalar64(1.0);
  Tensor acc = z;
  for (int i = 0; i < 20; ++i) acc = acc + z;  // 21 z
  acc = acc * z;                               // 21 z² ⇒ 42 z
  acc.backward();
  CHECK(z.grad().item<double>() == 42.0);
}

TEST_CASE("a 1,000,000-op chain builds, back-propagates and is destroyed iteratively",
          "[engine]") {
  constexpr int kN = 1000000;
  SECTION("y = y * 1.00001 repeated") {
    Tensor x = scalar64(1.0);
    Tensor y = x;
    for (int i = 0; i < kN; ++i) y = y * 1.00001;
    CHECK(y.item<double>() == Approx(std::pow(1.00001, kN)).epsilon(1e-9));
    y.backward();
    // dy/dx = 1.00001^N ≈ 22026.4 (e^10)
    CHECK(x.grad().item<double>() == Approx(std::pow(1.00001, kN)).epsilon(1e-9));
    y = Tensor();  // frees the chain
    CHECK(x.grad().defined());
  }
  SECTION("y = y + x repeated") {
    Tensor x = f64({2.0, -1.0}, {2});
    Tensor y = x;
    for (int i = 0; i < kN; ++i) y = y + x;
    TG_CHECK_VALUES(y, (V{2.0 * (kN + 1), -1.0 * (kN + 1)}), 0, 0);
    sum(y).backward();
    TG_CHECK_VALUES(x.grad(), (V{kN + 1.0, kN + 1.0}), 0, 0);
  }
  SECTION("a chain destroyed without a backward") {
    Tensor x = scalar64(1.0);
    Tensor y = exp(x * 0.0);
    for (int i = 0; i < kN; ++i) y = y * 1.0;
    CHECK(y.item<double>() == 1.0);
    y = Tensor();
    SUCCEED("destroyed without overflowing the stack");
  }
}

TEST_CASE("in-place ops on a non-leaf keep history", "[engine]") {
  Tensor x = f64({1, 2, 3}, {3});
  Tensor y = x * 2.0;  // 2x
  y.add_(x);           // 3x
  y.mul_(x);           // 3x²
  y += 1.0;            // 3x² + 1
  y *= 2.0;            // 6x² + 2
  TG_CHECK_VALUES(y, (V{8, 26, 56}), 0, 0);
  sum(y).backward();  // 12x
  TG_CHECK_VALUES(x.grad(), (V{12, 24, 36}), 0, 0);

  // With an operand that does not require grad, and one that does.
  Tensor a = f64({1, 2}, {2});
  Tensor c = f64({3, 5}, {2});
  Tensor z = a * 1.0;
  z *= f64({2, 3}, {2}, false);  // 2a, 3a
  z -= c;                        // − c
  z /= c;                        // (k a − c) / c
  sum(z).backward();
  TG_CHECK_VALUES(a.grad(), (V{2.0 / 3.0, 3.0 / 5.0}), 1e-15, 1e-12);
  // d/dc ((k a − c)/c) = −k a / c²
  TG_CHECK_VALUES(c.grad(), (V{-2.0 / 9.0, -6.0 / 25.0}), 1e-15, 1e-12);

  // copy_ into a non-leaf: the gradient flows to the source, not to the old history.
  Tensor p = f64({1, 1}, {2});
  Tensor q = f64({4, 5}, {2});
  Tensor r = p * 7.0;
  r.copy_(q * q);
  sum(r).backward();
  CHECK_FALSE(p.grad().defined());
  TG_CHECK_VALUES(q.grad(), (V{8, 10}), 0, 0);
}

TEST_CASE("an in-place op on a non-leaf that another op saved is caught", "[engine]") {
  Tensor x = f64({1, 2}, {2});
  Tensor y = exp(x);
  Tensor z = y * y;  // saves y
  y.add_(1.0);
  REQUIRE_THROWS_AS(sum(z).backward(), ValueError);
  // Ops after the in-place write see the new values and differentiate correctly.
  Tensor x2 = f64({1, 2}, {2});
  Tensor y2 = x2 * 1.0;
  y2.add_(1.0);         // x + 1
  Tensor z2 = y2 * y2;  // (x + 1)²
  sum(z2).backward();   // 2(x + 1)
  TG_CHECK_VALUES(x2.grad(), (V{4, 6}), 0, 0);
}

TEST_CASE("gradients through views are right", "[engine]") {
  // x = [[0, 1, 2], [3, 4, 5]]
  auto make = [] { return f64({0, 1, 2, 3, 4, 5}, {2, 3}); };
  SECTION("slice with a step") {
    Tensor x = make();
    Tensor w = f64({1, 2, 3, 4}, {2, 2}, false);
    sum(x.slice(1, 0, 3, 2) * w).backward();
    TG_CHECK_VALUES(x.grad(), (V{1, 0, 2, 3, 0, 4}), 0, 0);
  }
  SECTION("slice with negative bounds") {
    Tensor x = make();
    sum(x.slice(1, -2, 3) * 10.0).backward();
    TG_CHECK_VALUES(x.grad(), (V{0, 10, 10, 0, 10, 10}), 0, 0);
  }
  SECTION("select and operator[]") {
    Tensor x = make();
    sum(x.select(0, 1) * f64({1, 2, 3}, {3}, false)).backward();
    TG_CHECK_VALUES(x.grad(), (V{0, 0, 0, 1, 2, 3}), 0, 0);
    x.zero_grad();
    sum(x[0] * x[1]).backward();  // d/dx0 = x1, d/dx1 = x0
    TG_CHECK_VALUES(x.grad(), (V{3, 4, 5, 0, 1, 2}), 0, 0);
    x.zero_grad();
    (x[1][2] * x[1][2]).backward();  // 2 · 5 at [1][2]
    TG_CHECK_VALUES(x.grad(), (V{0, 0, 0, 0, 0, 10}), 0, 0);
  }
  SECTION("transpose and permute") {
    Tensor x = make();
    Tensor w = f64({1, 2, 3, 4, 5, 6}, {3, 2}, false);
    sum(x.t() * w).backward();  // grad[i][j] = w[j][i]
    TG_CHECK_VALUES(x.grad(), (V{1, 3, 5, 2, 4, 6}), 0, 0);
    Tensor y = f64({0, 1, 2, 3, 4, 5, 6, 7}, {2, 2, 2});
    Tensor m = f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}, false);
    sum(y.permute({2, 0, 1}) * m).backward();  // grad[i][j][k] = m[k][i][j]
    V expect;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        for (int k = 0; k < 2; ++k) expect.push_back(1 + k * 4 + i * 2 + j);
    TG_CHECK_VALUES(y.grad(), expect, 0, 0);
  }
  SECTION("expand and broadcast sum the gradient back") {
    Tensor v = f64({1, 2, 3}, {3});
    Tensor m = arange(0.0, 12.0, 1.0, {.dtype = kFloat64}).reshape({4, 3});
    sum(v.expand({4, 3}) * m).backward();  // column sums of m
    TG_CHECK_VALUES(v.grad(), (V{18, 22, 26}), 0, 0);
    Tensor col = f64({1, 2}, {2, 1});
    sum(col.broadcast_to({2, 5})).backward();
    TG_CHECK_VALUES(col.grad(), (V{5, 5}), 0, 0);
    // Implicit broadcasting in a binary op does the same.
    Tensor b = f64({0, 0, 0}, {3});
    sum(m + b).backward();
    TG_CHECK_VALUES(b.grad(), (V{4, 4, 4}), 0, 0);
  }
  SECTION("reshape, flatten, squeeze and unsqueeze") {
    Tensor x = make();
    Tensor w = f64({1, 2, 3, 4, 5, 6}, {3, 2}, false);
    sum(x.reshape({3, 2}) * w).backward();
    TG_CHECK_VALUES(x.grad(), (V{1, 2, 3, 4, 5, 6}), 0, 0);
    x.zero_grad();
    sum(x.t().flatten() * f64({1, 2, 3, 4, 5, 6}, {6}, false)).backward();  // x.t() = [0,3,1,4,2,5]
    TG_CHECK_VALUES(x.grad(), (V{1, 3, 5, 2, 4, 6}), 0, 0);
    x.zero_grad();
    sum(x.unsqueeze(0).squeeze(0) * 2.0).backward();
    TG_CHECK_VALUES(x.grad(), (V{2, 2, 2, 2, 2, 2}), 0, 0);
  }
  SECTION("overlapping slices accumulate") {
    Tensor x = f64({1, 2, 3, 4}, {4});
    sum(x.slice(0, 0, 3) + x.slice(0, 1, 4)).backward();
    TG_CHECK_VALUES(x.grad(), (V{1, 2, 2, 1}), 0, 0);
  }
}

TEST_CASE("an in-place op through a view of a tensor in the graph is not silently wrong",
          "[engine]") {
  // y = x·1, then y[0] *= 2 through a view: d sum(y)/dx = [2, 1, 1]. Either the library
  // rebases y's history and gives that, or it refuses the in-place op.
  Tensor x = f64({1, 1, 1}, {3});
  Tensor y = x * 1.0;
  bool refused = false;
  try {
    Tensor v = y.slice(0, 0, 1);
    v.mul_(2.0);
  } catch (const ValueError&) {
    refused = true;
  }
  if (!refused) {
    TG_CHECK_VALUES(y, (V{2, 1, 1}), 0, 0);
    sum(y).backward();
    TG_CHECK_VALUES(x.grad(), (V{2, 1, 1}), 0, 0);
  } else {
    SUCCEED("refused");
  }

  // A view of a leaf that requires grad must not be written in place with recording.
  Tensor w = f64({1, 2}, {2});
  bool leaf_refused = false;
  try {
    Tensor v = w.select(0, 0);
    v.mul_(3.0);
  } catch (const ValueError&) {
    leaf_refused = true;
  }
  CHECK(leaf_refused);
  CHECK(w.to_vector<double>() == V{1, 2});
}

TEST_CASE("fill_ through a view of a tensor in the graph is not silently wrong", "[engine]") {
  // y = x·1, then y[0] = 5 through a view: d sum(y)/dx = [0, 1, 1].
  Tensor x = f64({1, 1, 1}, {3});
  Tensor y = x * 1.0;
  bool refused = false;
  try {
    y.slice(0, 0, 1).fill_(5.0);
  } catch (const ValueError&) {
    refused = true;
  }
  if (!refused) {
    TG_CHECK_VALUES(y, (V{5, 1, 1}), 0, 0);
    sum(y).backward();
    TG_CHECK_VALUES(x.grad(), (V{0, 1, 1}), 0, 0);
  } else {
    TG_CHECK_VALUES(y, (V{1, 1, 1}), 0, 0);
  }

  // A view of a leaf that requires grad must not be filled while recording.
  Tensor w = f64({1, 2}, {2});
  REQUIRE_THROWS_AS(w[0].fill_(0.0), ValueError);
  CHECK(w.to_vector<double>() == V{1, 2});
  // Under NoGrad it is allowed (parameter initialisation).
  {
    NoGrad ng;
    w[0].fill_(0.0);
  }
  CHECK(w.to_vector<double>() == V{0, 2});
}

TEST_CASE("an in-place op with a grad-requiring operand into a view of a constant", "[engine]") {
  // buf[0] += x: either refused, or buf takes the history so the gradient reaches x.
  Tensor x = f64({2}, {1});
  Tensor buf = zeros({3}, {.dtype = kFloat64});
  bool refused = false;
  try {
    buf.slice(0, 0, 1).add_(x);
  } catch (const ValueError&) {
    refused = true;
  }
  if (!refused) {
    REQUIRE(buf.requires_grad());
    sum(buf * 3.0).backward();
    TG_CHECK_VALUES(x.grad(), (V{3}), 0, 0);
  } else {
    CHECK(buf.to_vector<double>() == V{0, 0, 0});
  }
}
