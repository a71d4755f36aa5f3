// The fused optimizer-update ops (autograd/optim.hpp) on the reference backend: every rule and
// variant for a few steps against the op-sequence formula nn/optimizer.cpp used before the
// fused kernels, written out here with tapegrad ops in float64 (and in float32 at float
// tolerance); then the ops' validation.
#include <cmath>
#include <string>

#include "tapegrad/autograd/optim.hpp"
#include "tapegrad/core/registry.hpp"
#include "test_util.hpp"

using namespace tg;

/// expr throws Type, with a message containing the matcher's text.
#define CHECK_FAILS(expr, Type, matcher) \
  do {                                   \
    CHECK_THROWS_AS(expr, Type);         \
    CHECK_THROWS_WITH(expr, matcher);    \
  } while (0)

namespace {

/// The rules and variants under test (this test's own list: the library has one op per rule,
/// variants chosen by which state tensors are defined).
enum class OptimizerKind {
  Sgd,
  SgdMomentum,
  SgdNesterov,
  RMSprop,
  RMSpropMomentum,
  RMSpropCentered,
  RMSpropCenteredMomentum,
  Adam,
  AdamAmsgrad,
  Adagrad,
  Adadelta,
  Adamax,
  Nadam,
};

struct Rule {
  const char* name;
  OptimizerKind kind;
  int n_slots;
  double slot_init = 0.0;
};

/// The scalars of step t (1-based), as nn/optimizer.cpp computes them.
OptimizerScalars scalars(OptimizerKind kind, double t, double& u_product) {
  OptimizerScalars u;
  u.lr = 0.01;
  u.beta_1 = 0.9;
  u.beta_2 = 0.999;
  u.epsilon = 1e-7;
  u.rho = kind == OptimizerKind::Adadelta ? 0.95 : 0.9;
  u.momentum = 0.8;
  if (kind == OptimizerKind::Adam || kind == OptimizerKind::AdamAmsgrad)
    u.step_size = u.lr * std::sqrt(1.0 - std::pow(u.beta_2, t)) / (1.0 - std::pow(u.beta_1, t));
  if (kind == OptimizerKind::Adamax) u.step_size = u.lr / (1.0 - std::pow(u.beta_1, t));
  if (kind == OptimizerKind::Nadam) {
    const double u_t = u.beta_1 * (1.0 - 0.5 * std::pow(0.96, t));
    const double u_t1 = u.beta_1 * (1.0 - 0.5 * std::pow(0.96, t + 1));
    const double prod_t = u_product * u_t, prod_t1 = prod_t * u_t1;
    u_product = prod_t;
    u.m_coef = u_t1 / (1.0 - prod_t1);
    u.g_coef = (1.0 - u_t) / (1.0 - prod_t);
    u.v_correction = 1.0 - std::pow(u.beta_2, t);
  }
  return u;
}

/// The update as the op sequence nn/optimizer.cpp ran before (in place on p and s).
void op_sequence(OptimizerKind kind, Tensor& p, const Tensor& g, std::vector<Tensor>& s,
                 const OptimizerScalars& u) {
  using K = OptimizerKind;
  switch (kind) {
    case K::Sgd:
      p.sub_(mul(g, u.lr));
      return;
    case K::SgdMomentum:
    case K::SgdNesterov:
      s[0].mul_(u.momentum).sub_(mul(g, u.lr));
      if (kind == K::SgdNesterov)
        p.add_(sub(mul(s[0], u.momentum), mul(g, u.lr)));
      else
        p.add_(s[0]);
      return;
    case K::RMSprop:
    case K::RMSpropMomentum:
    case K::RMSpropCentered:
    case K::RMSpropCenteredMomentum: {
      const bool centered = kind == K::RMSpropCentered || kind == K::RMSpropCenteredMomentum;
      const bool momentum = kind == K::RMSpropMomentum || kind == K::RMSpropCenteredMomentum;
      Tensor v = s[0];
      v.mul_(u.rho).add_(mul(square(g), 1.0 - u.rho));
      Tensor denom = v;
      if (centered) {
        s[1].mul_(u.rho).add_(mul(g, 1.0 - u.rho));
        denom = sub(v, square(s[1]));
      }
      Tensor inc = div(mul(g, u.lr), sqrt(add(denom, u.epsilon)));
      if (momentum) {
        Tensor m = s[centered ? 2 : 1];
        m.mul_(u.momentum).add_(inc);
        p.sub_(m);
      } else {
        p.sub_(inc);
      }
      return;
    }
    case K::Adam:
    case K::AdamAmsgrad: {
      s[0].mul_(u.beta_1).add_(mul(g, 1.0 - u.beta_1));
      s[1].mul_(u.beta_2).add_(mul(square(g), 1.0 - u.beta_2));
      Tensor vv = s[1];
      if (kind == K::AdamAmsgrad) {
        s[2].copy_(maximum(s[2], s[1]));
        vv = s[2];
      }
      p.sub_(div(mul(s[0], u.step_size), add(sqrt(vv), u.epsilon)));
      return;
    }
    case K::Adagrad:
      s[0].add_(square(g));
      p.sub_(div(mul(g, u.lr), sqrt(add(s[0], u.epsilon))));
      return;
    case K::Adadelta: {
      s[0].mul_(u.rho).add_(mul(square(g), 1.0 - u.rho));
      Tensor delta = mul(div(sqrt(add(s[1], u.epsilon)), sqrt(add(s[0], u.epsilon))), g);
      s[1].mul_(u.rho).add_(mul(square(delta), 1.0 - u.rho));
      p.sub_(mul(delta, u.lr));
      return;
    }
    case K::Adamax:
      s[0].mul_(u.beta_1).add_(mul(g, 1.0 - u.beta_1));
      s[1].copy_(maximum(mul(s[1], u.beta_2), abs(g)));
      p.sub_(div(mul(s[0], u.step_size), add(s[1], u.epsilon)));
      return;
    case K::Nadam: {
      s[0].mul_(u.beta_1).add_(mul(g, 1.0 - u.beta_1));
      s[1].mul_(u.beta_2).add_(mul(square(g), 1.0 - u.beta_2));
      Tensor m_hat = add(mul(s[0], u.m_coef), mul(g, u.g_coef));
      Tensor v_hat = div(s[1], u.v_correction);
      p.sub_(div(mul(m_hat, u.lr), add(sqrt(v_hat), u.epsilon)));
      return;
    }
  }
}

/// The update through the fused op of the rule (state tensors s in the op's order).
void fused_op(OptimizerKind kind, const Tensor& p, const Tensor& g, const std::vector<Tensor>& s,
              const OptimizerScalars& u) {
  using K = OptimizerKind;
  const Tensor none;
  switch (kind) {
    case K::Sgd:
      return sgd_update_(p, g, none, false, u);
    case K::SgdMomentum:
      return sgd_update_(p, g, s[0], false, u);
    case K::SgdNesterov:
      return sgd_update_(p, g, s[0], true, u);
    case K::RMSprop:
      return rmsprop_update_(p, g, s[0], none, none, u);
    case K::RMSpropMomentum:
      return rmsprop_update_(p, g, s[0], none, s[1], u);
    case K::RMSpropCentered:
      return rmsprop_update_(p, g, s[0], s[1], none, u);
    case K::RMSpropCenteredMomentum:
      return rmsprop_update_(p, g, s[0], s[1], s[2], u);
    case K::Adam:
      return adam_update_(p, g, s[0], s[1], none, u);
    case K::AdamAmsgrad:
      return adam_update_(p, g, s[0], s[1], s[2], u);
    case K::Adagrad:
      return adagrad_update_(p, g, s[0], u);
    case K::Adadelta:
      return adadelta_update_(p, g, s[0], s[1], u);
    case K::Adamax:
      return adamax_update_(p, g, s[0], s[1], u);
    case K::Nadam:
      return nadam_update_(p, g, s[0], s[1], u);
  }
}

const Rule kRules[] = {
    {"sgd", OptimizerKind::Sgd, 0},
    {"sgd momentum", OptimizerKind::SgdMomentum, 1},
    {"sgd nesterov", OptimizerKind::SgdNesterov, 1},
    {"rmsprop", OptimizerKind::RMSprop, 1},
    {"rmsprop momentum", OptimizerKind::RMSpropMomentum, 2},
    {"rmsprop centered", OptimizerKind::RMSpropCentered, 2},
    {"rmsprop centered momentum", OptimizerKind::RMSpropCenteredMomentum, 3},
    {"adam", OptimizerKind::Adam, 2},
    {"adam amsgrad", OptimizerKind::AdamAmsgrad, 3},
    {"adagrad", OptimizerKind::Adagrad, 1, 0.1},
    {"adadelta", OptimizerKind::Adadelta, 2},
    {"adamax", OptimizerKind::Adamax, 2},
    {"nadam", OptimizerKind::Nadam, 2},
};

void check_rule(const Rule& r, DType dt, double tol) {
  INFO(r.name << " " << dt);
  NoGrad ng;
  UseReferenceBackend ref;
  manual_seed(17);
  const Shape shape{3, 5};
  Tensor p_kernel = randn(shape, {.dtype = dt}), p_ops = p_kernel.clone();
  std::vector<Tensor> s_kernel, s_ops;
  for (int k = 0; k < r.n_slots; ++k) {
    s_kernel.push_back(full(shape, r.slot_init, {.dtype = dt}));
    s_ops.push_back(full(shape, r.slot_init, {.dtype = dt}));
  }
  double prod_kernel = 1.0, prod_ops = 1.0;
  for (int step = 1; step <= 4; ++step) {
    INFO("step " << step);
    // Steps 3 and 4 reuse a smaller gradient so that amsgrad's and Adamax's maxima keep old
    // values somewhere.
    Tensor g = mul(randn(shape, {.dtype = dt}), step >= 3 ? 0.1 : 1.0);
    fused_op(r.kind, p_kernel, g, s_kernel, scalars(r.kind, step, prod_kernel));
    op_sequence(r.kind, p_ops, g, s_ops, scalars(r.kind, step, prod_ops));
    TG_CHECK_VALUES(p_kernel, test::values(p_ops), tol, tol);
    for (int k = 0; k < r.n_slots; ++k)
      TG_CHECK_VALUES(s_kernel[k], test::values(s_ops[k]), tol, tol);
  }
}

}  // namespace

