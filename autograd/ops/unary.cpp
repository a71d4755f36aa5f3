// Elementwise functions of one tensor: forward kernel, shape rule (same shape) and backward.
#include <cmath>

#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using autograd::SavedTensor;
using namespace ops;

namespace {
enum Save { kSaveNone = 0, kSaveX = 1, kSaveY = 2, kSaveXY = 3 };

/// Runs op on x and records formula(g, x, y) -> dx when x requires grad.
template <int S, class F>
Tensor unary_op(std::string_view name, UnaryOp op, const Tensor& x, F formula, double p0 = 0,
                double p1 = 0, bool float_only = true) {
  check_defined(name, x);
  Tensor xin = x;
  if (float_only && !is_floating(x.dtype())) xin = cast_raw(x, kFloat32);
  if (!float_only && x.dtype() == kBool && op == UnaryOp::Neg)
    fail<DTypeError>(name, ": not defined for bool tensors");
  Tensor y = unary_kernel(op, xin, p0, p1);
  if (autograd::needs_grad(x)) {
    SavedTensor sx = (S & kSaveX) ? SavedTensor(x) : SavedTensor();
    SavedTensor sy = (S & kSaveY) ? SavedTensor(y, true) : SavedTensor();
    autograd::record(name, {&x}, {&y}, [sx, sy, formula](const Tensor& g) {
      return std::vector<Tensor>{formula(g, sx.unpack(), sy.unpack())};
    });
  }
  return y;
}

constexpr double kInvSqrt2Pi = 0.3989422804014327;
constexpr double kGeluC = 0.7978845608028654;  // sqrt(2 / pi)
}  // namespace

