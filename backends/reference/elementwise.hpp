// Scalar definitions of the elementwise functions; the reference and CPU backends share them.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/error.hpp"

namespace tg::reference {

inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;

/// op(x) for one element of type T.
template <class T>
inline T unary_scalar(UnaryOp op, T x, double p0, double p1) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case UnaryOp::LogicalNot:
        return !x;
      case UnaryOp::Abs:
      case UnaryOp::Relu:
      case UnaryOp::Sign:
      case UnaryOp::Square:
      case UnaryOp::Step:
        return x;
      default:
        break;
    }
  } else if constexpr (std::is_integral_v<T>) {
    switch (op) {
      case UnaryOp::Neg:
        return -x;
      case UnaryOp::Abs:
        return x < 0 ? -x : x;
      case UnaryOp::Sign:
        return static_cast<T>((x > 0) - (x < 0));
      case UnaryOp::Square:
        return x * x;
      case UnaryOp::Relu:
        return x > 0 ? x : 0;
      case UnaryOp::Step:
        return x > 0 ? 1 : 0;
      case UnaryOp::Clip:
        return static_cast<T>(std::min<double>(std::max<double>(x, p0), p1));
      case UnaryOp::LogicalNot:
        return x == 0;
      default:
        break;
    }
  } else {
    using std::exp, std::log, std::tanh, std::sqrt, std::abs;
    switch (op) {
      case UnaryOp::Neg:
        return -x;
      case UnaryOp::Abs:
        return abs(x);
      case UnaryOp::Sign:
        return static_cast<T>((x > 0) - (x < 0));
      case UnaryOp::Exp:
        return exp(x);
      case UnaryOp::Log:
        return log(x);
      case UnaryOp::Log1p:
        return std::log1p(x);
      case UnaryOp::Expm1:
        return std::expm1(x);
      case UnaryOp::Sqrt:
        return sqrt(x);
      case UnaryOp::Rsqrt:
        return T(1) / sqrt(x);
      case UnaryOp::Square:
        return x * x;
      case UnaryOp::Sin:
        return std::sin(x);
      case UnaryOp::Cos:
        return std::cos(x);
      case UnaryOp::Tanh:
        return tanh(x);
      case UnaryOp::Sigmoid:
        return x >= 0 ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
      case UnaryOp::Relu:
        return x > 0 ? x : T(0);
      case UnaryOp::LeakyRelu:
        return x > 0 ? x : static_cast<T>(p0) * x;
      case UnaryOp::Elu:
        return x > 0 ? x : static_cast<T>(p0) * std::expm1(x);
      case UnaryOp::Selu:
        return static_cast<T>(kSeluScale) *
               (x > 0 ? x : static_cast<T>(kSeluAlpha) * std::expm1(x));
      case UnaryOp::Gelu:
        return T(0.5) * x * (T(1) + std::erf(x * static_cast<T>(M_SQRT1_2)));
      case UnaryOp::GeluTanh: {
        const T c = static_cast<T>(0.7978845608028654);  // sqrt(2/pi)
        return T(0.5) * x * (T(1) + tanh(c * (x + T(0.044715) * x * x * x)));
      }
      case UnaryOp::Softplus:
        return std::log1p(exp(-abs(x))) + (x > 0 ? x : T(0));
      case UnaryOp::Softsign:
        return x / (T(1) + abs(x));
      case UnaryOp::Erf:
        return std::erf(x);
      case UnaryOp::PowScalar:
        return std::pow(x, static_cast<T>(p0));
      case UnaryOp::Clip:
        return std::min(std::max(x, static_cast<T>(p0)), static_cast<T>(p1));
      case UnaryOp::LogicalNot:
        return x == 0;
      case UnaryOp::Step:
        return x > 0 ? T(1) : T(0);
    }
  }
  fail<BackendError>("reference unary: op ", unary_op_name(op), " has no kernel for this dtype");
}

/// op(a, b) for one element of type T (arithmetic ops; comparisons use compare_scalar).
template <class T>
inline T binary_scalar(BinaryOp op, T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case BinaryOp::LogicalAnd:
      case BinaryOp::Mul:
      case BinaryOp::Minimum:
        return a && b;
      case BinaryOp::LogicalOr:
      case BinaryOp::Add:
      case BinaryOp::Maximum:
        return a || b;
      default:
        break;
    }
  } else {
    switch (op) {
      case BinaryOp::Add:
        return a + b;
      case BinaryOp::Sub:
        return a - b;
      case BinaryOp::Mul:
        return a * b;
      case BinaryOp::Div:
        if constexpr (std::is_integral_v<T>) {
          if (b == 0) fail<ValueError>("div: integer division by zero");
          T q = a / b;  // floor division, as NumPy's //
          return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
        } else {
          return a / b;
        }
      case BinaryOp::Pow:
        return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
      case BinaryOp::Maximum:
        return a > b || a != a ? a : b;  // NaN propagates
      case BinaryOp::Minimum:
        return a < b || a != a ? a : b;
      case BinaryOp::LogicalAnd:
        return (a != 0) && (b != 0);
      case BinaryOp::LogicalOr:
        return (a != 0) || (b != 0);
      case BinaryOp::ReluBackward:
        return b > T(0) ? a : T(0);
      default:
        break;
    }
  }
  fail<BackendError>("reference binary: op ", binary_op_name(op), " has no kernel for this dtype");
}

/// Comparison and logical ops, which write bool.
template <class T>
inline bool compare_scalar(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Eq:
      return a == b;
    case BinaryOp::Ne:
      return a != b;
    case BinaryOp::Lt:
      return a < b;
    case BinaryOp::Le:
      return a <= b;
    case BinaryOp::Gt:
      return a > b;
    case BinaryOp::Ge:
      return a >= b;
    case BinaryOp::LogicalAnd:
      return (a != 0) && (b != 0);
    case BinaryOp::LogicalOr:
      return (a != 0) || (b != 0);
    default:
      break;
  }
  fail<BackendError>("reference compare: op ", binary_op_name(op), " is not a comparison");
}

/// True for ops whose result is bool.
inline bool is_comparison(BinaryOp op) {
  return op == BinaryOp::Eq || op == BinaryOp::Ne || op == BinaryOp::Lt || op == BinaryOp::Le ||
         op == BinaryOp::Gt || op == BinaryOp::Ge || op == BinaryOp::LogicalAnd ||
         op == BinaryOp::LogicalOr;
}

/// 64 random bits for counter c of stream seed (SplitMix64 applied twice).
inline uint64_t random_bits(uint64_t seed, uint64_t c) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(seed ^ mix(c));
}
/// Uniform in [0, 1) with 53 random bits.
inline double random_uniform01(uint64_t seed, uint64_t c) {
  return static_cast<double>(random_bits(seed, c) >> 11) * 0x1.0p-53;
}
/// Standard normal by Box-Muller from counters 2c and 2c + 1.
inline double random_normal(uint64_t seed, uint64_t c) {
  double u1 = 1.0 - random_uniform01(seed, 2 * c);  // (0, 1]
  double u2 = random_uniform01(seed, 2 * c + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace tg::reference