TEST_CASE("fused update ops match the op-sequence formulas in float64",
          "[optim][kernels]") {
  for (const Rule& r : kRules) check_rule(r, kFloat64, 1e-12);
}

TEST_CASE("fused update ops match the op-sequence formulas in float32",
          "[optim][kernels]") {
  for (const Rule& r : kRules) check_rule(r, kFloat32, 1e-5);
}

TEST_CASE("optimizers bump the parameter's version like an in-place op", "[optim][kernels]") {
  Tensor p = tensor(std::vector<double>{1.0, 2.0}, {2}, {.dtype = kFloat64});
  const auto v0 = p.storage()->version();
  optim::Adam opt;
  opt.apply_gradients({p}, {tensor(std::vector<double>{0.5, -0.5}, {2}, {.dtype = kFloat64})});
  CHECK(p.storage()->version() > v0);
  CHECK(test::values(p)[0] < 1.0);
  CHECK(test::values(p)[1] > 2.0);
}

TEST_CASE("a non-contiguous parameter is updated through a contiguous copy", "[optim][kernels]") {
  NoGrad ng;
  // p is the transpose of a (2, 3) tensor: strides (1, 3). SGD: p −= 0.5·g, by hand.
  Tensor base = tensor(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = kFloat64});
  Tensor p = base.transpose(0, 1);
  REQUIRE_FALSE(p.is_contiguous());
  Tensor g = tensor(std::vector<double>{2, 0, -2, 4, 6, 8}, {3, 2}, {.dtype = kFloat64});
  OptimizerScalars u;
  u.lr = 0.5;
  sgd_update_(p, g, Tensor(), false, u);
  // p was [[1, 4], [2, 5], [3, 6]]; minus 0.5·g = [[1, 0], [-1, 2], [3, 4]].
  TG_CHECK_VALUES(p, (std::vector<double>{0, 4, 3, 3, 0, 2}), 1e-15, 1e-15);
  TG_CHECK_VALUES(base, (std::vector<double>{0, 3, 0, 4, 3, 2}), 1e-15, 1e-15);
}

