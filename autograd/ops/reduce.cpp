// Reductions over sets of axes (with keepdims), arg reductions and sum_to.
#include <cmath>

#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using autograd::SavedTensor;
using namespace ops;

namespace {
/// Reduction kernel call: returns the keepdims-shaped result.
Tensor reduce_kernel(ReduceOp op, const Tensor& x, const Axes& axes, DType dt) {
  Tensor xin = cast_raw(x, dt);
  Tensor out = Tensor::empty(keepdims_shape(x.shape(), axes), dt, x.device());
  // max/min have no identity: an empty reduced axis has no answer (an empty kept axis gives
  // an empty result, as in NumPy).
  if (op == ReduceOp::Max || op == ReduceOp::Min)
    for (int64_t a : axes)
      if (x.shape()[a] == 0)
        fail<ValueError>(reduce_op_name(op), ": reduction over the empty axis ", a, " of ",
                         x.shape());
  kernel_backend(reduce_op_name(op), Kernel::Reduce, xin).reduce(op, xin, out);
  autograd::note_dispatch(op);
  return out;
}

/// Broadcasts a reduced gradient back to x's shape.
Tensor expand_back(const Tensor& g, const Shape& keep_shape, const Shape& x_shape) {
  return g.reshape(keep_shape).expand(x_shape);
}

Tensor finish(Tensor keep, const Axes& axes, bool keepdims) {
  return keepdims ? keep : keep.reshape(reduced_shape(keep.shape(), axes));
}

/// Sum / mean / max / min / prod with their backward formulas.
Tensor reduction(std::string_view name, ReduceOp op, const Tensor& x, const Axes& axes_in,
                 bool keepdims) {
  check_defined(name, x);
  Axes axes = normalize_axes(name, axes_in, x.dim());
  DType dt = x.dtype();
  if (dt == kBool && op != ReduceOp::Max && op != ReduceOp::Min) dt = kInt64;
  if (op == ReduceOp::Mean && !is_floating(dt)) dt = kFloat32;
  Tensor y = reduce_kernel(op, x, axes, dt);  // keepdims shape
  if (autograd::needs_grad(x)) {
    const Shape xs = x.shape(), ks = y.shape();
    const double count =
        static_cast<double>(x.numel()) / std::max<double>(1.0, static_cast<double>(y.numel()));
    SavedTensor sx = op == ReduceOp::Sum || op == ReduceOp::Mean ? SavedTensor() : SavedTensor(x);
    SavedTensor sy =
        op == ReduceOp::Sum || op == ReduceOp::Mean ? SavedTensor() : SavedTensor(y, true);
    autograd::record(name, {&x}, {&y}, [op, xs, ks, axes, count, sx, sy](const Tensor& g) {
      switch (op) {
        case ReduceOp::Sum:
          return std::vector<Tensor>{expand_back(g, ks, xs)};
        case ReduceOp::Mean:
          return std::vector<Tensor>{expand_back(div(g, count), ks, xs)};
        case ReduceOp::Prod: {
          // ∏_{j≠i} x_j: y / x_i where x_i ≠ 0 (y / 0 would be NaN). At a zero x_i it is
          // P · ∏_{other zeros k} x_k with P the product of the non-zeros: P for a single zero,
          // P · x_k (value 0, derivative P) for two, 0 for more; written so that the second
          // derivative is right too.
          Tensor x = sx.unpack();
          Tensor zero = eq(x.detach(), 0.0);
          Tensor zf = mask_as(zero, g.dtype());
          Tensor count = sum(zf, axes, true);
          Tensor x1 = where(zero, ones_like(x), x);
          Tensor other_zero = sub(sum(mul(x, zf), axes, true), x);  // the other zero's x_k
          Tensor zeros_factor = add(mask_as(eq(count, 1.0), g.dtype()),
                                    mul(mask_as(eq(count, 2.0), g.dtype()), other_zero));
          Tensor d = where(zero, mul(prod(x1, axes, true), zeros_factor), div(sy.unpack(), x1));
          return std::vector<Tensor>{mul(expand_back(g, ks, xs), d)};
        }
        default: {
          // Shared evenly among the tied extrema.
          Tensor x = sx.unpack().detach();
          Tensor m = mask_as(eq(x, sy.unpack().detach()), g.dtype());
          Tensor share = div(m, sum(m, axes, true));
          return std::vector<Tensor>{mul(expand_back(g, ks, xs), share)};
        }
      }
    });
  }
  return finish(y, axes, keepdims);
}

Tensor arg_reduction(std::string_view name, bool is_max, const Tensor& x,
                     std::optional<int64_t> axis, bool keepdims) {
  check_defined(name, x);
  if (x.numel() == 0) fail<ValueError>(name, ": empty tensor ", x.shape());
  if (!axis) {
    Tensor flat = x.detach().reshape({x.numel()});
    Tensor r = arg_reduction(name, is_max, flat, 0, false);
    return keepdims ? r.reshape(Shape(static_cast<size_t>(x.dim()), 1)) : r;
  }
  const int64_t a = normalize_axis(name, *axis, x.dim());
  Shape ks = x.shape();
  ks[a] = 1;
  Tensor out = Tensor::empty(ks, kInt64, x.device());
  kernel_backend(is_max ? "argmax" : "argmin", Kernel::ArgReduce, x).arg_reduce(is_max, x, a, out);
  return keepdims ? out : out.squeeze(a);
}
}  // namespace