TG_REGISTER_OP("neg", "unary", true);
Tensor neg(const Tensor& x) {
  return unary_op<kSaveNone>(
      "neg", UnaryOp::Neg, x, [](const auto& g, const auto&, const auto&) { return neg(g); }, 0, 0,
      false);
}
TG_REGISTER_OP("abs", "unary", true);
Tensor abs(const Tensor& x) {
  return unary_op<kSaveX>(
      "abs", UnaryOp::Abs, x,
      [](const auto& g, const auto& x, const auto&) { return mul(g, sign(x.detach())); }, 0, 0,
      false);
}
TG_REGISTER_OP("sign", "unary", true);
Tensor sign(const Tensor& x) {
  return unary_op<kSaveNone>(
      "sign", UnaryOp::Sign, x,
      [](const auto& g, const auto&, const auto&) { return zeros_like(g); }, 0, 0, false);
}
TG_REGISTER_OP("exp", "unary", true);
Tensor exp(const Tensor& x) {
  return unary_op<kSaveY>("exp", UnaryOp::Exp, x,
                          [](const auto& g, const auto&, const auto& y) { return mul(g, y); });
}
TG_REGISTER_OP("log", "unary", true);
Tensor log(const Tensor& x) {
  return unary_op<kSaveX>("log", UnaryOp::Log, x,
                          [](const auto& g, const auto& x, const auto&) { return div(g, x); });
}
TG_REGISTER_OP("log1p", "unary", true);
Tensor log1p(const Tensor& x) {
  return unary_op<kSaveX>(
      "log1p", UnaryOp::Log1p, x,
      [](const auto& g, const auto& x, const auto&) { return div(g, add(x, 1.0)); });
}
TG_REGISTER_OP("expm1", "unary", true);
Tensor expm1(const Tensor& x) {
  return unary_op<kSaveY>(
      "expm1", UnaryOp::Expm1, x,
      [](const auto& g, const auto&, const auto& y) { return mul(g, add(y, 1.0)); });
}
TG_REGISTER_OP("sqrt", "unary", true);
Tensor sqrt(const Tensor& x) {
  return unary_op<kSaveY>("sqrt", UnaryOp::Sqrt, x, [](const auto& g, const auto&, const auto& y) {
    return div(mul(g, 0.5), y);
  });
}
TG_REGISTER_OP("rsqrt", "unary", true);
Tensor rsqrt(const Tensor& x) {
  return unary_op<kSaveY>("rsqrt", UnaryOp::Rsqrt, x,
                          [](const auto& g, const auto&, const auto& y) {
                            return mul(mul(g, -0.5), mul(y, square(y)));
                          });
}
TG_REGISTER_OP("square", "unary", true);
Tensor square(const Tensor& x) {
  return unary_op<kSaveX>(
      "square", UnaryOp::Square, x,
      [](const auto& g, const auto& x, const auto&) { return mul(g, mul(x, 2.0)); }, 0, 0, false);
}
TG_REGISTER_OP("sin", "unary", true);
Tensor sin(const Tensor& x) {
  return unary_op<kSaveX>("sin", UnaryOp::Sin, x,
                          [](const auto& g, const auto& x, const auto&) { return mul(g, cos(x)); });
}
TG_REGISTER_OP("cos", "unary", true);
Tensor cos(const Tensor& x) {
  return unary_op<kSaveX>("cos", UnaryOp::Cos, x, [](const auto& g, const auto& x, const auto&) {
    return mul(g, neg(sin(x)));
  });
}
TG_REGISTER_OP("tanh", "unary", true);
Tensor tanh(const Tensor& x) {
  return unary_op<kSaveY>("tanh", UnaryOp::Tanh, x, [](const auto& g, const auto&, const auto& y) {
    return mul(g, sub(1.0, square(y)));
  });
}
TG_REGISTER_OP("sigmoid", "unary", true);
Tensor sigmoid(const Tensor& x) {
  return unary_op<kSaveY>(
      "sigmoid", UnaryOp::Sigmoid, x,
      [](const auto& g, const auto&, const auto& y) { return mul(g, mul(y, sub(1.0, y))); });
}
TG_REGISTER_OP("relu", "unary", true);
Tensor relu(const Tensor& x) {
  return unary_op<kSaveX>(
      "relu", UnaryOp::Relu, x,
      [](const auto& g, const auto& x, const auto&) { return relu_backward("relu", g, x); }, 0, 0,
      false);
}
TG_REGISTER_OP("leaky_relu", "unary", true);
Tensor leaky_relu(const Tensor& x, double slope) {
  return unary_op<kSaveX>(
      "leaky_relu", UnaryOp::LeakyRelu, x,
      [slope](const auto& g, const auto& x, const auto&) {
        Tensor m = positive_mask(x);  // slope + (1 - slope)·[x > 0]
        return mul(g, add(mul(m, 1.0 - slope), slope));
      },
      slope);
}
TG_REGISTER_OP("elu", "unary", true);
Tensor elu(const Tensor& x, double alpha) {
  return unary_op<kSaveXY>(
      "elu", UnaryOp::Elu, x,
      [alpha](const auto& g, const auto& x, const auto& y) {
        return where(gt(x, 0.0), g, mul(g, add(y, alpha)));
      },
      alpha);
}
TG_REGISTER_OP("selu", "unary", true);
Tensor selu(const Tensor& x) {
  return unary_op<kSaveXY>("selu", UnaryOp::Selu, x,
                           [](const auto& g, const auto& x, const auto& y) {
                             const double scale = 1.0507009873554804934193349852946;
                             const double alpha = 1.6732632423543772848170429916717;
                             return where(gt(x, 0.0), mul(g, scale), mul(g, add(y, scale * alpha)));
                           });
}
TG_REGISTER_OP("gelu", "unary", true);
Tensor gelu(const Tensor& x, bool approximate) {
  if (approximate)
    return unary_op<kSaveX>(
        "gelu", UnaryOp::GeluTanh, x, [](const auto& g, const auto& x, const auto&) {
          // d/dx 0.5x(1+t), t = tanh(c(x + 0.044715x³))
          Tensor x2 = square(x);
          Tensor t = tanh(mul(mul(x, add(mul(x2, 0.044715), 1.0)), kGeluC));
          Tensor dt = mul(sub(1.0, square(t)), mul(add(mul(x2, 3 * 0.044715), 1.0), kGeluC));
          return mul(g, add(mul(add(t, 1.0), 0.5), mul(mul(x, dt), 0.5)));
        });
  return unary_op<kSaveX>("gelu", UnaryOp::Gelu, x, [](const auto& g, const auto& x, const auto&) {
    // Φ(x) + x·φ(x)
    Tensor cdf = mul(add(erf(mul(x, M_SQRT1_2)), 1.0), 0.5);
    Tensor pdf = mul(exp(mul(square(x), -0.5)), kInvSqrt2Pi);
    return mul(g, add(cdf, mul(x, pdf)));
  });
}
TG_REGISTER_OP("softplus", "unary", true);
Tensor softplus(const Tensor& x) {
  return unary_op<kSaveX>(
      "softplus", UnaryOp::Softplus, x,
      [](const auto& g, const auto& x, const auto&) { return mul(g, sigmoid(x)); });
}
TG_REGISTER_OP("softsign", "unary", true);
Tensor softsign(const Tensor& x) {
  return unary_op<kSaveX>(
      "softsign", UnaryOp::Softsign, x,
      [](const auto& g, const auto& x, const auto&) { return div(g, square(add(abs(x), 1.0))); });
}
TG_REGISTER_OP("erf", "unary", true);
Tensor erf(const Tensor& x) {
  return unary_op<kSaveX>("erf", UnaryOp::Erf, x, [](const auto& g, const auto& x, const auto&) {
    return mul(g, mul(exp(neg(square(x))), 1.1283791670955126));  // 2/sqrt(pi)
  });
}
TG_REGISTER_OP("pow_scalar", "unary", true);
Tensor pow(const Tensor& x, double p) {
  return unary_op<kSaveX>(
      "pow", UnaryOp::PowScalar, x,
      [p](const auto& g, const auto& x, const auto&) { return mul(g, mul(pow(x, p - 1.0), p)); },
      p);
}
TG_REGISTER_OP("clip", "unary", true);
Tensor clip(const Tensor& x, double lo, double hi) {
  if (lo > hi) fail<ValueError>("clip: min ", lo, " is greater than max ", hi);
  return unary_op<kSaveX>(
      "clip", UnaryOp::Clip, x,
      [lo, hi](const auto& g, const auto& x, const auto&) {
        Tensor inside = logical_and(ge(x.detach(), lo), le(x.detach(), hi));
        return mul(g, mask_as(inside, g.dtype()));
      },
      lo, hi, false);
}
TG_REGISTER_OP("logical_not", "unary", false);
Tensor logical_not(const Tensor& x) {
  check_defined("logical_not", x);
  return unary_kernel(UnaryOp::LogicalNot, x);
}

}  // namespace tg
