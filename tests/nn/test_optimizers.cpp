// Optimizers: the first steps of each Keras optimizer on a tiny float64 parameter with fixed
// gradients, against the Keras 3 update rules written out here in double; clipping, weight
// decay, schedules, state round trips, and convergence on a least-squares problem.
#include <algorithm>
#include <cmath>
#include <functional>

#include "test_util.hpp"

using namespace tg;

namespace {
using V = std::vector<double>;
using G = std::vector<V>;  // one gradient per step
using tg::test::values;

Tensor f64(const V& v) { return tensor(v, {static_cast<int64_t>(v.size())}, {.dtype = kFloat64}); }

/// Applies the gradients step by step to p0 and returns p after each step.
G run(optim::Optimizer& opt, const V& p0, const G& grads) {
  Tensor p = f64(p0);
  G out;
  for (const V& g : grads) {
    opt.apply_gradients({p}, {f64(g)});
    out.push_back(values(p));
  }
  return out;
}

/// A reference update of one scalar: state is per element, t is 1-based.
using Rule = std::function<double(double p, double g, int t, std::vector<double>& state)>;

/// The reference trajectory of p0 under a per-element rule.
G reference(const V& p0, const G& grads, size_t n_state, const Rule& rule, const V& state0 = {}) {
  V p = p0;
  std::vector<V> st(p0.size(), state0.empty() ? V(n_state, 0.0) : state0);
  G out;
  for (size_t s = 0; s < grads.size(); ++s) {
    for (size_t i = 0; i < p.size(); ++i)
      p[i] = rule(p[i], grads[s][i], static_cast<int>(s) + 1, st[i]);
    out.push_back(p);
  }
  return out;
}

void check_same(const G& got, const G& want, double rtol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t s = 0; s < got.size(); ++s) {
    INFO("step " << s + 1);
    std::string msg = tg::test::compare_values(got[s], want[s], 1e-14, rtol);
    INFO(msg);
    CHECK(msg.empty());
  }
}

const V kP0{0.5, -1.5, 2.0};
const G kGrads{{0.2, -0.4, 1.0}, {-0.1, 0.3, 0.01}, {0.05, 0.5, -0.02}};
constexpr double kE = 1e-7;  // Keras' epsilon
}  // namespace

