// Test entries for every registered op: the function exercising it, input generators and
// tolerances.
//
// One table feeds the gradient checks (tests/autograd/test_gradcheck_ops.cpp), the registry walk
// (tests/autograd/test_op_registry.cpp) and the CPU-versus-reference comparison
// (tests/backends/test_cpu_vs_reference.cpp). An op may have several entries (variants with
// broadcasting, non-contiguous operands, other axes). Entries marked `large` are sized so that the
// oneDNN paths of the CPU backend are taken (see backends/cpu/cpu_backend.hpp: 4096 elements for
// eltwise/binary/reduction, 4096 flops for matmul, 1024 elements for softmax).
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace tg::test {

/// Makes one input. Floating inputs are made in dtype `dt`; integer and bool inputs ignore it.
/// The same seed gives the same values on every backend and (up to rounding) in every float dtype.
using InputGen = std::function<Tensor(DType dt, uint64_t seed)>;

/// One variant of the edge-shape column: the op on inputs with a zero-sized axis, or on 0-d
/// inputs. It either gives an output of a shape worked out by hand (and, where stated, the value
/// every element takes: sum of nothing 0, mean NaN, prod 1) or must raise a tapegrad error whose
/// message names the op (max of an empty axis, matmul of a 0-d tensor).
struct EdgeVariant {
  std::vector<InputGen> inputs = {};  ///< none: not declared
  autograd::TestFunction fn = {};  ///< the call (the entry's fn when empty)
  Shape out = {};                ///< the output shape
  std::optional<double> fill = {};  ///< the value of every output element (NaN and ±inf allowed)
  std::string error = {};  ///< non-empty: the call must throw, with this in the message
  /// Compare with the same call on the inputs reshaped to [1] (0-d variants of elementwise
  /// ops and reductions): the 0-d path must give the 1-element path's values.
  bool same_as_1d = false;
  /// Gradcheck this variant (false where the derivative is undefined there, e.g. std of one
  /// element: 0/0, as in PyTorch).
  bool check_grad = true;
  bool declared() const { return !inputs.empty(); }
};

/// The edge-shape column of an entry (tests/autograd/test_edge_shapes.cpp runs it; the registry
/// test requires both variants for every registered op).
struct EdgeShapes {
  EdgeVariant empty = {};   ///< a zero-sized axis
  EdgeVariant scalar = {};  ///< 0-d
};

/// One test entry.
struct OpCase {
  std::string op;             ///< registered op name (tg::autograd::registered_ops())
  std::string name;           ///< what this variant exercises
  autograd::TestFunction fn;  ///< runs the op on the inputs
  std::vector<InputGen> inputs;
  bool differentiable = true;          ///< gradcheck / backward comparison apply
  double tol32 = 1e-5;                 ///< atol and rtol for float32 results against the reference
  bool large = false;                  ///< sized for the oneDNN paths (random-direction gradcheck)
  autograd::GradcheckOptions gc = {};  ///< options of this entry's gradcheck
  EdgeShapes edge = {};                ///< the edge-shape column (declared on one entry per op)
};

// ---- input generators ----

/// `n` uniform values in [lo, hi) from the library's counter-based generator (float64, host).
inline std::vector<double> host_uniform(int64_t n, double lo, double hi, uint64_t seed) {
  return uniform({n}, lo, hi, seed, {.dtype = kFloat64}).to_vector<double>();
}

/// A tensor of dtype dt holding the float64 values v.
inline Tensor from_values(const std::vector<double>& v, const Shape& s, DType dt) {
  // tensor() makes an empty shape 1-D; reshape restores 0-d inputs.
  return tensor<double>(v, s, {.dtype = kFloat64}).reshape(s).to(dt).detach();
}

/// Uniform in [lo, hi).
inline InputGen U(Shape s, double lo = -1.0, double hi = 1.0) {
  return [=](DType dt, uint64_t seed) {
    return from_values(host_uniform(numel(s), lo, hi, seed), s, dt);
  };
}

/// Uniform in [lo, hi), but at least `gap` away from every kink point (values inside a gap are
/// pushed out, keeping their order), so finite differences never straddle a kink.
inline InputGen Away(Shape s, double lo, double hi, std::vector<double> kinks = {0.0},
                     double gap = 0.1) {
  return [=](DType dt, uint64_t seed) {
    std::vector<double> v = host_uniform(numel(s), lo, hi, seed);
    for (double& x : v)
      for (double k : kinks)
        if (std::abs(x - k) < gap) x = k + (x >= k ? 1.0 : -1.0) * (gap + std::abs(x - k));
    return from_values(v, s, dt);
  };
}

/// Uniform magnitude in [lo, hi) with a random sign (for divisors: never near 0).
inline InputGen Signed(Shape s, double lo, double hi) {
  return [=](DType dt, uint64_t seed) {
    std::vector<double> v = host_uniform(numel(s), lo, hi, seed);
    std::vector<double> sg = host_uniform(numel(s), 0.0, 1.0, seed + 17);
    for (size_t i = 0; i < v.size(); ++i) v[i] = sg[i] < 0.5 ? -v[i] : v[i];
    return from_values(v, s, dt);
  };
}

/// Uniform in [lo, hi) with exact zeros at the given flat positions (prod's special case).
inline InputGen WithZeros(Shape s, double lo, double hi, std::vector<int64_t> zeros_at) {
  return [=](DType dt, uint64_t seed) {
    std::vector<double> v = host_uniform(numel(s), lo, hi, seed);
    for (int64_t i : zeros_at) v[static_cast<size_t>(i)] = 0.0;
    return from_values(v, s, dt);
  };
}

/// Evenly spaced distinct values in [lo, hi) in random order: no ties for max/min/argmax.
inline InputGen Distinct(Shape s, double lo = -1.0, double hi = 1.0) {
  return [=](DType dt, uint64_t seed) {
    const int64_t n = numel(s);
    std::vector<double> key = host_uniform(n, 0.0, 1.0, seed);
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key[a] < key[b]; });
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      v[order[i]] = lo + (hi - lo) * (static_cast<double>(i) + 0.5) / n;
    return from_values(v, s, dt);
  };
}

/// Floating tensor of small whole numbers in [lo, hi) (ties on purpose, for comparisons).
inline InputGen WholeFloats(Shape s, int64_t lo, int64_t hi) {
  return [=](DType dt, uint64_t seed) {
    std::vector<double> v = host_uniform(numel(s), 0.0, 1.0, seed);
    for (double& x : v) x = std::floor(lo + x * static_cast<double>(hi - lo));
    return from_values(v, s, dt);
  };
}

/// int64 indices in [0, n).
inline InputGen Index(Shape s, int64_t n) {
  return [=](DType, uint64_t seed) {
    std::vector<double> u = host_uniform(numel(s), 0.0, 1.0, seed);
    std::vector<int64_t> v(u.size());
    for (size_t i = 0; i < u.size(); ++i)
      v[i] = std::min<int64_t>(n - 1, static_cast<int64_t>(u[i] * n));
    return tensor<int64_t>(v, s).reshape(s);
  };
}

/// Random bool mask (about half true).
inline InputGen Mask(Shape s) {
  return [=](DType, uint64_t seed) {
    std::vector<double> u = host_uniform(numel(s), 0.0, 1.0, seed);
    std::vector<bool> v(u.size());
    for (size_t i = 0; i < u.size(); ++i) v[i] = u[i] < 0.5;
    return tensor<bool>(v, s).reshape(s);
  };
}

/// The inputs of case c in float dtype dt (seeded by the case's position, so runs repeat).
inline std::vector<Tensor> make_inputs(const OpCase& c, DType dt, uint64_t seed) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    xs.push_back(c.inputs[i](dt, seed * 7919 + 101 * i + 1));
  return xs;
}

// ---- the table ----