TG_REGISTER_OP("sum", "reduce", true);
Tensor sum(const Tensor& x, const Axes& axes, bool keepdims) {
  return reduction("sum", ReduceOp::Sum, x, axes, keepdims);
}
TG_REGISTER_OP("mean", "reduce", true);
Tensor mean(const Tensor& x, const Axes& axes, bool keepdims) {
  return reduction("mean", ReduceOp::Mean, x, axes, keepdims);
}
TG_REGISTER_OP("max", "reduce", true);
Tensor max(const Tensor& x, const Axes& axes, bool keepdims) {
  return reduction("max", ReduceOp::Max, x, axes, keepdims);
}
TG_REGISTER_OP("min", "reduce", true);
Tensor min(const Tensor& x, const Axes& axes, bool keepdims) {
  return reduction("min", ReduceOp::Min, x, axes, keepdims);
}
TG_REGISTER_OP("prod", "reduce", true);
Tensor prod(const Tensor& x, const Axes& axes, bool keepdims) {
  return reduction("prod", ReduceOp::Prod, x, axes, keepdims);
}

TG_REGISTER_OP("var", "composite", true);
Tensor var(const Tensor& x, const Axes& axes_in, bool keepdims, int64_t ddof) {
  ErrorContext ctx("var");
  check_defined("var", x);
  Axes axes = normalize_axes("var", axes_in, x.dim());
  int64_t n = 1;
  for (int64_t a : axes) n *= x.shape()[a];
  if (ddof < 0) fail<ValueError>("var: ddof must be >= 0, got ", ddof);
  Tensor xf = is_floating(x.dtype()) ? x : x.to(kFloat32);
  Tensor centered = sub(xf, mean(xf, axes, true));
  // No degrees of freedom left (an empty axis, or ddof >= n): 0 / 0 = NaN, as NumPy and
  // PyTorch give.
  return div(sum(square(centered), axes, keepdims), static_cast<double>(std::max<int64_t>(n - ddof, 0)));
}
TG_REGISTER_OP("std", "composite", true);
Tensor std(const Tensor& x, const Axes& axes, bool keepdims, int64_t ddof) {
  ErrorContext ctx("std");
  return sqrt(var(x, axes, keepdims, ddof));
}
TG_REGISTER_OP("logsumexp", "composite", true);
Tensor logsumexp(const Tensor& x, const Axes& axes_in, bool keepdims) {
  ErrorContext ctx("logsumexp");
  check_defined("logsumexp", x);
  check_floating("logsumexp", x);
  Axes axes = normalize_axes("logsumexp", axes_in, x.dim());
  int64_t n = 1;
  for (int64_t a : axes) n *= x.shape()[a];
  if (n == 0) return log(sum(exp(x), axes, keepdims));  // log of an empty sum: -inf
  // Shift by the (constant) maximum; a fully -inf slice keeps -inf.
  Tensor m = max(x.detach(), axes, true);
  m = where(eq(abs(m), INFINITY), zeros_like(m), m);
  Tensor r = add(log(sum(exp(sub(x, m)), axes, true)), m);
  return keepdims ? r : r.reshape(reduced_shape(r.shape(), axes));
}
TG_REGISTER_OP("norm", "composite", true);
Tensor norm(const Tensor& x, double p, const Axes& axes, bool keepdims) {
  ErrorContext ctx("norm");
  check_defined("norm", x);
  if (!(p > 0)) fail<ValueError>("norm: p must be positive, got ", p);
  normalize_axes("norm", axes, x.dim());  // checks the axes (empty: all)
  Tensor xf = is_floating(x.dtype()) ? x : x.to(kFloat32);
  if (p == 1.0) return sum(abs(xf), axes, keepdims);
  if (std::isinf(p)) return max(abs(xf), axes, keepdims);
  // The p-th root of s = Σ|x|^p, whose derivative is infinite at s = 0: where s is 0 the root
  // is taken of 1 and multiplied by 0, so that the gradient there is 0 (PyTorch's subgradient)
  // instead of ∞·0 = NaN.
  Tensor s = p == 2.0 ? sum(square(xf), axes, keepdims) : sum(pow(abs(xf), p), axes, keepdims);
  Tensor zero = eq(s.detach(), 0.0);
  Tensor safe = where(zero, ones_like(s), s);
  Tensor root = p == 2.0 ? sqrt(safe) : pow(safe, 1.0 / p);
  return where(zero, zeros_like(root), root);
}

TG_REGISTER_OP("argmax", "arg_reduce", false);
Tensor argmax(const Tensor& x, std::optional<int64_t> axis, bool keepdims) {
  return arg_reduction("argmax", true, x, axis, keepdims);
}
TG_REGISTER_OP("argmin", "arg_reduce", false);
Tensor argmin(const Tensor& x, std::optional<int64_t> axis, bool keepdims) {
  return arg_reduction("argmin", false, x, axis, keepdims);
}

TG_REGISTER_OP("sum_to", "reduce", true);
Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  if (lead < 0)
    fail<ShapeError>("sum_to: cannot reduce ", x.shape(), " to the larger rank shape ", shape);
  Axes axes;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) {
      axes.push_back(i);
      continue;
    }
    const int64_t want = shape[i - lead];
    if (want == 1 && x.shape()[i] != 1)
      axes.push_back(i);
    else if (want != x.shape()[i])
      fail<ShapeError>("sum_to: cannot reduce ", x.shape(), " to ", shape);
  }
  if (axes.empty()) return x.reshape(shape);
  return sum(x, axes, true).reshape(shape);
}

}  // namespace tg
