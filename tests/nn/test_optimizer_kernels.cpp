// Backend::optimizer_update on the reference backend: every rule for a few steps against the
// op-sequence formula nn/optimizer.cpp used before the fused kernels, written out here with
// tapegrad ops in float64 (and in float32 at float tolerance).
#include <cmath>
#include <string>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/registry.hpp"
#include "test_util.hpp"

using namespace tg;

namespace {

struct Rule {
  const char* name;
  OptimizerKind kind;
  int n_slots;
  double slot_init = 0.0;
};

/// The scalars of step t (1-based), as nn/optimizer.cpp computes them.
OptimizerUpdate scalars(OptimizerKind kind, double t, double& u_product) {
  OptimizerUpdate u;
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
                 const OptimizerUpdate& u) {
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
    reference_backend().optimizer_update(r.kind, p_kernel, g, s_kernel,
                                         scalars(r.kind, step, prod_kernel));
    op_sequence(r.kind, p_ops, g, s_ops, scalars(r.kind, step, prod_ops));
    TG_CHECK_VALUES(p_kernel, test::values(p_ops), tol, tol);
    for (int k = 0; k < r.n_slots; ++k)
      TG_CHECK_VALUES(s_kernel[k], test::values(s_ops[k]), tol, tol);
  }
}

}  // namespace

TEST_CASE("optimizer_update kernels match the op-sequence formulas in float64",
          "[optim][kernels]") {
  for (const Rule& r : kRules) check_rule(r, kFloat64, 1e-12);
}

TEST_CASE("optimizer_update kernels match the op-sequence formulas in float32",
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