namespace detail {
using UnaryFn = std::function<Tensor(const Tensor&)>;
using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
using Domain = std::function<InputGen(Shape)>;

/// Small, transposed, strided and large variants of a unary op.
inline void add_unary(std::vector<OpCase>& v, const std::string& op, const std::string& label,
                      UnaryFn f, Domain dom, double tol32 = 1e-5) {
  const bool first = std::none_of(v.begin(), v.end(), [&](const OpCase& c) { return c.op == op; });
  v.push_back({.op = op,
               .name = label + " [3,5]",
               .fn = [f](const auto& x) { return f(x[0]); },
               .inputs = {dom({3, 5})},
               .tol32 = tol32});
  if (first)
    v.back().edge = {.empty = {.inputs = {dom({0, 3})}, .out = {0, 3}},
                     .scalar = {.inputs = {dom({})}, .out = {}, .same_as_1d = true}};
  v.push_back({.op = op,
               .name = label + " transposed [5,3].t()",
               .fn = [f](const auto& x) { return f(x[0].t()); },
               .inputs = {dom({5, 3})},
               .tol32 = tol32});
  v.push_back({.op = op,
               .name = label + " step-2 slice of [2,3,8]",
               .fn = [f](const auto& x) { return f(x[0].slice(2, 1, 8, 2)); },
               .inputs = {dom({2, 3, 8})},
               .tol32 = tol32});
  v.push_back({.op = op,
               .name = label + " large [128,160]",
               .fn = [f](const auto& x) { return f(x[0]); },
               .inputs = {dom({128, 160})},
               .tol32 = tol32,
               .large = true});
  v.push_back({.op = op,
               .name = label + " large permuted [160,128].t()",
               .fn = [f](const auto& x) { return f(x[0].t()); },
               .inputs = {dom({160, 128})},
               .tol32 = tol32,
               .large = true});
}

/// Same-shape, broadcast (either operand), non-contiguous and large variants of a binary op.
inline void add_binary(std::vector<OpCase>& v, const std::string& op, BinaryFn f, Domain da,
                       Domain db, bool differentiable = true, double tol32 = 1e-5,
                       double tol32_large = -1) {
  if (tol32_large < 0) tol32_large = tol32;
  auto fn = [f](const auto& x) { return f(x[0], x[1]); };
  auto add = [&](std::string name, autograd::TestFunction g, Shape sa, Shape sb,
                 bool large = false) {
    v.push_back({.op = op,
                 .name = op + " " + name,
                 .fn = std::move(g),
                 .inputs = {da(sa), db(sb)},
                 .differentiable = differentiable,
                 .tol32 = large ? tol32_large : tol32,
                 .large = large});
  };
  add("[3,4] and [3,4]", fn, {3, 4}, {3, 4});
  // A zero-sized axis broadcast against a row, and two 0-d operands.
  v.back().edge = {.empty = {.inputs = {da({0, 4}), db({4})}, .out = {0, 4}},
                   .scalar = {.inputs = {da({}), db({})}, .out = {}, .same_as_1d = true}};
  add("broadcast second [3,4] and [4]", fn, {3, 4}, {4});
  add("broadcast first [4] and [3,4]", fn, {4}, {3, 4});
  add("broadcast both [3,1] and [1,4]", fn, {3, 1}, {1, 4});
  add("broadcast 3-d [2,1,4] and [3,1]", fn, {2, 1, 4}, {3, 1});
  add("large broadcast both [128,1] and [1,256]", fn, {128, 1}, {1, 256}, true);
  add("0-d second operand", fn, {3, 4}, {});
  add("transposed first, step-2 slice second",
      [f](const auto& x) { return f(x[0].t(), x[1].slice(1, 0, 8, 2)); }, {4, 3}, {3, 8});
  add("permuted both",
      [f](const auto& x) {
        return f(x[0].permute({2, 0, 1}), x[1].permute({1, 2, 0}));
      },
      {3, 4, 2}, {4, 2, 3});
  add("large [128,256] and [128,256]", fn, {128, 256}, {128, 256}, true);
  add("large broadcast second [128,256] and [256]", fn, {128, 256}, {256}, true);
  add("large broadcast second column [128,256] and [128,1]", fn, {128, 256}, {128, 1}, true);
  add("large broadcast first [256] and [128,256]", fn, {256}, {128, 256}, true);
  add("large broadcast first 3-d [1,64,1] and [4,64,64]", fn, {1, 64, 1}, {4, 64, 64}, true);
  add(
      "large transposed first [256,128].t() and [128,256]",
      [f](const auto& x) { return f(x[0].t(), x[1]); }, {256, 128}, {128, 256}, true);
  add(
      "large transposed second [128,256] and [256,128].t()",
      [f](const auto& x) { return f(x[0], x[1].t()); }, {128, 256}, {256, 128}, true);
  add(
      "large step-2 slice second [128,256] and [128,512][:, ::2]",
      [f](const auto& x) { return f(x[0], x[1].slice(1, 0, 512, 2)); }, {128, 256}, {128, 512},
      true);
}

/// Reduction variants: all axes, one axis, several axes with keepdims, non-contiguous, large.
/// The reduction of an empty axis: the value NumPy gives (empty_fill) or the error it raises.
struct EmptyReduction {
  std::optional<double> fill = {};
  std::string error = {};
};

inline void add_reduce(std::vector<OpCase>& v, const std::string& op, const std::string& label,
                       std::function<Tensor(const Tensor&, const Axes&, bool)> f, Domain dom,
                       double tol32 = 1e-5, bool differentiable = true,
                       EmptyReduction empty = {.fill = 0.0}) {
  const bool first = std::none_of(v.begin(), v.end(), [&](const OpCase& c) { return c.op == op; });
  auto add = [&](std::string name, autograd::TestFunction g, Shape s, bool large = false) {
    v.push_back({.op = op,
                 .name = label + " " + name,
                 .fn = std::move(g),
                 .inputs = {dom(s)},
                 .differentiable = differentiable,
                 .tol32 = large ? std::max(tol32, 1e-4) : tol32,
                 .large = large});
  };
  add("all axes [3,4]", [f](const auto& x) { return f(x[0], {}, false); }, {3, 4});
  if (first)  // axis 0 of [0, 3] leaves three reductions of nothing; a 0-d input reduces to itself
    v.back().edge = {
        .empty = {.inputs = {dom({0, 3})},
                  .fn = [f](const auto& x) { return f(x[0], {0}, false); },
                  .out = {3},
                  .fill = empty.fill,
                  .error = empty.error},
        .scalar = {.inputs = {dom({})}, .out = {}, .same_as_1d = true}};
  add("axis 1 [3,4]", [f](const auto& x) { return f(x[0], {1}, false); }, {3, 4});
  add("axis -1 keepdims [2,3,4]", [f](const auto& x) { return f(x[0], {-1}, true); }, {2, 3, 4});
  add("axes {0,2} [2,3,4]", [f](const auto& x) { return f(x[0], {0, 2}, false); }, {2, 3, 4});
  add("axis 0 keepdims of permuted [4,2,3]",
      [f](const auto& x) {
        return f(x[0].permute({1, 2, 0}), {0}, true);
      },
      {4, 2, 3});
  add("axis 1 of step-2 slice",
      [f](const auto& x) { return f(x[0].slice(1, 1, 9, 2), {1}, false); }, {3, 9});
  add(
      "large axis 1 [128,256]", [f](const auto& x) { return f(x[0], {1}, false); }, {128, 256},
      true);
  add(
      "large axis 0 [128,256]", [f](const auto& x) { return f(x[0], {0}, true); }, {128, 256},
      true);
  add(
      "large axes {0,2} [16,32,64]",
      [f](const auto& x) {
        return f(x[0], {0, 2}, false);
      },
      {16, 32, 64}, true);
  add(
      "large transposed [256,128].t() axis 1",
      [f](const auto& x) { return f(x[0].t(), {1}, false); }, {256, 128}, true);
}
}  // namespace detail