TEST_CASE("SGD: plain, momentum and Nesterov", "[optimizers]") {
  optim::SGD plain({.learning_rate = 0.1});
  check_same(run(plain, kP0, kGrads),
             reference(kP0, kGrads, 0, [](double p, double g, int, V&) { return p - 0.1 * g; }));
  CHECK(plain.iterations() == 3);
  CHECK(plain.name() == "SGD");
  optim::SGD dflt;
  CHECK(dflt.learning_rate() == 0.01);  // Keras' default

  optim::SGD mom({.learning_rate = 0.1, .momentum = 0.9});
  check_same(run(mom, kP0, kGrads), reference(kP0, kGrads, 1, [](double p, double g, int, V& s) {
               s[0] = 0.9 * s[0] - 0.1 * g;  // m = μm − lr·g
               return p + s[0];
             }));
  optim::SGD nest({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  check_same(run(nest, kP0, kGrads), reference(kP0, kGrads, 1, [](double p, double g, int, V& s) {
               s[0] = 0.9 * s[0] - 0.1 * g;
               return p + 0.9 * s[0] - 0.1 * g;
             }));
  CHECK_THROWS_AS(optim::SGD({.momentum = 1.5}), ValueError);
}

TEST_CASE("RMSprop: plain, centered and with momentum (ε inside the root)", "[optimizers]") {
  optim::RMSprop dflt;
  CHECK(dflt.learning_rate() == 0.001);
  optim::RMSprop plain({.learning_rate = 0.1});
  check_same(run(plain, kP0, kGrads), reference(kP0, kGrads, 1, [](double p, double g, int, V& s) {
               s[0] = 0.9 * s[0] + 0.1 * g * g;
               return p - 0.1 * g / std::sqrt(s[0] + kE);
             }));
  optim::RMSprop centered({.learning_rate = 0.1, .centered = true});
  check_same(run(centered, kP0, kGrads),
             reference(kP0, kGrads, 2, [](double p, double g, int, V& s) {
               s[0] = 0.9 * s[0] + 0.1 * g * g;  // velocity
               s[1] = 0.9 * s[1] + 0.1 * g;      // average gradient
               return p - 0.1 * g / std::sqrt(s[0] - s[1] * s[1] + kE);
             }));
  optim::RMSprop mom({.learning_rate = 0.1, .rho = 0.8, .momentum = 0.5});
  check_same(run(mom, kP0, kGrads), reference(kP0, kGrads, 2, [](double p, double g, int, V& s) {
               s[0] = 0.8 * s[0] + 0.2 * g * g;
               s[1] = 0.5 * s[1] + 0.1 * g / std::sqrt(s[0] + kE);
               return p - s[1];
             }));
}

TEST_CASE("Adam, AMSGrad and AdamW", "[optimizers]") {
  auto adam_rule = [](double lr, bool amsgrad) {
    return [lr, amsgrad](double p, double g, int t, V& s) {
      s[0] = 0.9 * s[0] + 0.1 * g;
      s[1] = 0.999 * s[1] + 0.001 * g * g;
      s[2] = std::max(s[2], s[1]);
      const double alpha = lr * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
      return p - alpha * s[0] / (std::sqrt(amsgrad ? s[2] : s[1]) + kE);
    };
  };
  optim::Adam adam({.learning_rate = 0.1});
  check_same(run(adam, kP0, kGrads), reference(kP0, kGrads, 3, adam_rule(0.1, false)));
  // A large then a small gradient: v shrinks, AMSGrad keeps its maximum.
  const G shrink{{1.0, -1.0, 0.5}, {0.01, 0.01, 0.0}, {0.02, -0.03, 0.01}};
  optim::Adam ams({.learning_rate = 0.1, .amsgrad = true});
  const G ams_got = run(ams, kP0, shrink);
  check_same(ams_got, reference(kP0, shrink, 3, adam_rule(0.1, true)));
  optim::Adam plain2({.learning_rate = 0.1});
  CHECK(run(plain2, kP0, shrink)[1] != ams_got[1]);

  // AdamW: p −= p·wd·lr, then the Adam step.
  optim::AdamW adamw({.learning_rate = 0.1});
  CHECK(adamw.name() == "AdamW");
  check_same(run(adamw, kP0, kGrads),
             reference(kP0, kGrads, 3, [&](double p, double g, int t, V& s) {
               return adam_rule(0.1, false)(p - p * 0.004 * 0.1, g, t,
                                            s);  // weight_decay defaults to 0.004
             }));
  optim::AdamW adamw2({.learning_rate = 0.1, .weight_decay = 0.5, .amsgrad = true});
  check_same(run(adamw2, kP0, shrink),
             reference(kP0, shrink, 3, [&](double p, double g, int t, V& s) {
               return adam_rule(0.1, true)(p - p * 0.5 * 0.1, g, t, s);
             }));
}

TEST_CASE("Adagrad, Adadelta, Adamax and Nadam", "[optimizers]") {
  optim::Adagrad adagrad({.learning_rate = 0.1});
  check_same(run(adagrad, kP0, kGrads), reference(
                                            kP0, kGrads, 1,
                                            [](double p, double g, int, V& s) {
                                              s[0] += g * g;  // the accumulator starts at 0.1
                                              return p - 0.1 * g / std::sqrt(s[0] + kE);
                                            },
                                            V{0.1}));

  optim::Adadelta adadelta({.learning_rate = 0.5});
  check_same(run(adadelta, kP0, kGrads),
             reference(kP0, kGrads, 2, [](double p, double g, int, V& s) {
               s[0] = 0.95 * s[0] + 0.05 * g * g;
               const double delta = std::sqrt(s[1] + kE) / std::sqrt(s[0] + kE) * g;
               s[1] = 0.95 * s[1] + 0.05 * delta * delta;
               return p - 0.5 * delta;
             }));

  optim::Adamax adamax({.learning_rate = 0.1});
  check_same(run(adamax, kP0, kGrads),
             reference(kP0, kGrads, 2, [](double p, double g, int t, V& s) {
               s[0] = 0.9 * s[0] + 0.1 * g;
               s[1] = std::max(0.999 * s[1], std::abs(g));
               return p - 0.1 / (1 - std::pow(0.9, t)) * s[0] / (s[1] + kE);
             }));

  // Nadam with Keras 3's momentum schedule: μ_t = β₁·(1 − ½·0.96^t).
  optim::Nadam nadam({.learning_rate = 0.1});
  double u_product = 1.0;
  int last_t = 0;
  check_same(
      run(nadam, kP0, kGrads), reference(kP0, kGrads, 2, [&](double p, double g, int t, V& s) {
        const double u_t = 0.9 * (1 - 0.5 * std::pow(0.96, t));
        const double u_t1 = 0.9 * (1 - 0.5 * std::pow(0.96, t + 1));
        if (t != last_t) {  // once per step, not per element
          u_product *= u_t;
          last_t = t;
        }
        const double u_product_t1 = u_product * u_t1;
        s[0] = 0.9 * s[0] + 0.1 * g;
        s[1] = 0.999 * s[1] + 0.001 * g * g;
        const double m_hat = u_t1 * s[0] / (1 - u_product_t1) + (1 - u_t) * g / (1 - u_product);
        const double v_hat = s[1] / (1 - std::pow(0.999, t));
        return p - 0.1 * m_hat / (std::sqrt(v_hat) + kE);
      }));
}

TEST_CASE("clipnorm, clipvalue, global_clipnorm and weight_decay", "[optimizers]") {
  // clipnorm: a gradient of norm 5 is scaled to norm 1; a small one is left alone.
  optim::SGD cn({.learning_rate = 1.0, .clipnorm = 1.0});
  check_same(run(cn, {0, 0}, {{3, 4}, {0.3, 0.4}}), G{{-0.6, -0.8}, {-0.9, -1.2}});
  // clipvalue clips each element.
  optim::SGD cv({.learning_rate = 1.0, .clipvalue = 0.5});
  check_same(run(cv, {0, 0}, {{3, -0.2}, {-7, 0.5}}), G{{-0.5, 0.2}, {0.0, -0.3}});
  // global_clipnorm scales all gradients by one factor; clipnorm clips each parameter alone.
  Tensor a = f64({0, 0}), b = f64({0, 0});
  optim::SGD gcn({.learning_rate = 1.0, .global_clipnorm = 1.0});
  gcn.apply_gradients({a, b}, {f64({3, 0}), f64({0, 4})});
  check_same({values(a), values(b)}, G{{-0.6, 0}, {0, -0.8}});
  Tensor c = f64({0, 0}), d = f64({0, 0});
  optim::SGD per({.learning_rate = 1.0, .clipnorm = 1.0});
  per.apply_gradients({c, d}, {f64({3, 0}), f64({0, 4})});
  check_same({values(c), values(d)}, G{{-1, 0}, {0, -1}});
  // Decoupled weight decay: p −= p·wd·lr before the update, for any optimizer.
  optim::SGD wd({.learning_rate = 0.1, .weight_decay = 0.5});
  check_same(run(wd, kP0, kGrads), reference(kP0, kGrads, 0, [](double p, double g, int, V&) {
               return p - p * 0.05 - 0.1 * g;
             }));
  optim::RMSprop rwd({.learning_rate = 0.1, .weight_decay = 0.2});
  check_same(run(rwd, kP0, kGrads), reference(kP0, kGrads, 1, [](double p, double g, int, V& s) {
               p -= p * 0.2 * 0.1;
               s[0] = 0.9 * s[0] + 0.1 * g * g;
               return p - 0.1 * g / std::sqrt(s[0] + kE);
             }));
  // Undefined gradients are skipped; a wrong shape is an error.
  Tensor e = f64({1, 2});
  optim::SGD skip({.learning_rate = 1.0});
  skip.apply_gradients({e}, {Tensor()});
  CHECK(values(e) == V{1, 2});
  CHECK_THROWS_AS(skip.apply_gradients({e}, {f64({1, 2, 3})}), ShapeError);
  CHECK_THROWS_AS(skip.apply_gradients({e}, {}), ValueError);
  // step() reads the parameters' own gradients.
  Tensor q = f64({1, 2}).requires_grad_();
  sum(q * q).backward();  // grad 2q
  optim::SGD by_grad({.learning_rate = 0.25});
  by_grad.step({q});
  CHECK(values(q) == V{0.5, 1.0});
}

TEST_CASE("learning-rate schedules", "[optimizers][schedules]") {
  using namespace optim::schedules;
  auto ed = exponential_decay(0.1, 10, 0.5);
  CHECK(ed(0) == Approx(0.1));
  CHECK(ed(5) == Approx(0.1 * std::pow(0.5, 0.5)));
  CHECK(ed(20) == Approx(0.025));
  auto st = exponential_decay(0.1, 10, 0.5, true);
  CHECK(st(9) == Approx(0.1));
  CHECK(st(15) == Approx(0.05));
  CHECK_THROWS_AS(exponential_decay(0.1, 0, 0.5), ValueError);

  auto pc = piecewise_constant({10, 20}, {1.0, 0.5, 0.1});
  CHECK(pc(0) == 1.0);
  CHECK(pc(10) == 1.0);
  CHECK(pc(11) == 0.5);
  CHECK(pc(20) == 0.5);
  CHECK(pc(21) == 0.1);
  CHECK_THROWS_AS(piecewise_constant({10}, {1.0}), ValueError);

  auto cd = cosine_decay(0.1, 100, 0.1);
  CHECK(cd(0) == Approx(0.1));
  CHECK(cd(50) == Approx(0.1 * (0.9 * 0.5 + 0.1)));
  CHECK(cd(100) == Approx(0.01));
  CHECK(cd(500) == Approx(0.01));  // stays at alpha · initial
  // Warm-up from 0 to 0.2 over 10 steps, then cosine decay from 0.2 over 100 steps.
  auto wu = cosine_decay(0.0, 100, 0.0, 0.2, 10);
  CHECK(wu(0) == Approx(0.0).margin(1e-15));
  CHECK(wu(5) == Approx(0.1));
  CHECK(wu(10) == Approx(0.2));
  CHECK(wu(60) == Approx(0.2 * 0.5 * (1 + std::cos(M_PI * 0.5))));
  CHECK(wu(110) == Approx(0.0).margin(1e-15));

  // An optimizer reads its schedule at its iteration count.
  optim::SGD sgd({.learning_rate = exponential_decay(1.0, 1, 0.5)});
  CHECK(sgd.learning_rate() == 1.0);
  check_same(run(sgd, {0}, {{1}, {1}, {1}}), G{{-1}, {-1.5}, {-1.75}});
  CHECK(sgd.learning_rate() == Approx(0.125));
  // set_learning_rate replaces the schedule by a constant.
  sgd.set_learning_rate(0.01);
  CHECK(sgd.learning_rate() == 0.01);
  optim::LearningRate lr(piecewise_constant({0}, {1.0, 2.0}));
  CHECK(lr.is_schedule());
  CHECK(lr.at(1) == 2.0);
}

TEST_CASE("state() and load_state() continue a run identically", "[optimizers][state]") {
  const std::vector<std::function<std::shared_ptr<optim::Optimizer>()>> makers = {
      [] {
        return std::make_shared<optim::SGD>(
            optim::SGDOptions{.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
      },
      [] {
        return std::make_shared<optim::RMSprop>(
            optim::RMSpropOptions{.learning_rate = 0.1, .momentum = 0.5, .centered = true});
      },
      [] {
        return std::make_shared<optim::Adam>(
            optim::AdamOptions{.learning_rate = 0.1, .amsgrad = true});
      },
      [] { return std::make_shared<optim::AdamW>(optim::AdamWOptions{.learning_rate = 0.1}); },
      [] { return std::make_shared<optim::Adagrad>(optim::AdagradOptions{.learning_rate = 0.1}); },
      [] {
        return std::make_shared<optim::Adadelta>(optim::AdadeltaOptions{.learning_rate = 0.5});
      },
      [] { return std::make_shared<optim::Adamax>(optim::AdamaxOptions{.learning_rate = 0.1}); },
      [] { return std::make_shared<optim::Nadam>(optim::NadamOptions{.learning_rate = 0.1}); },
  };
  const G g1{{0.2, -0.4}, {-0.1, 0.3}, {0.05, 0.5}, {0.3, 0.1}, {-0.2, 0.2}};
  const G g2{{1.0}, {-0.5}, {0.25}, {0.1}, {-0.3}};
  for (const auto& make : makers) {
    auto opt = make();
    INFO(opt->name());
    Tensor a = f64({0.5, -1.5}), b = f64({2.0});
    for (int s = 0; s < 3; ++s) opt->apply_gradients({a, b}, {f64(g1[s]), f64(g2[s])});
    // Snapshot: parameters, state (copied: the optimizer updates it in place) and step count.
    std::vector<std::pair<std::string, Tensor>> state;
    for (auto& [n, t] : opt->state()) state.emplace_back(n, t.clone());
    CHECK_FALSE(state.empty());
    for (auto& [n, t] : state) CHECK((n.rfind("0/", 0) == 0 || n.rfind("1/", 0) == 0));
    Tensor a2 = a.clone(), b2 = b.clone();
    const int64_t iters = opt->iterations();
    CHECK(iters == 3);
    // The original continues...
    for (int s = 3; s < 5; ++s) opt->apply_gradients({a, b}, {f64(g1[s]), f64(g2[s])});
    // ... and a fresh copy restored from the snapshot follows exactly.
    auto fresh = opt->clone();
    CHECK(fresh->iterations() == 0);
    CHECK(fresh->state().empty());
    fresh->load_state({a2, b2}, state, iters);
    CHECK(fresh->iterations() == 3);
    for (int s = 3; s < 5; ++s) fresh->apply_gradients({a2, b2}, {f64(g1[s]), f64(g2[s])});
    CHECK(values(a2) == values(a));
    CHECK(values(b2) == values(b));
  }
  // Mismatched state is refused.
  optim::Adam adam;
  Tensor p = f64({1, 2});
  adam.apply_gradients({p}, {f64({1, 1})});
  auto st = adam.state();
  CHECK_THROWS_AS(optim::Adam().load_state({f64({1, 2, 3})}, st, 1), ShapeError);
  CHECK_THROWS_AS(optim::Adam().load_state({}, st, 1), ValueError);
  CHECK_THROWS_AS(optim::Adam().load_state({p}, {{"m", p}}, 1), ValueError);
}

TEST_CASE("every optimizer solves a small least-squares problem", "[optimizers][convergence]") {
  manual_seed(60);
  Tensor A = randn({16, 3});
  Tensor w_true = tensor(std::vector<float>{1.0f, -2.0f, 0.5f}, {3, 1});
  Tensor b = matmul(A, w_true);
  struct Case {
    const char* name;
    std::function<std::shared_ptr<optim::Optimizer>()> make;
    int steps;
    double bar;
  };
  const std::vector<Case> cases = {
      {"SGD", [] { return std::make_shared<optim::SGD>(optim::SGDOptions{.learning_rate = 0.1}); },
       300, 1e-8},
      {"SGD momentum",
       [] {
         return std::make_shared<optim::SGD>(
             optim::SGDOptions{.learning_rate = 0.02, .momentum = 0.9});
       },
       300, 1e-8},
      {"SGD nesterov",
       [] {
         return std::make_shared<optim::SGD>(
             optim::SGDOptions{.learning_rate = 0.02, .momentum = 0.9, .nesterov = true});
       },
       300, 1e-8},
      {"RMSprop",
       [] {
         return std::make_shared<optim::RMSprop>(optim::RMSpropOptions{.learning_rate = 0.01});
       },
       600, 1e-3},
      {"RMSprop centered",
       [] {
         return std::make_shared<optim::RMSprop>(
             optim::RMSpropOptions{.learning_rate = 0.01, .centered = true});
       },
       600, 1e-3},
      {"Adam",
       [] { return std::make_shared<optim::Adam>(optim::AdamOptions{.learning_rate = 0.05}); }, 600,
       1e-4},
      {"AMSGrad",
       [] {
         return std::make_shared<optim::Adam>(
             optim::AdamOptions{.learning_rate = 0.05, .amsgrad = true});
       },
       600, 1e-4},
      {"AdamW",
       [] {
         return std::make_shared<optim::AdamW>(
             optim::AdamWOptions{.learning_rate = 0.05, .weight_decay = 0.001});
       },
       600, 1e-3},
      {"Adagrad",
       [] { return std::make_shared<optim::Adagrad>(optim::AdagradOptions{.learning_rate = 0.5}); },
       600, 1e-4},
      {"Adadelta",
       [] {
         return std::make_shared<optim::Adadelta>(optim::AdadeltaOptions{.learning_rate = 1.0});
       },
       2000, 1e-3},
      {"Adamax",
       [] { return std::make_shared<optim::Adamax>(optim::AdamaxOptions{.learning_rate = 0.05}); },
       600, 1e-4},
      {"Nadam",
       [] { return std::make_shared<optim::Nadam>(optim::NadamOptions{.learning_rate = 0.05}); },
       600, 1e-4},
  };
  for (const Case& c : cases) {
    auto opt = c.make();
    Tensor w = zeros({3, 1}).requires_grad_();
    auto loss = [&] { return mean(square(matmul(A, w) - b)); };
    const double initial = loss().item<double>();
    for (int s = 0; s < c.steps; ++s) {
      Tensor l = loss();
      opt->apply_gradients({w}, autograd::grad({l}, {w}));
    }
    const double final_loss = loss().item<double>();
    INFO(c.name << ": loss " << initial << " -> " << final_loss);
    CHECK(final_loss < c.bar);
  }
}