TEST_CASE("the update ops refuse bad operands, naming the op and the operand",
          "[optim][kernels][errors]") {
  NoGrad ng;
  const Tensor p = zeros({2, 3}, {.dtype = kFloat32});
  const Tensor g = ones({2, 3}, {.dtype = kFloat32});
  const Tensor m = zeros({2, 3}, {.dtype = kFloat32}), v = zeros({2, 3}, {.dtype = kFloat32});
  OptimizerScalars u;
  u.lr = 0.1;
  CHECK_FAILS(adam_update_(p, ones({3, 2}), m, v, Tensor(), u), ShapeError,
                       Catch::Contains("adam_update_: grad has shape [3, 2], param has [2, 3]"));
  CHECK_FAILS(adam_update_(p, g, zeros({6}), v, Tensor(), u), ShapeError,
                       Catch::Contains("adam_update_: state tensor 'm' has shape [6]"));
  CHECK_FAILS(adam_update_(p, g, m, zeros({2, 3}, {.dtype = kFloat64}), Tensor(), u),
                       DTypeError,
                       Catch::Contains("adam_update_: state tensor 'v' is float64, param is float32"));
  CHECK_FAILS(adam_update_(p, g, Tensor(), v, Tensor(), u), ValueError,
                       Catch::Contains("adam_update_: state tensor 'm' is undefined"));
  CHECK_FAILS(
      rmsprop_update_(p, g, zeros({3, 2}, {.dtype = kFloat32}).transpose(0, 1), Tensor(),
                      Tensor(), u),
      ValueError, Catch::Contains("rmsprop_update_: state tensor 'velocity' must be contiguous"));
  CHECK_FAILS(sgd_update_(zeros({2}, {.dtype = kInt64}), zeros({2}, {.dtype = kInt64}),
                                   Tensor(), false, u),
                       DTypeError, Catch::Contains("sgd_update_: param must be float32 or float64"));
  CHECK_FAILS(adagrad_update_(p, g, p, u), ValueError,
                       Catch::Contains("adagrad_update_: state tensor 'accumulator' shares storage"));
  // Nothing changed on any refused call.
  CHECK(test::values(p) == std::vector<double>(6, 0.0));
  CHECK(test::values(m) == std::vector<double>(6, 0.0));
}

TEST_CASE("an update of a parameter that requires grad needs grad mode off", "[optim][kernels]") {
  Tensor p = zeros({2}, {.dtype = kFloat64, .requires_grad = true});
  const Tensor g = ones({2}, {.dtype = kFloat64});
  OptimizerScalars u;
  u.lr = 1.0;
  CHECK_FAILS(sgd_update_(p, g, Tensor(), false, u), ValueError,
                       Catch::Contains("sgd_update_: in-place update of a tensor that requires grad"));
  NoGrad ng;
  sgd_update_(p, g, Tensor(), false, u);
  CHECK(test::values(p) == std::vector<double>{-1.0, -1.0});
}