/// Every test entry.
inline const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    using namespace detail;
    std::vector<OpCase> v;
    auto uni = [](double lo, double hi) -> Domain { return [=](Shape s) { return U(s, lo, hi); }; };
    auto away = [](double lo, double hi, std::vector<double> k = {0.0},
                   double gap = 0.1) -> Domain {
      return [=](Shape s) { return Away(s, lo, hi, k, gap); };
    };
    auto distinct = [](double lo, double hi) -> Domain {
      return [=](Shape s) { return Distinct(s, lo, hi); };
    };

    // ---- unary ----
    add_unary(
        v, "neg", "neg", [](const Tensor& x) { return neg(x); }, uni(-2, 2));
    add_unary(
        v, "abs", "abs", [](const Tensor& x) { return abs(x); }, away(-2, 2));
    add_unary(
        v, "sign", "sign", [](const Tensor& x) { return sign(x); }, away(-2, 2));
    add_unary(
        v, "exp", "exp", [](const Tensor& x) { return exp(x); }, uni(-2, 2));
    add_unary(
        v, "log", "log", [](const Tensor& x) { return log(x); }, uni(0.2, 3));
    add_unary(
        v, "log1p", "log1p", [](const Tensor& x) { return log1p(x); }, uni(-0.5, 2));
    add_unary(
        v, "expm1", "expm1", [](const Tensor& x) { return expm1(x); }, uni(-2, 2));
    add_unary(
        v, "sqrt", "sqrt", [](const Tensor& x) { return sqrt(x); }, uni(0.2, 3));
    add_unary(
        v, "rsqrt", "rsqrt", [](const Tensor& x) { return rsqrt(x); }, uni(0.2, 3));
    add_unary(
        v, "square", "square", [](const Tensor& x) { return square(x); }, uni(-2, 2));
    add_unary(
        v, "sin", "sin", [](const Tensor& x) { return sin(x); }, uni(-3, 3));
    add_unary(
        v, "cos", "cos", [](const Tensor& x) { return cos(x); }, uni(-3, 3));
    add_unary(
        v, "tanh", "tanh", [](const Tensor& x) { return tanh(x); }, uni(-2, 2));
    add_unary(
        v, "sigmoid", "sigmoid", [](const Tensor& x) { return sigmoid(x); }, uni(-4, 4));
    add_unary(
        v, "relu", "relu", [](const Tensor& x) { return relu(x); }, away(-2, 2));
    add_unary(
        v, "leaky_relu", "leaky_relu(0.1)", [](const Tensor& x) { return leaky_relu(x, 0.1); },
        away(-2, 2));
    add_unary(
        v, "leaky_relu", "leaky_relu default slope", [](const Tensor& x) { return leaky_relu(x); },
        away(-2, 2));
    add_unary(
        v, "elu", "elu(1)", [](const Tensor& x) { return elu(x); }, away(-2, 2));
    add_unary(
        v, "elu", "elu(0.5)", [](const Tensor& x) { return elu(x, 0.5); }, away(-2, 2));
    add_unary(
        v, "selu", "selu", [](const Tensor& x) { return selu(x); }, away(-2, 2));
    add_unary(
        v, "gelu", "gelu exact", [](const Tensor& x) { return gelu(x); }, uni(-3, 3));
    add_unary(
        v, "gelu", "gelu tanh-approx", [](const Tensor& x) { return gelu(x, true); }, uni(-3, 3));
    add_unary(
        v, "softplus", "softplus", [](const Tensor& x) { return softplus(x); }, uni(-4, 4));
    add_unary(
        v, "softsign", "softsign", [](const Tensor& x) { return softsign(x); }, away(-2, 2));
    add_unary(
        v, "erf", "erf", [](const Tensor& x) { return erf(x); }, uni(-2, 2));
    add_unary(
        v, "pow_scalar", "pow(x, 2.5)", [](const Tensor& x) { return pow(x, 2.5); }, uni(0.3, 2));
    add_unary(
        v, "pow_scalar", "pow(x, 3) negative base", [](const Tensor& x) { return pow(x, 3.0); },
        uni(-2, 2));
    add_unary(
        v, "pow_scalar", "pow(x, -1.5)", [](const Tensor& x) { return pow(x, -1.5); }, uni(0.5, 2));
    add_unary(
        v, "clip", "clip(-0.5, 0.7)", [](const Tensor& x) { return clip(x, -0.5, 0.7); },
        away(-1, 1, {-0.5, 0.7}, 0.05));
    add_unary(
        v, "logical_not", "logical_not of float", [](const Tensor& x) { return logical_not(x); },
        [](Shape s) { return WholeFloats(s, 0, 2); });
    for (auto it = v.end() - 5; it != v.end(); ++it) it->differentiable = false;
    v.push_back({.op = "logical_not",
                 .name = "logical_not of bool",
                 .fn = [](const auto& x) { return logical_not(x[0]); },
                 .inputs = {Mask({3, 5})},
                 .differentiable = false});

    // ---- binary arithmetic ----
    add_binary(
        v, "add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, uni(-2, 2),
        uni(-2, 2));
    add_binary(
        v, "sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, uni(-2, 2),
        uni(-2, 2));
    add_binary(
        v, "mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, uni(-2, 2),
        uni(-2, 2));
    add_binary(
        v, "div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, uni(-2, 2),
        [](Shape s) { return Signed(s, 0.5, 2); });
    // The gradient in b sums y·log(a) over broadcast rows; oneDNN's log has absolute errors of a
    // few 1e-6, which such sums accumulate.
    add_binary(
        v, "pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, uni(0.5, 2),
        uni(-1.5, 1.5), true, 1e-5, 1e-4);
    add_binary(
        v, "maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, uni(-1, 1),
        uni(-1, 1));
    add_binary(
        v, "minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, uni(-1, 1),
        uni(-1, 1));
    // The scalar overloads and operators route to the same ops.
    v.push_back({.op = "add",
                 .name = "x + 2.5 and 2.5 + x",
                 .fn = [](const auto& x) { return (x[0] + 2.5) * (2.5 + x[0]); },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "sub",
                 .name = "1 - x and x - 1",
                 .fn = [](const auto& x) { return (1.0 - x[0]) * (x[0] - 1.0); },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "div",
                 .name = "1 / x and x / 4",
                 .fn = [](const auto& x) { return (1.0 / x[0]) + (x[0] / 4.0); },
                 .inputs = {Signed({3, 4}, 0.5, 2)}});
    v.push_back({.op = "maximum",
                 .name = "maximum(x, 0.25) scalar",
                 .fn = [](const auto& x) { return maximum(x[0], 0.25); },
                 .inputs = {Away({3, 4}, -1, 1, {0.25})}});
    v.push_back({.op = "minimum",
                 .name = "minimum(x, 0.25) scalar",
                 .fn = [](const auto& x) { return minimum(x[0], 0.25); },
                 .inputs = {Away({3, 4}, -1, 1, {0.25})}});
    v.push_back({.op = "mul",
                 .name = "int64 * float (promotion)",
                 .fn = [](const auto& x) { return mul(x[1], x[0]); },
                 .inputs = {U({3, 4}), Index({3, 4}, 5)}});

    // ---- comparisons and logic (bool results) ----
    for (std::string op : {"eq", "ne", "lt", "le", "gt", "ge"}) {
      BinaryFn f =
          op == "eq"   ? BinaryFn([](const Tensor& a, const Tensor& b) { return eq(a, b); })
          : op == "ne" ? BinaryFn([](const Tensor& a, const Tensor& b) { return ne(a, b); })
          : op == "lt" ? BinaryFn([](const Tensor& a, const Tensor& b) { return lt(a, b); })
          : op == "le" ? BinaryFn([](const Tensor& a, const Tensor& b) { return le(a, b); })
          : op == "gt" ? BinaryFn([](const Tensor& a, const Tensor& b) { return gt(a, b); })
                       : BinaryFn([](const Tensor& a, const Tensor& b) { return ge(a, b); });
      auto whole = [](Shape s) { return WholeFloats(s, 0, 3); };
      add_binary(v, op, f, whole, whole, false, 0.0);
      v.push_back({.op = op,
                   .name = op + " int64 vs float",
                   .fn = [f](const auto& x) { return f(x[0], x[1]); },
                   .inputs = {Index({3, 4}, 3), WholeFloats({4}, 0, 3)},
                   .differentiable = false,
                   .tol32 = 0.0});
    }
    add_binary(
        v, "logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); },
        [](Shape s) { return Mask(s); }, [](Shape s) { return Mask(s); }, false, 0.0);
    add_binary(
        v, "logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); },
        [](Shape s) { return Mask(s); }, [](Shape s) { return WholeFloats(s, 0, 2); }, false, 0.0);

    // ---- where ----
    auto wfn = [](const auto& x) { return where(x[0], x[1], x[2]); };
    v.push_back({.op = "where",
                 .name = "where same shapes [3,4]",
                 .fn = wfn,
                 .inputs = {Mask({3, 4}), U({3, 4}), U({3, 4})}});
    v.push_back({.op = "where",
                 .name = "where broadcast cond [4], a [3,1], b [3,4]",
                 .fn = wfn,
                 .inputs = {Mask({4}), U({3, 1}), U({3, 4})}});
    v.push_back({.op = "where",
                 .name = "where transposed a, 0-d b",
                 .fn = [](const auto& x) { return where(x[0], x[1].t(), x[2]); },
                 .inputs = {Mask({3, 4}), U({4, 3}), U({})}});
    v.push_back({.op = "where",
                 .name = "where large [128,256] with [256] b",
                 .fn = wfn,
                 .inputs = {Mask({128, 256}), U({128, 256}), U({256})},
                 .large = true});

    // ---- reductions ----
    add_reduce(
        v, "sum", "sum", [](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); },
        uni(-1, 1));
    add_reduce(
        v, "mean", "mean", [](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); },
        uni(-1, 1), 1e-5, true, {.fill = NAN});
    add_reduce(
        v, "max", "max", [](const Tensor& x, const Axes& a, bool k) { return max(x, a, k); },
        distinct(-1, 1), 1e-5, true, {.error = "empty"});
    add_reduce(
        v, "min", "min", [](const Tensor& x, const Axes& a, bool k) { return min(x, a, k); },
        distinct(-1, 1), 1e-5, true, {.error = "empty"});
    add_reduce(
        v, "prod", "prod", [](const Tensor& x, const Axes& a, bool k) { return prod(x, a, k); },
        [](Shape s) { return numel(s) > 1000 ? Signed(s, 0.99, 1.01) : Signed(s, 0.5, 1.5); },
        1e-5, true, {.fill = 1.0});
    v.push_back({.op = "prod",
                 .name = "prod with one zero per row, axis 1",
                 .fn = [](const auto& x) { return prod(x[0], {1}); },
                 .inputs = {WithZeros({3, 4}, 0.5, 1.5, {1, 4, 11})}});
    v.push_back({.op = "prod",
                 .name = "prod with two zeros in a row and one in another",
                 .fn = [](const auto& x) { return prod(x[0], {1}, true); },
                 .inputs = {WithZeros({2, 4}, 0.5, 1.5, {0, 2, 5})}});
    v.push_back({.op = "prod",
                 .name = "prod with three zeros in a row",
                 .fn = [](const auto& x) { return prod(x[0], {1}); },
                 .inputs = {WithZeros({2, 4}, 0.5, 1.5, {0, 1, 3})}});
    v.push_back({.op = "prod",
                 .name = "prod of all with a zero",
                 .fn = [](const auto& x) { return prod(x[0]); },
                 .inputs = {WithZeros({2, 3}, -1.5, 1.5, {3})}});
    add_reduce(
        v, "var", "var", [](const Tensor& x, const Axes& a, bool k) { return var(x, a, k); },
        uni(-1, 1), 1e-5, true, {.fill = NAN});
    add_reduce(
        v, "var", "var ddof=1",
        [](const Tensor& x, const Axes& a, bool k) { return var(x, a, k, 1); }, uni(-1, 1));
    add_reduce(
        v, "std", "std", [](const Tensor& x, const Axes& a, bool k) { return std(x, a, k); },
        uni(-1, 1), 1e-5, true, {.fill = NAN});
    add_reduce(
        v, "logsumexp", "logsumexp",
        [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); }, uni(-3, 3),
        1e-5, true, {.fill = -INFINITY});
    add_reduce(
        v, "norm", "norm p=2",
        [](const Tensor& x, const Axes& a, bool k) { return norm(x, 2.0, a, k); }, uni(-1, 1));
    add_reduce(
        v, "norm", "norm p=1",
        [](const Tensor& x, const Axes& a, bool k) { return norm(x, 1.0, a, k); }, away(-1, 1));
    add_reduce(
        v, "norm", "norm p=3",
        [](const Tensor& x, const Axes& a, bool k) { return norm(x, 3.0, a, k); }, away(-1, 1));
    add_reduce(
        v, "norm", "norm p=inf",
        [](const Tensor& x, const Axes& a, bool k) { return norm(x, INFINITY, a, k); },
        distinct(0.1, 1));
    v.push_back({.op = "logsumexp",
                 .name = "logsumexp of large values (1000 + x)",
                 .fn = [](const auto& x) { return logsumexp(add(x[0], 1000.0), {1}); },
                 .inputs = {U({3, 5})},
                 .tol32 = 1e-4});
    for (bool is_max : {true, false}) {
      std::string op = is_max ? "argmax" : "argmin";
      auto f = [is_max](const Tensor& x, std::optional<int64_t> a, bool k) {
        return is_max ? argmax(x, a, k) : argmin(x, a, k);
      };
      v.push_back({.op = op,
                   .name = op + " flattened",
                   .fn = [f](const auto& x) { return f(x[0], std::nullopt, false); },
                   .inputs = {Distinct({3, 4})},
                   .differentiable = false,
                   .tol32 = 0.0});
      v.push_back({.op = op,
                   .name = op + " axis 1 keepdims",
                   .fn = [f](const auto& x) { return f(x[0], 1, true); },
                   .inputs = {Distinct({3, 4})},
                   .differentiable = false,
                   .tol32 = 0.0});
      v.push_back({.op = op,
                   .name = op + " axis 0 of transposed",
                   .fn = [f](const auto& x) { return f(x[0].t(), 0, false); },
                   .inputs = {Distinct({4, 3})},
                   .differentiable = false,
                   .tol32 = 0.0});
      v.push_back({.op = op,
                   .name = op + " large axis -1",
                   .fn = [f](const auto& x) { return f(x[0], -1, false); },
                   .inputs = {Distinct({128, 256})},
                   .differentiable = false,
                   .tol32 = 0.0,
                   .large = true});
    }
    v.push_back({.op = "sum_to",
                 .name = "sum_to [3,4] -> [1,4]",
                 .fn =
                     [](const auto& x) {
                       return sum_to(x[0], {1, 4});
                     },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "sum_to",
                 .name = "sum_to [2,3,4] -> [3,1]",
                 .fn =
                     [](const auto& x) {
                       return sum_to(x[0], {3, 1});
                     },
                 .inputs = {U({2, 3, 4})}});
    v.push_back({.op = "sum_to",
                 .name = "sum_to of a reduced transposed [3,2] -> [2]",
                 .fn =
                     [](const auto& x) {
                       return sum_to(sum(x[0].t().reshape({3, 2, 2}), {2}), {2});
                     },
                 .inputs = {U({4, 3})}});
    v.push_back({.op = "sum_to",
                 .name = "sum_to large [128,256] -> [1,256]",
                 .fn =
                     [](const auto& x) {
                       return sum_to(x[0], {1, 256});
                     },
                 .inputs = {U({128, 256})},
                 .tol32 = 1e-4,
                 .large = true});

    // ---- matmul ----
    auto mm = [](const auto& x) { return matmul(x[0], x[1]); };
    auto add_mm = [&](std::string name, autograd::TestFunction f, Shape sa, Shape sb,
                      bool large = false) {
      v.push_back({.op = "matmul",
                   .name = "matmul " + name,
                   .fn = std::move(f),
                   .inputs = {U(sa), U(sb)},
                   .tol32 = large ? 1e-4 : 1e-5,
                   .large = large});
    };
    add_mm("[3,4] @ [4,2]", mm, {3, 4}, {4, 2});
    add_mm("[4] @ [4,2]", mm, {4}, {4, 2});
    add_mm("[3,4] @ [4]", mm, {3, 4}, {4});
    add_mm("[4] @ [4]", mm, {4}, {4});
    add_mm("batched [2,3,4] @ [4,2] (broadcast b)", mm, {2, 3, 4}, {4, 2});
    add_mm("batched [3,4] @ [2,4,2] (broadcast a)", mm, {3, 4}, {2, 4, 2});
    add_mm("batched [1,3,4] @ [2,4,2]", mm, {1, 3, 4}, {2, 4, 2});
    add_mm("transposed a and b", [](const auto& x) { return matmul(x[0].t(), x[1].t()); }, {4, 3},
           {2, 4});
    add_mm("permuted batch operand",
           [](const auto& x) {
             return matmul(x[0].permute({1, 0, 2}), x[1]);
           },
           {3, 2, 4}, {4, 2});
    add_mm("step-2 slice operand",
           [](const auto& x) { return matmul(x[0].slice(1, 0, 8, 2), x[1]); }, {3, 8}, {4, 2});
    add_mm("expanded operand [1,4] -> [3,4]",
           [](const auto& x) {
             return matmul(x[0].expand({3, 4}), x[1]);
           },
           {1, 4}, {4, 2});
    add_mm("sum of product (broadcast upstream gradient)",
           [](const auto& x) { return sum(matmul(x[0], x[1])); }, {3, 4}, {4, 2});
    add_mm("large [64,96] @ [96,80]", mm, {64, 96}, {96, 80}, true);
    add_mm(
        "large transposed a [96,64].t() @ [96,80]",
        [](const auto& x) { return matmul(x[0].t(), x[1]); }, {96, 64}, {96, 80}, true);
    add_mm(
        "large transposed b [64,96] @ [80,96].t()",
        [](const auto& x) { return matmul(x[0], x[1].t()); }, {64, 96}, {80, 96}, true);
    add_mm(
        "large both transposed", [](const auto& x) { return matmul(x[0].t(), x[1].t()); }, {96, 64},
        {80, 96}, true);
    add_mm("large batched [4,32,48] @ [48,40] (broadcast b)", mm, {4, 32, 48}, {48, 40}, true);
    add_mm("large batched [32,48] @ [4,48,40] (broadcast a)", mm, {32, 48}, {4, 48, 40}, true);
    add_mm("large batched [4,1,32,48] @ [3,48,40]", mm, {4, 1, 32, 48}, {3, 48, 40}, true);
    add_mm(
        "large permuted batch [32,4,48].permute(1,0,2) @ [4,48,40]",
        [](const auto& x) {
          return matmul(x[0].permute({1, 0, 2}), x[1]);
        },
        {32, 4, 48}, {4, 48, 40}, true);
    add_mm("large [128] @ [128,64]", mm, {128}, {128, 64}, true);
    add_mm("large [64,128] @ [128]", mm, {64, 128}, {128}, true);
    add_mm(
        "large expanded operand [1,96] -> [64,96]",
        [](const auto& x) {
          return matmul(x[0].expand({64, 96}), x[1]);
        },
        {1, 96}, {96, 80}, true);
    add_mm(
        "large mean of product (broadcast upstream gradient)",
        [](const auto& x) { return mean(matmul(x[0], x[1])); }, {64, 96}, {96, 80}, true);

    // ---- softmax ----
    for (bool lg : {false, true}) {
      std::string op = lg ? "log_softmax" : "softmax";
      auto f = [lg](const Tensor& x, int64_t axis) {
        return lg ? log_softmax(x, axis) : softmax(x, axis);
      };
      auto add_sm = [&](std::string name, autograd::TestFunction g, InputGen in, bool large = false,
                        double tol = 1e-5) {
        v.push_back({.op = op,
                     .name = op + " " + name,
                     .fn = std::move(g),
                     .inputs = {std::move(in)},
                     .tol32 = tol,
                     .large = large});
      };
      add_sm(
          "axis -1 [3,5]", [f](const auto& x) { return f(x[0], -1); }, U({3, 5}, -2, 2));
      add_sm(
          "axis 0 [3,5]", [f](const auto& x) { return f(x[0], 0); }, U({3, 5}, -2, 2));
      add_sm(
          "axis 1 of [2,3,4]", [f](const auto& x) { return f(x[0], 1); }, U({2, 3, 4}, -2, 2));
      add_sm(
          "transposed [5,3].t()", [f](const auto& x) { return f(x[0].t(), -1); }, U({5, 3}, -2, 2));
      add_sm(
          "large axis -1 [64,256]", [f](const auto& x) { return f(x[0], -1); }, U({64, 256}, -4, 4),
          true);
      add_sm(
          "large axis 0 [64,256]", [f](const auto& x) { return f(x[0], 0); }, U({64, 256}, -4, 4),
          true);
      add_sm(
          "large axis 1 of [8,32,16]", [f](const auto& x) { return f(x[0], 1); },
          U({8, 32, 16}, -4, 4), true);
      add_sm(
          "large transposed [256,64].t()", [f](const auto& x) { return f(x[0].t(), -1); },
          U({256, 64}, -4, 4), true);
      // The factor 30 scales float32 rounding of the backward by 30 as well.
      add_sm(
          "large wide logits x*30", [f](const auto& x) { return f(mul(x[0], 30.0), -1); },
          U({32, 64}, -1, 1), true, 1e-4);
    }

    // ---- joining, splitting, padding ----
    v.push_back({.op = "concat",
                 .name = "concat axis 1 of three (one transposed)",
                 .fn =
                     [](const auto& x) {
                       return concat({x[0], x[1].t(), x[2]}, 1);
                     },
                 .inputs = {U({3, 2}), U({4, 3}), U({3, 1})}});
    v.push_back({.op = "concat",
                 .name = "concat axis 0 of step-2 slices",
                 .fn =
                     [](const auto& x) {
                       return concat({x[0].slice(0, 0, 4, 2), x[1]}, 0);
                     },
                 .inputs = {U({4, 3}), U({3, 3})}});
    v.push_back({.op = "concat",
                 .name = "concat float64 with float32 (promotion)",
                 .fn =
                     [](const auto& x) {
                       return concat({x[0], x[1].to(kFloat32)}, -1);
                     },
                 .inputs = {U({2, 3}), U({2, 2})},
                 .gc = {.eps = 1e-2}});
    v.push_back({.op = "concat",
                 .name = "concat large axis 0",
                 .fn =
                     [](const auto& x) {
                       return concat({x[0], x[1]}, 0);
                     },
                 .inputs = {U({64, 256}), U({64, 256})},
                 .large = true});
    v.push_back({.op = "stack",
                 .name = "stack axis 0",
                 .fn =
                     [](const auto& x) {
                       return stack({x[0], x[1], x[2]}, 0);
                     },
                 .inputs = {U({2, 3}), U({2, 3}), U({2, 3})}});
    v.push_back({.op = "stack",
                 .name = "stack last axis of transposed",
                 .fn =
                     [](const auto& x) {
                       return stack({x[0].t(), x[1]}, -1);
                     },
                 .inputs = {U({3, 2}), U({2, 3})}});
    v.push_back({.op = "split",
                 .name = "split [3,5] sizes {2,3} axis 1",
                 .fn =
                     [](const auto& x) {
                       auto p = split(x[0], {2, 3}, 1);
                       return concat({mul(p[1], 3.0), p[0]}, 1);
                     },
                 .inputs = {U({3, 5})}});
    v.push_back({.op = "split",
                 .name = "split transposed axis 0 into {1,1,2}",
                 .fn =
                     [](const auto& x) {
                       auto p = split(x[0].t(), {1, 1, 2}, 0);
                       return add(p[1], sum(mul(p[2], p[2]), {0}, true));
                     },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "chunk",
                 .name = "chunk 5 into 2 (3 + 2)",
                 .fn =
                     [](const auto& x) {
                       auto p = chunk(x[0], 2, 1);
                       return add(p[0].slice(1, 0, 2), mul(p[1], 2.0));
                     },
                 .inputs = {U({3, 5})}});
    v.push_back({.op = "chunk",
                 .name = "chunk 6 into 3 along axis 0",
                 .fn =
                     [](const auto& x) {
                       auto p = chunk(x[0], 3, 0);
                       return stack({p[0], mul(p[1], 2.0), mul(p[2], p[2])});
                     },
                 .inputs = {U({6, 2})}});
    v.push_back({.op = "pad",
                 .name = "pad {(1,2),(0,1)} with 0.5",
                 .fn =
                     [](const auto& x) {
                       return pad(x[0], {{1, 2}, {0, 1}}, 0.5);
                     },
                 .inputs = {U({2, 3})}});
    v.push_back({.op = "pad",
                 .name = "pad leading axis only of transposed",
                 .fn =
                     [](const auto& x) {
                       return pad(x[0].t(), {{2, 0}});
                     },
                 .inputs = {U({3, 2})}});

    // ---- indexing ----
    v.push_back({.op = "gather",
                 .name = "gather axis 1",
                 .fn = [](const auto& x) { return gather(x[0], 1, x[1]); },
                 .inputs = {U({3, 5}), Index({3, 4}, 5)}});
    v.push_back({.op = "gather",
                 .name = "gather axis 0 (smaller index) of transposed",
                 .fn = [](const auto& x) { return gather(x[0].t(), 0, x[1]); },
                 .inputs = {U({4, 3}), Index({2, 4}, 3)}});
    v.push_back({.op = "gather",
                 .name = "gather int32 index",
                 .fn = [](const auto& x) { return gather(x[0], -1, x[1].to(kInt32)); },
                 .inputs = {U({2, 4}), Index({2, 6}, 4)}});
    v.push_back({.op = "gather",
                 .name = "gather large axis 1",
                 .fn = [](const auto& x) { return gather(x[0], 1, x[1]); },
                 .inputs = {U({128, 256}), Index({128, 64}, 256)},
                 .large = true});
    v.push_back({.op = "scatter_add",
                 .name = "scatter_add axis 0 (duplicate indices)",
                 .fn = [](const auto& x) { return scatter_add(x[0], 0, x[1], x[2]); },
                 .inputs = {U({3, 4}), Index({5, 4}, 3), U({5, 4})}});
    v.push_back({.op = "scatter_add",
                 .name = "scatter_add axis 1 transposed source",
                 .fn = [](const auto& x) { return scatter_add(x[0], 1, x[1], x[2].t()); },
                 .inputs = {U({2, 5}), Index({2, 3}, 5), U({3, 2})}});
    v.push_back({.op = "take_along_axis",
                 .name = "take_along_axis axis 1",
                 .fn = [](const auto& x) { return take_along_axis(x[0], x[1], 1); },
                 .inputs = {U({3, 5}), Index({3, 2}, 5)}});
    v.push_back({.op = "take_along_axis",
                 .name = "take_along_axis broadcast index [1,2] on [3,5]",
                 .fn = [](const auto& x) { return take_along_axis(x[0], x[1], -1); },
                 .inputs = {U({3, 5}), Index({1, 2}, 5)}});
    v.push_back({.op = "index_select",
                 .name = "index_select axis 0 (repeats)",
                 .fn = [](const auto& x) { return index_select(x[0], 0, x[1]); },
                 .inputs = {U({3, 4}), Index({5}, 3)}});
    v.push_back({.op = "index_select",
                 .name = "index_select axis 1 of transposed",
                 .fn = [](const auto& x) { return index_select(x[0].t(), 1, x[1]); },
                 .inputs = {U({4, 3}), Index({2}, 4)}});
    v.push_back({.op = "one_hot",
                 .name = "one_hot [2,3] with 4 classes",
                 .fn = [](const auto& x) { return one_hot(x[0], 4); },
                 .inputs = {Index({2, 3}, 4)},
                 .differentiable = false,
                 .tol32 = 0.0});
    v.push_back({.op = "cumsum",
                 .name = "cumsum axis 1",
                 .fn = [](const auto& x) { return cumsum(x[0], 1); },
                 .inputs = {U({3, 5})}});
    v.push_back({.op = "cumsum",
                 .name = "cumsum axis 0 of transposed",
                 .fn = [](const auto& x) { return cumsum(x[0].t(), 0); },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "cumsum",
                 .name = "cumsum int64",
                 .fn = [](const auto& x) { return cumsum(x[0], 0); },
                 .inputs = {Index({6}, 10)},
                 .differentiable = false,
                 .tol32 = 0.0});

    // ---- CTC loss (labels and lengths are fixed int inputs; every sample is feasible) ----
    auto ints = [](std::vector<int64_t> v, Shape s) -> InputGen {
      return [=](DType, uint64_t) { return tensor<int64_t>(v, s).reshape(s); };
    };
    auto ctc_fn = [](int64_t blank) -> autograd::TestFunction {
      return [blank](const auto& x) { return ctc_loss(x[0], x[1], x[2], x[3], blank); };
    };
    v.push_back({.op = "ctc_loss",
                 .name = "ctc_loss per-sample lengths, repeated label, padding",
                 .fn = ctc_fn(0),
                 .inputs = {U({3, 5, 4}, -2, 2), ints({1, 2, 1, 3, 3, 0, 2, 0, 0}, {3, 3}),
                            ints({3, 2, 1}, {3}), ints({5, 4, 3}, {3})}});
    v.push_back(
        {.op = "ctc_loss",
         .name = "ctc_loss blank last (-1), int32 labels",
         .fn = [](const auto& x) { return ctc_loss(x[0], x[1].to(kInt32), x[2], x[3], -1); },
         .inputs = {U({2, 4, 3}, -2, 2), ints({0, 1, 1, 1}, {2, 2}), ints({2, 2}, {2}),
                    ints({4, 3}, {2})}});
    v.push_back(
        {.op = "ctc_loss",
         .name = "ctc_loss of time-major logits [T, N, C] transposed",
         .fn = [](const auto& x) { return ctc_loss(x[0].transpose(0, 1), x[1], x[2], x[3]); },
         .inputs = {U({4, 2, 3}, -2, 2), ints({1, 2, 2, 0}, {2, 2}), ints({2, 1}, {2}),
                    ints({4, 2}, {2})}});

    // ---- views, copies and conversions ----
    v.push_back({.op = "reshape",
                 .name = "reshape view [3,4] -> [2,-1]",
                 .fn =
                     [](const auto& x) {
                       return x[0].reshape({2, -1});
                     },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "reshape",
                 .name = "reshape of transposed (copies)",
                 .fn = [](const auto& x) { return x[0].t().reshape({12}); },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "reshape",
                 .name = "flatten/squeeze/unsqueeze",
                 .fn = [](const auto& x) { return x[0].unsqueeze(1).flatten(0, 1).squeeze(); },
                 .inputs = {U({3, 1, 4})}});
    v.push_back({.op = "permute",
                 .name = "permute (2,0,1)",
                 .fn =
                     [](const auto& x) {
                       return mul(x[0].permute({2, 0, 1}), x[1]);
                     },
                 .inputs = {U({2, 3, 4}), U({4, 2, 3})}});
    v.push_back({.op = "permute",
                 .name = "transpose(0, 2) of step-2 slice",
                 .fn = [](const auto& x) { return x[0].slice(1, 0, 6, 2).transpose(0, 2); },
                 .inputs = {U({2, 6, 2})}});
    v.push_back({.op = "slice",
                 .name = "slice step 2 then step 3",
                 .fn = [](const auto& x) { return x[0].slice(1, 1, 9, 2).slice(0, 0, 5, 3); },
                 .inputs = {U({5, 9})}});
    v.push_back({.op = "slice",
                 .name = "slice negative bounds",
                 .fn = [](const auto& x) { return x[0].slice(-1, -3, -1); },
                 .inputs = {U({2, 5})}});
    v.push_back({.op = "select",
                 .name = "select axis 1 and operator[]",
                 .fn = [](const auto& x) { return mul(x[0].select(1, 2), x[0][1].slice(0, 0, 3)); },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "select",
                 .name = "select negative index",
                 .fn = [](const auto& x) { return x[0].select(0, -1); },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "expand",
                 .name = "expand [3,1] -> [2,3,4]",
                 .fn =
                     [](const auto& x) {
                       return x[0].expand({2, 3, 4});
                     },
                 .inputs = {U({3, 1})}});
    v.push_back({.op = "expand",
                 .name = "broadcast_to with -1",
                 .fn =
                     [](const auto& x) {
                       return mul(x[0].broadcast_to({3, -1}), x[1]);
                     },
                 .inputs = {U({1, 4}), U({3, 4})}});
    v.push_back({.op = "clone",
                 .name = "clone of transposed",
                 .fn = [](const auto& x) { return x[0].t().clone(); },
                 .inputs = {U({3, 4})}});
    v.push_back({.op = "clone",
                 .name = "contiguous of step-2 slice",
                 .fn = [](const auto& x) { return x[0].slice(1, 0, 6, 2).contiguous(); },
                 .inputs = {U({3, 6})}});
    // Cast between float dtypes: linear, so a large finite-difference step is exact.
    v.push_back({.op = "cast",
                 .name = "cast to the other float dtype",
                 .fn =
                     [](const auto& x) {
                       return cast(x[0], x[0].dtype() == kFloat64 ? kFloat32 : kFloat64);
                     },
                 .inputs = {U({3, 4})},
                 .gc = {.eps = 0.05}});
    v.push_back({.op = "cast",
                 .name = "cast int64 to float (no gradient)",
                 .fn = [](const auto& x) { return cast(x[0], kFloat32); },
                 .inputs = {Index({3, 4}, 7)},
                 .differentiable = false,
                 .tol32 = 0.0});
    // Only the CPU device exists in this build, so to(cpu) is the identity (plus a view here).
    v.push_back({.op = "to_device",
                 .name = "to(cpu) of transposed",
                 .fn = [](const auto& x) { return x[0].t().to(Device::cpu()); },
                 .inputs = {U({3, 4})}});
    // slice_backward runs as the adjoint of slice in backward, and is recorded (so that gradients
    // of gradients work) when the incoming gradient requires grad: exercise it through grad().
    v.push_back({.op = "slice_backward",
                 .name = "slice_backward via grad(create_graph) of slice",
                 .fn =
                     [](const auto& x) {
                       EnableGrad eg;
                       Tensor base = zeros({3, 7}, {.dtype = x[0].dtype(), .requires_grad = true});
                       Tensor y = base.slice(1, 1, 7, 2);  // [3, 3]
                       return autograd::grad({y}, {base}, {x[0]}, {.create_graph = true})[0];
                     },
                 .inputs = {U({3, 3})}});
    v.push_back({.op = "slice_backward",
                 .name = "slice_backward via select's backward",
                 .fn =
                     [](const auto& x) {
                       EnableGrad eg;
                       Tensor base = zeros({4, 3}, {.dtype = x[0].dtype(), .requires_grad = true});
                       return autograd::grad({base.select(0, 2)}, {base}, {x[0]},
                                             {.create_graph = true})[0];
                     },
                 .inputs = {U({3})}});

    // ---- regularization ----
    // A fixed seed makes the mask a constant, so dropout is linear in x and gradchecks exactly.
    v.push_back({.op = "dropout",
                 .name = "dropout(0.3) seeded",
                 .fn = [](const auto& x) { return dropout(x[0], 0.3, true, 42); },
                 .inputs = {U({3, 5})}});
    v.push_back({.op = "dropout",
                 .name = "dropout(0.5) seeded of transposed",
                 .fn = [](const auto& x) { return dropout(x[0].t(), 0.5, true, 7); },
                 .inputs = {U({5, 3})}});
    v.push_back({.op = "dropout",
                 .name = "dropout not training (identity)",
                 .fn = [](const auto& x) { return mul(dropout(x[0], 0.5, false), 1.0); },
                 .inputs = {U({3, 5})}});
    v.push_back({.op = "dropout",
                 .name = "dropout(0.2) seeded large",
                 .fn = [](const auto& x) { return dropout(x[0], 0.2, true, 3); },
                 .inputs = {U({128, 160})},
                 .large = true});

    // ---- convolution and pooling (NHWC, Keras kernel layouts) ----
    auto conv = [&](std::string name, Conv2dOptions o, Shape xs, Shape ws, bool large = false,
                    double tol = 1e-4) {
      v.push_back({.op = "conv2d",
                   .name = "conv2d " + name,
                   .fn = [o](const auto& x) { return conv2d(x[0], x[1], o); },
                   .inputs = {U(xs), U(ws)},
                   .tol32 = tol,
                   .large = large});
    };
    conv("valid 3x3", {}, {2, 5, 5, 3}, {3, 3, 3, 4});
    conv("same stride 2", {.strides = {2, 2}, .padding = "same"}, {1, 6, 5, 2}, {3, 3, 2, 3});
    conv("dilation 2", {.padding = "same", .dilation_rate = {2, 2}}, {1, 6, 6, 2}, {3, 3, 2, 2});
    conv("groups 2", {.groups = 2}, {1, 4, 4, 4}, {2, 2, 2, 6});
    conv("explicit padding", {.padding = std::vector<std::pair<int64_t, int64_t>>{{1, 0}, {0, 2}}},
         {1, 4, 4, 2}, {2, 3, 2, 2});
    conv("1x1 groups 2", {.groups = 2}, {2, 4, 4, 4}, {1, 1, 2, 6});
    conv("large same 3x3", {.padding = "same"}, {8, 14, 14, 16}, {3, 3, 16, 32}, true, 1e-3);
    // W3's second layer: the CPU backend's Winograd forward in blocked layouts.
    conv("large valid 3x3 32->64", {}, {4, 13, 13, 32}, {3, 3, 32, 64}, true, 1e-3);
    conv("large stride 2 groups 4", {.strides = {2, 2}, .padding = "same", .groups = 4},
         {4, 12, 12, 16}, {3, 3, 4, 16}, true, 1e-3);
    // With a bias: added inside the kernel (oneDNN's bias argument; Winograd for the large one).
    auto conv_bias = [&](std::string name, Conv2dOptions o, Shape xs, Shape ws, bool large,
                         double tol) {
      v.push_back({.op = "conv2d",
                   .name = "conv2d with bias " + name,
                   .fn = [o](const auto& x) { return conv2d(x[0], x[1], x[2], o); },
                   .inputs = {U(xs), U(ws), U({ws[3]})},
                   .tol32 = tol,
                   .large = large});
    };
    conv_bias("same stride 2", {.strides = {2, 2}, .padding = "same"}, {2, 5, 4, 2}, {3, 3, 2, 3},
              false, 1e-4);
    conv_bias("large valid 3x3 32->64", {}, {4, 13, 13, 32}, {3, 3, 32, 64}, true, 1e-3);
    conv_bias("large 1 channel 3x3", {}, {8, 12, 12, 1}, {3, 3, 1, 32}, true, 1e-3);
    // The fused relu: outputs and gradients as relu(conv2d(...)) (random inputs put no output
    // within gradcheck's step of relu's kink).
    conv_bias("fused relu same", {.padding = "same", .fused_relu = true}, {2, 5, 4, 2},
              {3, 3, 2, 3}, false, 1e-4);
    conv_bias("fused relu large valid 3x3 32->64", {.fused_relu = true}, {4, 13, 13, 32},
              {3, 3, 32, 64}, true, 1e-3);
    conv_bias("fused relu large stride 2", {.strides = {2, 2}, .fused_relu = true}, {4, 12, 12, 16},
              {3, 3, 16, 16}, true, 1e-3);
    v.push_back(
        {.op = "conv1d",
         .name = "conv1d with bias, causal",
         .fn = [](const auto& x) { return conv1d(x[0], x[1], x[2], {.padding = "causal"}); },
         .inputs = {U({2, 6, 3}), U({3, 3, 4}), U({4})},
         .tol32 = 1e-4});
    v.push_back({.op = "conv2d",
                 .name = "conv2d channels_first",
                 .fn =
                     [](const auto& x) {
                       return conv2d(x[0], x[1],
                                     {.padding = "same", .data_format = "channels_first"});
                     },
                 .inputs = {U({1, 2, 4, 5}), U({3, 3, 2, 3})},
                 .tol32 = 1e-4});
    v.push_back({.op = "conv2d_backward_input",
                 .name = "conv2d_backward_input same stride 2",
                 .fn =
                     [](const auto& x) {
                       return conv2d_backward_input(x[0], x[1], {1, 5, 6, 2},
                                                    {.strides = {2, 2}, .padding = "same"});
                     },
                 .inputs = {U({1, 3, 3, 3}), U({3, 3, 2, 3})},
                 .tol32 = 1e-4});
    v.push_back(
        {.op = "conv2d_backward_input",
         .name = "conv2d_backward_input large",
         .fn =
             [](const auto& x) {
               return conv2d_backward_input(x[0], x[1], {4, 12, 12, 16}, {.padding = "same"});
             },
         .inputs = {U({4, 12, 12, 32}), U({3, 3, 16, 32})},
         .tol32 = 1e-3,
         .large = true});
    v.push_back({.op = "conv2d_backward_weight",
                 .name = "conv2d_backward_weight valid",
                 .fn =
                     [](const auto& x) {
                       return conv2d_backward_weight(x[0], x[1], {2, 2, 2, 3});
                     },
                 .inputs = {U({2, 4, 4, 2}), U({2, 3, 3, 3})},
                 .tol32 = 1e-4});
    v.push_back({.op = "conv2d_backward_weight",
                 .name = "conv2d_backward_weight large groups",
                 .fn =
                     [](const auto& x) {
                       return conv2d_backward_weight(x[0], x[1], {3, 3, 8, 16},
                                                     {.padding = "same", .groups = 2});
                     },
                 .inputs = {U({4, 10, 10, 16}), U({4, 10, 10, 16})},
                 .tol32 = 1e-3,
                 .large = true});
    v.push_back({.op = "conv1d",
                 .name = "conv1d causal dilation 2",
                 .fn =
                     [](const auto& x) {
                       return conv1d(x[0], x[1], {.padding = "causal", .dilation_rate = 2});
                     },
                 .inputs = {U({2, 7, 3}), U({3, 3, 2})},
                 .tol32 = 1e-4});
    v.push_back(
        {.op = "conv1d",
         .name = "conv1d same stride 2",
         .fn = [](const auto& x) { return conv1d(x[0], x[1], {.strides = 2, .padding = "same"}); },
         .inputs = {U({1, 8, 2}), U({3, 2, 4})},
         .tol32 = 1e-4});
    v.push_back({.op = "conv2d_transpose",
                 .name = "conv2d_transpose same stride 2",
                 .fn =
                     [](const auto& x) {
                       return conv2d_transpose(x[0], x[1], {.strides = {2, 2}, .padding = "same"});
                     },
                 .inputs = {U({1, 3, 2, 3}), U({3, 3, 2, 3})},
                 .tol32 = 1e-4});
    v.push_back({.op = "conv2d_transpose",
                 .name = "conv2d_transpose valid stride 2 kernel 3",
                 .fn =
                     [](const auto& x) {
                       return conv2d_transpose(x[0], x[1], {.strides = {2, 2}});
                     },
                 .inputs = {U({1, 2, 3, 2}), U({3, 3, 3, 2})},
                 .tol32 = 1e-4});
    auto pool = [&](std::string op, std::string name, Pool2dOptions o, Shape xs,
                    bool large = false) {
      v.push_back({.op = op,
                   .name = op + " " + name,
                   .fn =
                       [op, o](const auto& x) {
                         return op == "max_pool2d" ? max_pool2d(x[0], o) : avg_pool2d(x[0], o);
                       },
                   .inputs = {op == "max_pool2d" ? Distinct(xs) : U(xs)},
                   .tol32 = 1e-5,
                   .large = large});
    };
    for (std::string op : {"max_pool2d", "avg_pool2d"}) {
      pool(op, "2x2", {}, {2, 4, 4, 3});
      pool(op, "3x3 stride 2 same", {.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"},
           {1, 5, 6, 2});
      pool(op, "2x3 stride 1 valid", {.pool_size = {2, 3}, .strides = {1, 1}}, {1, 4, 5, 2});
      pool(op, "large 2x2", {}, {16, 28, 28, 32}, true);
      // Non-overlapping windows that do not tile the input (rows and columns no window
      // covers), with same padding, and with a stride larger than the window.
      pool(op, "2x2 odd size", {}, {2, 5, 7, 3});
      pool(op, "2x2 same padding", {.padding = "same"}, {2, 5, 5, 2});
      pool(op, "2x2 stride 3", {.pool_size = {2, 2}, .strides = {3, 3}}, {1, 8, 7, 2});
      pool(op, "large 2x2 odd size", {}, {8, 27, 25, 16}, true);
    }
    v.push_back(
        {.op = "avg_pool2d_backward",
         .name = "avg_pool2d_backward via grad(create_graph)",
         .fn =
             [](const auto& x) {
               EnableGrad eg;
               Tensor base = zeros({1, 5, 5, 2}, {.dtype = x[0].dtype(), .requires_grad = true});
               Tensor y =
                   avg_pool2d(base, {.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"});
               return autograd::grad({y}, {base}, {x[0]}, {.create_graph = true})[0];
             },
         .inputs = {U({1, 3, 3, 2})}});
    v.push_back({.op = "global_avg_pool2d",
                 .name = "global_avg_pool2d",
                 .fn = [](const auto& x) { return global_avg_pool2d(x[0]); },
                 .inputs = {U({2, 3, 4, 5})}});
    v.push_back(
        {.op = "global_max_pool2d",
         .name = "global_max_pool2d channels_first keepdims",
         .fn = [](const auto& x) { return global_max_pool2d(x[0], true, "channels_first"); },
         .inputs = {Distinct({2, 3, 4, 5})}});

    // ---- normalization and embedding ----
    v.push_back({.op = "batch_norm",
                 .name = "batch_norm training, channels last",
                 .fn =
                     [](const auto& x) {
                       const TensorOptions o{.dtype = x[0].dtype(), .device = x[0].device()};
                       Tensor rm = zeros({3}, o), rv = ones({3}, o);
                       return batch_norm(x[0], x[1], x[2], rm, rv, true);
                     },
                 .inputs = {U({4, 2, 3}), U({3}, 0.5, 1.5), U({3})},
                 .tol32 = 1e-4});
    v.push_back({.op = "batch_norm",
                 .name = "batch_norm inference, axis 1",
                 .fn =
                     [](const auto& x) {
                       return batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.99, 1e-3, 1);
                     },
                 .inputs = {U({2, 3, 4}), U({3}, 0.5, 1.5), U({3}), U({3}), U({3}, 0.5, 2.0)},
                 .tol32 = 1e-4});
    v.push_back({.op = "layer_norm",
                 .name = "layer_norm last axis",
                 .fn = [](const auto& x) { return layer_norm(x[0], x[1], x[2]); },
                 .inputs = {U({3, 5}), U({5}, 0.5, 1.5), U({5})},
                 .tol32 = 1e-4});
    v.push_back({.op = "layer_norm",
                 .name = "layer_norm two axes, no scale",
                 .fn =
                     [](const auto& x) {
                       return layer_norm(x[0], Tensor(), Tensor(), {1, 2});
                     },
                 .inputs = {U({2, 3, 4})},
                 .tol32 = 1e-4});
    v.push_back({.op = "unbind",
                 .name = "unbind axis 1, two slices used",
                 .fn =
                     [](const auto& x) {
                       auto parts = unbind(x[0], 1);
                       return add(mul(parts[0], 2.0), parts[2]);
                     },
                 .inputs = {U({2, 3, 4})}});
    v.push_back({.op = "unbind",
                 .name = "unbind axis 0 of transposed, restacked",
                 .fn = [](const auto& x) { return stack(unbind(x[0].t(), 0), 1); },
                 .inputs = {U({3, 4})}});
    // ---- recurrent ----
    v.push_back({.op = "lstm",
                 .name = "lstm sequences with initial state",
                 .fn =
                     [](const auto& x) {
                       auto r =
                           lstm(x[0], x[1], x[2], x[3], x[4], x[5], {.return_sequences = true});
                       return concat({r[0].reshape({-1}), r[2].reshape({-1})});
                     },
                 .inputs = {U({2, 3, 3}), U({2, 2}), U({2, 2}), U({3, 8}, -0.7, 0.7),
                            U({2, 8}, -0.7, 0.7), U({8})},
                 .tol32 = 1e-4});
    v.push_back({.op = "lstm",
                 .name = "lstm last output, backwards, no bias",
                 .fn =
                     [](const auto& x) {
                       return lstm(x[0], Tensor(), Tensor(), x[1], x[2], Tensor(),
                                   {.go_backwards = true})[0];
                     },
                 .inputs = {U({2, 4, 2}), U({2, 12}, -0.7, 0.7), U({3, 12}, -0.7, 0.7)},
                 .tol32 = 1e-4});
    v.push_back(
        {.op = "gru",
         .name = "gru sequences with initial state",
         .fn =
             [](const auto& x) {
               return gru(x[0], x[1], x[2], x[3], x[4], {.return_sequences = true})[0];
             },
         .inputs = {U({2, 3, 3}), U({2, 2}), U({3, 6}, -0.7, 0.7), U({2, 6}, -0.7, 0.7), U({2, 6})},
         .tol32 = 1e-4});
    v.push_back(
        {.op = "simple_rnn",
         .name = "simple_rnn last output",
         .fn = [](const auto& x) { return simple_rnn(x[0], Tensor(), x[1], x[2], x[3])[0]; },
         .inputs = {U({2, 4, 3}), U({3, 2}, -0.7, 0.7), U({2, 2}, -0.7, 0.7), U({2})},
         .tol32 = 1e-4});
    v.push_back({.op = "lstm_cell",
                 .name = "lstm_cell h and c",
                 .fn =
                     [](const auto& x) {
                       auto r = lstm_cell(x[0], x[1]);
                       return concat({r[0].reshape({-1}), mul(r[1], 0.5).reshape({-1})});
                     },
                 .inputs = {U({2, 12}, -2, 2), U({2, 3})},
                 .tol32 = 1e-4});
    v.push_back({.op = "lstm_cell",
                 .name = "lstm_cell c only, strided z",
                 .fn = [](const auto& x) { return lstm_cell(x[0].transpose(0, 1), x[1])[1]; },
                 .inputs = {U({8, 3}, -2, 2), U({3, 2})},
                 .tol32 = 1e-4});
    v.push_back({.op = "gru_cell",
                 .name = "gru_cell",
                 .fn = [](const auto& x) { return gru_cell(x[0], x[1], x[2]); },
                 .inputs = {U({2, 9}, -2, 2), U({2, 9}, -2, 2), U({2, 3})},
                 .tol32 = 1e-4});
    v.push_back(
        {.op = "lstm",
         .name = "lstm large",
         .fn =
             [](const auto& x) {
               return lstm(x[0], Tensor(), Tensor(), x[1], x[2], x[3],
                           {.return_sequences = true})[0];
             },
         .inputs = {U({16, 5, 32}), U({32, 256}, -0.2, 0.2), U({64, 256}, -0.2, 0.2), U({256})},
         .tol32 = 1e-4,
         .large = true});
    v.push_back({.op = "gru",
                 .name = "gru large, backwards, last output",
                 .fn =
                     [](const auto& x) {
                       auto r = gru(x[0], x[1], x[2], x[3], x[4], {.go_backwards = true});
                       return concat({r[0].reshape({-1}), mul(r[1], 0.5).reshape({-1})});
                     },
                 .inputs = {U({8, 6, 24}), U({8, 48}), U({24, 144}, -0.2, 0.2),
                            U({48, 144}, -0.2, 0.2), U({2, 144})},
                 .tol32 = 1e-4,
                 .large = true});
    v.push_back({.op = "embedding",
                 .name = "embedding 2-d indices",
                 .fn = [](const auto& x) { return embedding(x[1], x[0]); },
                 .inputs = {U({6, 4}), Index({2, 3}, 6)}});

    // ---- fused optimizer updates (in place, off the tape): the case returns param and the
    // state tensors after one update of copies of the inputs, flattened and concatenated ----
    using Slots = std::vector<Tensor>;
    using Update = std::function<void(const Tensor&, const Tensor&, const Slots&,
                                      const OptimizerScalars&)>;
    auto add_update = [&v](const std::string& op, const std::string& label, Update f,
                           std::vector<InputGen> inputs, OptimizerScalars u) {
      v.push_back({.op = op,
                   .name = label,
                   .fn =
                       [f, u](const auto& x) {
                         NoGrad ng;
                         std::vector<Tensor> t;
                         for (const Tensor& xi : x) t.push_back(xi.detach().clone());
                         const Slots slots(t.begin() + 2, t.end());
                         f(t[0], t[1], slots, u);
                         std::vector<Tensor> flat{t[0].reshape({-1})};
                         for (const Tensor& s : slots) flat.push_back(s.reshape({-1}));
                         return concat(flat);
                       },
                   .inputs = std::move(inputs),
                   .differentiable = false,
                   .tol32 = 1e-5});
    };
    OptimizerScalars su;
    su.lr = 0.1;
    su.beta_1 = 0.9;
    su.beta_2 = 0.99;
    su.rho = 0.9;
    su.momentum = 0.7;
    su.epsilon = 1e-6;
    su.step_size = 0.05;
    su.m_coef = 1.3;
    su.g_coef = 0.2;
    su.v_correction = 0.4;
    const Shape ps{3, 5};
    const Tensor none;
    add_update("sgd_update_", "sgd",
               [none](auto& p, auto& g, auto&, auto& u) { sgd_update_(p, g, none, false, u); },
               {U(ps), U(ps)}, su);
    add_update("sgd_update_", "sgd momentum",
               [](auto& p, auto& g, auto& s, auto& u) { sgd_update_(p, g, s[0], false, u); },
               {U(ps), U(ps), U(ps, -0.5, 0.5)}, su);
    add_update("sgd_update_", "sgd nesterov, transposed param",
               [](auto& p, auto& g, auto& s, auto& u) {
                 sgd_update_(p.transpose(0, 1), g, s[0], true, u);
               },
               {U({5, 3}), U(ps), U(ps, -0.5, 0.5)}, su);
    add_update("rmsprop_update_", "rmsprop",
               [none](auto& p, auto& g, auto& s, auto& u) {
                 rmsprop_update_(p, g, s[0], none, none, u);
               },
               {U(ps), U(ps), U(ps, 0, 1)}, su);
    add_update("rmsprop_update_", "rmsprop centered, momentum",
               [](auto& p, auto& g, auto& s, auto& u) {
                 rmsprop_update_(p, g, s[0], s[1], s[2], u);
               },
               {U(ps), U(ps), U(ps, 0.5, 1), U(ps, -0.3, 0.3), U(ps, -0.5, 0.5)}, su);
    add_update("rmsprop_update_", "rmsprop momentum, float64 grad",
               [none](auto& p, auto& g, auto& s, auto& u) {
                 rmsprop_update_(p, g.to(kFloat64), s[0], none, s[1], u);
               },
               {U(ps), U(ps), U(ps, 0, 1), U(ps, -0.5, 0.5)}, su);
    add_update("adam_update_", "adam",
               [none](auto& p, auto& g, auto& s, auto& u) { adam_update_(p, g, s[0], s[1], none, u); },
               {U(ps), U(ps), U(ps, -0.5, 0.5), U(ps, 0, 1)}, su);
    add_update("adam_update_", "adam amsgrad",
               [](auto& p, auto& g, auto& s, auto& u) { adam_update_(p, g, s[0], s[1], s[2], u); },
               {U(ps), U(ps), U(ps, -0.5, 0.5), U(ps, 0, 1), U(ps, 0, 1)}, su);
    add_update("adam_update_", "adam large",
               [none](auto& p, auto& g, auto& s, auto& u) { adam_update_(p, g, s[0], s[1], none, u); },
               {U({256, 300}), U({256, 300}), U({256, 300}, -0.5, 0.5), U({256, 300}, 0, 1)}, su);
    add_update("adagrad_update_", "adagrad",
               [](auto& p, auto& g, auto& s, auto& u) { adagrad_update_(p, g, s[0], u); },
               {U(ps), U(ps), U(ps, 0.1, 1)}, su);
    add_update("adadelta_update_", "adadelta",
               [](auto& p, auto& g, auto& s, auto& u) { adadelta_update_(p, g, s[0], s[1], u); },
               {U(ps), U(ps), U(ps, 0, 1), U(ps, 0, 1)}, su);
    add_update("adamax_update_", "adamax",
               [](auto& p, auto& g, auto& s, auto& u) { adamax_update_(p, g, s[0], s[1], u); },
               {U(ps), U(ps), U(ps, -0.5, 0.5), U(ps, 0, 1)}, su);
    add_update("nadam_update_", "nadam",
               [](auto& p, auto& g, auto& s, auto& u) { nadam_update_(p, g, s[0], s[1], u); },
               {U(ps), U(ps), U(ps, -0.5, 0.5), U(ps, 0, 1)}, su);

    // ---- the edge-shape column of the ops not made by add_unary, add_binary or add_reduce ----
    // Each row: the entry it extends, the variant with a zero-sized axis, the 0-d variant.
    auto edge = [&v](const std::string& op, EdgeShapes e) {
      auto it = std::find_if(v.begin(), v.end(), [&](const OpCase& c) { return c.op == op; });
      if (it == v.end()) throw std::logic_error("op_cases: no entry for " + op);
      it->edge = std::move(e);
    };
    using F = autograd::TestFunction;
    auto err = [](const std::string& text) { return EdgeVariant{.inputs = {}, .error = text}; };
    // An error variant needs its inputs: this fills them in.
    auto err_on = [](std::vector<InputGen> in, F fn, const std::string& text) {
      return EdgeVariant{.inputs = std::move(in), .fn = std::move(fn), .error = text};
    };
    (void)err;
    edge("where", {.empty = {.inputs = {Mask({0, 3}), U({0, 3}), U({3})}, .fn = wfn, .out = {0, 3}},
                   .scalar = {.inputs = {Mask({}), U({}), U({})},
                              .fn = wfn,
                              .out = {},
                              .same_as_1d = true}});
    edge("argmax", {.empty = err_on({U({0, 3})}, [](const auto& x) { return argmax(x[0], 0); },
                                    "empty"),
                    .scalar = {.inputs = {U({})}, .out = {}, .fill = 0.0}});
    edge("argmin", {.empty = err_on({U({0, 3})}, [](const auto& x) { return argmin(x[0], 0); },
                                    "empty"),
                    .scalar = {.inputs = {U({})}, .out = {}, .fill = 0.0}});
    edge("sum_to",
         {.empty = {.inputs = {U({0, 3})},
                    .fn = [](const auto& x) { return sum_to(x[0], {1, 3}); },
                    .out = {1, 3},
                    .fill = 0.0},
          .scalar = {.inputs = {U({})},
                     .fn = [](const auto& x) { return sum_to(x[0], {}); },
                     .out = {},
                     .same_as_1d = true}});
    edge("matmul",
         {.empty = {.inputs = {U({3, 0}), U({0, 4})}, .fn = mm, .out = {3, 4}, .fill = 0.0},
          .scalar = err_on({U({}), U({3})}, mm, "matmul")});
    for (const char* name : {"softmax", "log_softmax"}) {
      const bool lg = std::string(name) == "log_softmax";
      F f = [lg](const auto& x) { return lg ? log_softmax(x[0], -1) : softmax(x[0], -1); };
      edge(name, {.empty = {.inputs = {U({0, 3})}, .fn = f, .out = {0, 3}},
                  .scalar = {.inputs = {U({})}, .fn = f, .out = {}, .fill = lg ? 0.0 : 1.0}});
    }
    edge("concat",
         {.empty = {.inputs = {U({0, 3}), U({2, 3})},
                    .fn = [](const auto& x) { return concat({x[0], x[1]}, 0); },
                    .out = {2, 3}},
          .scalar = err_on({U({}), U({})},
                           [](const auto& x) { return concat({x[0], x[1]}, 0); }, "concat")});
    edge("stack", {.empty = {.inputs = {U({0, 3}), U({0, 3})},
                             .fn = [](const auto& x) { return stack({x[0], x[1]}, 0); },
                             .out = {2, 0, 3}},
                   .scalar = {.inputs = {U({}), U({})},
                              .fn = [](const auto& x) { return stack({x[0], x[1]}, 0); },
                              .out = {2}}});
    edge("split", {.empty = {.inputs = {U({0, 5})},
                             .fn = [](const auto& x) { return split(x[0], {2, 3}, 1)[1]; },
                             .out = {0, 3}},
                   .scalar = err_on({U({})}, [](const auto& x) { return split(x[0], {1}, 0)[0]; },
                                    "split")});
    edge("unbind", {.empty = {.inputs = {U({0, 3})},
                              .fn = [](const auto& x) { return stack(unbind(x[0], 1), 0); },
                              .out = {3, 0}},
                    .scalar = err_on({U({})}, [](const auto& x) { return unbind(x[0], 0)[0]; },
                                     "unbind")});
    edge("chunk", {.empty = {.inputs = {U({0, 6})},
                             .fn = [](const auto& x) { return chunk(x[0], 2, 1)[0]; },
                             .out = {0, 3}},
                   .scalar = err_on({U({})}, [](const auto& x) { return chunk(x[0], 1, 0)[0]; },
                                    "chunk")});
    edge("pad", {.empty = {.inputs = {U({0, 3})},
                           .fn = [](const auto& x) { return pad(x[0], {{1, 2}, {0, 1}}, 0.5); },
                           .out = {3, 4},
                           .fill = 0.5},
                 .scalar = {.inputs = {U({})},
                            .fn = [](const auto& x) { return pad(x[0], {}); },
                            .out = {},
                            .same_as_1d = true}});
    edge("gather", {.empty = {.inputs = {U({3, 5}), Index({3, 0}, 5)}, .out = {3, 0}},
                    // 0-d has no axis to gather along (NumPy's take_along_axis agrees).
                    .scalar = err_on({U({}), Index({}, 1)},
                                     [](const auto& x) { return gather(x[0], 0, x[1]); },
                                     "gather: axis 0 out of range for a tensor of rank 0")});
    edge("scatter_add",
         {.empty = {.inputs = {U({3, 4}), Index({0, 4}, 3), U({0, 4})}, .out = {3, 4}},
          .scalar = err_on({U({}), Index({}, 1), U({})},
                           [](const auto& x) { return scatter_add(x[0], 0, x[1], x[2]); },
                           "scatter_add: axis 0 out of range")});
    edge("take_along_axis",
         {.empty = {.inputs = {U({3, 5}), Index({3, 0}, 5)}, .out = {3, 0}},
          .scalar = err_on({U({}), Index({}, 1)},
                           [](const auto& x) { return take_along_axis(x[0], x[1], 0); },
                           "take_along_axis")});
    edge("index_select",
         {.empty = {.inputs = {U({3, 4}), Index({0}, 3)}, .out = {0, 4}},
          .scalar = err_on({U({}), Index({1}, 1)},
                           [](const auto& x) { return index_select(x[0], 0, x[1]); },
                           "index_select")});
    edge("one_hot", {.empty = {.inputs = {Index({0}, 4)}, .out = {0, 4}},
                     .scalar = {.inputs = {Index({}, 4)}, .out = {4}}});
    edge("cumsum", {.empty = {.inputs = {U({0, 3})}, .out = {0, 3}},
                    // 0-d has no axis to accumulate along (NumPy raises too).
                    .scalar = err_on({U({})}, [](const auto& x) { return cumsum(x[0], 0); },
                                     "cumsum: axis 0 out of range for a tensor of rank 0")});
    edge("ctc_loss",
         {.empty = {.inputs = {U({0, 5, 4}), ints({}, {0, 3}), ints({}, {0}), ints({}, {0})},
                    .out = {0}},
          .scalar = err_on({U({}), ints({1}, {1, 1}), ints({1}, {1}), ints({1}, {1})},
                           ctc_fn(0), "ctc_loss")});
    edge("embedding", {.empty = {.inputs = {U({6, 4}), Index({0}, 6)}, .out = {0, 4}},
                       .scalar = {.inputs = {U({6, 4}), Index({}, 6)}, .out = {4}}});
    {
      F conv = [](const auto& x) { return conv2d(x[0], x[1]); };
      edge("conv2d", {.empty = {.inputs = {U({0, 5, 5, 2}), U({3, 3, 2, 4})},
                                .fn = conv,
                                .out = {0, 3, 3, 4}},
                      .scalar = err_on({U({}), U({3, 3, 2, 4})}, conv, "conv2d")});
      F bi = [](const auto& x) { return conv2d_backward_input(x[0], x[1], {0, 5, 5, 2}); };
      edge("conv2d_backward_input",
           {.empty = {.inputs = {U({0, 3, 3, 3}), U({3, 3, 2, 3})}, .fn = bi, .out = {0, 5, 5, 2}},
            .scalar = err_on({U({}), U({3, 3, 2, 3})},
                             [](const auto& x) {
                               return conv2d_backward_input(x[0], x[1], {1, 5, 5, 2});
                             },
                             "conv2d_backward_input")});
      F bw = [](const auto& x) { return conv2d_backward_weight(x[0], x[1], {2, 2, 2, 3}); };
      edge("conv2d_backward_weight",
           {.empty = {.inputs = {U({0, 4, 4, 2}), U({0, 3, 3, 3})},
                      .fn = bw,
                      .out = {2, 2, 2, 3},
                      .fill = 0.0},
            .scalar = err_on({U({}), U({1, 3, 3, 3})}, bw, "conv2d_backward_weight")});
      F c1 = [](const auto& x) { return conv1d(x[0], x[1]); };
      edge("conv1d",
           {.empty = {.inputs = {U({0, 6, 3}), U({3, 3, 4})}, .fn = c1, .out = {0, 4, 4}},
            .scalar = err_on({U({}), U({3, 3, 4})}, c1, "conv1d")});
      F ct = [](const auto& x) { return conv2d_transpose(x[0], x[1]); };
      edge("conv2d_transpose",
           {.empty = {.inputs = {U({0, 3, 2, 3}), U({3, 3, 2, 3})}, .fn = ct, .out = {0, 5, 4, 2}},
            .scalar = err_on({U({}), U({3, 3, 2, 3})}, ct, "conv2d_transpose")});
    }
    for (const char* name : {"max_pool2d", "avg_pool2d"}) {
      const bool is_max = std::string(name) == "max_pool2d";
      F f = [is_max](const auto& x) { return is_max ? max_pool2d(x[0]) : avg_pool2d(x[0]); };
      edge(name, {.empty = {.inputs = {U({0, 4, 4, 2})}, .fn = f, .out = {0, 2, 2, 2}},
                  .scalar = err_on({U({})}, f, name)});
    }
    edge("avg_pool2d_backward",
         {.empty = {.inputs = {U({0, 3, 3, 2})},
                    .fn =
                        [](const auto& x) {
                          EnableGrad eg;
                          Tensor base =
                              zeros({0, 5, 5, 2}, {.dtype = x[0].dtype(), .requires_grad = true});
                          Tensor y = avg_pool2d(
                              base, {.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"});
                          return autograd::grad({y}, {base}, {x[0]}, {.create_graph = true})[0];
                        },
                    .out = {0, 5, 5, 2}},
          .scalar = err_on({U({})}, [](const auto& x) { return avg_pool2d(x[0]); }, "avg_pool2d")});
    edge("global_avg_pool2d",
         {.empty = {.inputs = {U({0, 3, 4, 5})}, .out = {0, 5}},
          .scalar = err_on({U({})}, [](const auto& x) { return global_avg_pool2d(x[0]); },
                           "global_avg_pool2d")});
    {
      F f = [](const auto& x) { return global_max_pool2d(x[0]); };
      edge("global_max_pool2d", {.empty = {.inputs = {U({0, 3, 4, 5})}, .fn = f, .out = {0, 5}},
                                 .scalar = err_on({U({})}, f, "global_max_pool2d")});
    }
    {
      F bn = [](const auto& x) { return batch_norm(x[0], x[1], x[2], x[3], x[4], false); };
      edge("batch_norm",
           {.empty = {.inputs = {U({0, 3}), U({3}), U({3}), U({3}), U({3}, 0.5, 2)},
                      .fn = bn,
                      .out = {0, 3}},
            .scalar = err_on({U({}), U({3}), U({3}), U({3}), U({3}, 0.5, 2)}, bn, "batch_norm")});
    }
    edge("layer_norm",
         {.empty = {.inputs = {U({0, 5}), U({5}), U({5})}, .out = {0, 5}},
          .scalar = err_on({U({})},
                           [](const auto& x) { return layer_norm(x[0], Tensor(), Tensor()); },
                           "layer_norm")});
    edge("lstm_cell",
         {.empty = {.inputs = {U({0, 8}), U({0, 2})},
                    .fn = [](const auto& x) { return lstm_cell(x[0], x[1])[0]; },
                    .out = {0, 2}},
          .scalar = err_on({U({}), U({})},
                           [](const auto& x) { return lstm_cell(x[0], x[1])[0]; }, "lstm_cell")});
    edge("gru_cell",
         {.empty = {.inputs = {U({0, 6}), U({0, 6}), U({0, 2})},
                    .fn = [](const auto& x) { return gru_cell(x[0], x[1], x[2]); },
                    .out = {0, 2}},
          .scalar = err_on({U({}), U({}), U({})},
                           [](const auto& x) { return gru_cell(x[0], x[1], x[2]); }, "gru_cell")});
    {
      F f = [](const auto& x) {
        return lstm(x[0], Tensor(), Tensor(), x[1], x[2], x[3], {.return_sequences = true})[0];
      };
      edge("lstm", {.empty = {.inputs = {U({0, 3, 2}), U({2, 8}), U({2, 8}), U({8})},
                              .fn = f,
                              .out = {0, 3, 2}},
                    .scalar = err_on({U({}), U({2, 8}), U({2, 8}), U({8})}, f, "lstm")});
      F g = [](const auto& x) {
        return gru(x[0], Tensor(), x[1], x[2], x[3], {.return_sequences = true})[0];
      };
      edge("gru", {.empty = {.inputs = {U({0, 3, 3}), U({3, 6}), U({2, 6}), U({2, 6})},
                             .fn = g,
                             .out = {0, 3, 2}},
                   .scalar = err_on({U({}), U({3, 6}), U({2, 6}), U({2, 6})}, g, "gru")});
      F r = [](const auto& x) { return simple_rnn(x[0], Tensor(), x[1], x[2], x[3])[0]; };
      edge("simple_rnn", {.empty = {.inputs = {U({0, 4, 3}), U({3, 2}), U({2, 2}), U({2})},
                                    .fn = r,
                                    .out = {0, 2}},
                          .scalar = err_on({U({}), U({3, 2}), U({2, 2}), U({2})}, r,
                                           "simple_rnn")});
    }
    edge("dropout", {.empty = {.inputs = {U({0, 3})}, .out = {0, 3}},
                     .scalar = {.inputs = {U({})}, .out = {}}});
    edge("reshape", {.empty = {.inputs = {U({0, 3})},
                               .fn = [](const auto& x) { return x[0].reshape({3, 0}); },
                               .out = {3, 0}},
                     .scalar = {.inputs = {U({})},
                                .fn = [](const auto& x) { return x[0].reshape({1, 1}); },
                                .out = {1, 1},
                                .same_as_1d = true}});
    edge("permute", {.empty = {.inputs = {U({0, 3, 2})},
                               .fn = [](const auto& x) { return x[0].permute({2, 0, 1}); },
                               .out = {2, 0, 3}},
                     .scalar = {.inputs = {U({})},
                                .fn = [](const auto& x) { return x[0].permute({}); },
                                .out = {}}});
    edge("slice", {.empty = {.inputs = {U({5, 9})},
                             .fn = [](const auto& x) { return x[0].slice(1, 2, 2); },
                             .out = {5, 0}},
                   .scalar = err_on({U({})}, [](const auto& x) { return x[0].slice(0, 0, 1); },
                                    "slice")});
    edge("select", {.empty = {.inputs = {U({0, 3})},
                              .fn = [](const auto& x) { return x[0].select(1, 2); },
                              .out = {0}},
                    .scalar = err_on({U({})}, [](const auto& x) { return x[0].select(0, 0); },
                                     "select")});
    edge("expand", {.empty = {.inputs = {U({1, 3})},
                              .fn = [](const auto& x) { return x[0].expand({0, 3}); },
                              .out = {0, 3}},
                    .scalar = {.inputs = {U({})},
                               .fn = [](const auto& x) { return x[0].expand({2, 3}); },
                               .out = {2, 3}}});
    {
      F f = [](const auto& x) { return x[0].clone(); };
      edge("clone", {.empty = {.inputs = {U({0, 3})}, .fn = f, .out = {0, 3}},
                     .scalar = {.inputs = {U({})}, .fn = f, .out = {}, .same_as_1d = true}});
      F c = [](const auto& x) { return cast(x[0], x[0].dtype() == kFloat64 ? kFloat32 : kFloat64); };
      edge("cast", {.empty = {.inputs = {U({0, 3})}, .fn = c, .out = {0, 3}},
                    .scalar = {.inputs = {U({})}, .fn = c, .out = {}, .same_as_1d = true}});
      F d = [](const auto& x) { return x[0].to(Device::cpu()); };
      edge("to_device", {.empty = {.inputs = {U({0, 3})}, .fn = d, .out = {0, 3}},
                         .scalar = {.inputs = {U({})}, .fn = d, .out = {}, .same_as_1d = true}});
    }
    edge("slice_backward",
         {.empty = {.inputs = {U({0, 3})},
                    .fn =
                        [](const auto& x) {
                          EnableGrad eg;
                          Tensor base = zeros({0, 7}, {.dtype = x[0].dtype(), .requires_grad = true});
                          Tensor y = base.slice(1, 1, 7, 2);  // [0, 3]
                          return autograd::grad({y}, {base}, {x[0]}, {.create_graph = true})[0];
                        },
                    .out = {0, 7}},
          .scalar = {.inputs = {U({})},
                     .fn =
                         [](const auto& x) {
                           EnableGrad eg;
                           Tensor base = zeros({3}, {.dtype = x[0].dtype(), .requires_grad = true});
                           Tensor y = base.select(0, 1);  // 0-d
                           return autograd::grad({y}, {base}, {x[0]}, {.create_graph = true})[0];
                         },
                     .out = {3}}});
    // std of one element: the derivative is 0/0 (NaN, as in PyTorch), while every finite
    // difference is 0.
    std::find_if(v.begin(), v.end(), [](const OpCase& c) { return c.op == "std"; })
        ->edge.scalar.check_grad = false;
    // Optimizer updates: a zero-sized parameter is a no-op; a 0-d one updates like any other.
    for (const char* name : {"sgd_update_", "rmsprop_update_", "adam_update_", "adagrad_update_",
                             "adadelta_update_", "adamax_update_", "nadam_update_"}) {
      auto it = std::find_if(v.begin(), v.end(), [&](const OpCase& c) { return c.op == name; });
      if (it == v.end()) throw std::logic_error(std::string("op_cases: no entry for ") + name);
      const int64_t n = static_cast<int64_t>(it->inputs.size());  // param, grad, slots
      std::vector<InputGen> e(static_cast<size_t>(n), U({0}));
      std::vector<InputGen> z(static_cast<size_t>(n), U({}, 0.1, 1.0));
      edge(name, {.empty = {.inputs = e, .out = {0}}, .scalar = {.inputs = z, .out = {n - 1}}});
    }
    return v;
  }();
  return cases;
}

/// The edge-shape variants that give a result, as entries of their own (for the backends'
/// comparisons with the reference): "<entry> on a zero-sized axis", "<entry> 0-d".
inline const std::vector<OpCase>& edge_op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> v;
    for (const OpCase& c : op_cases())
      for (const auto& [e, kind] : {std::pair<const EdgeVariant*, const char*>{&c.edge.empty,
                                                                                " on a zero-sized axis"},
                                    {&c.edge.scalar, " 0-d"}}) {
        if (!e->declared() || !e->error.empty()) continue;
        OpCase d = c;
        d.name = c.name + kind;
        d.fn = e->fn ? e->fn : c.fn;
        d.inputs = e->inputs;
        d.large = false;
        d.edge = {};
        v.push_back(std::move(d));
      }
    return v;
  }();
  return cases;
}

/// Float inputs of a case (the ones gradients are taken for).
inline std::vector<size_t> floating_inputs(const std::vector<Tensor>& xs) {
  std::vector<size_t> r;
  for (size_t i = 0; i < xs.size(); ++i)
    if (is_floating(xs[i].dtype())) r.push_back(i);
  return r;
}

}  // namespace tg::test
