// Indexing: gather, take_along_axis, index_select, scatter_add, one_hot, cumsum.
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using namespace ops;

namespace {
/// Throws IndexError when index is not int64/int32 or has a value outside [0, size).
/// unit, when given, names what the index counts ("classes"): "out of range for 5 classes".
Tensor checked_index(std::string_view op, const Tensor& index, int64_t size, int64_t axis,
                     const char* unit = nullptr) {
  check_defined(op, index, "index");
  if (index.dtype() != kInt64 && index.dtype() != kInt32)
    fail<DTypeError>(op, ": index must be int64 or int32, got ", index.dtype());
  Tensor ix = cast_raw(index, kInt64);
  if (ix.numel() == 0) return ix;
  Tensor lo = Tensor::empty(Shape(static_cast<size_t>(ix.dim()), 1), kInt64, ix.device());
  Tensor hi = Tensor::empty(lo.shape(), kInt64, ix.device());
  kernel_backend(op, Kernel::Reduce, ix).reduce(ReduceOp::Min, ix, lo);
  kernel_backend(op, Kernel::Reduce, ix).reduce(ReduceOp::Max, ix, hi);
  autograd::note_dispatch(ReduceOp::Min);
  autograd::note_dispatch(ReduceOp::Max);
  const int64_t mn = lo.item<int64_t>(), mx = hi.item<int64_t>();
  if ((mn < 0 || mx >= size) && unit)
    fail<IndexError>(op, ": index ", mn < 0 ? mn : mx, " out of range for ", size, " ", unit);
  if (mn < 0 || mx >= size)
    fail<IndexError>(op, ": index ", mn < 0 ? mn : mx, " out of range for axis ", axis, " of size ",
                     size);
  return ix;
}
}  // namespace

TG_REGISTER_OP("gather", "gather", true);
Tensor gather(const Tensor& x, int64_t axis_in, const Tensor& index) {
  check_defined("gather", x);
  const int64_t axis = normalize_axis("gather", axis_in, x.dim());
  check_same_device("gather", x, index);
  if (index.dim() != x.dim())
    fail<ShapeError>("gather: index of shape ", index.shape(), " must have the rank of the input ",
                     x.shape());
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != axis && index.shape()[d] > x.shape()[d])
      fail<ShapeError>("gather: index of shape ", index.shape(), " is larger than input ",
                       x.shape(), " on axis ", d);
  return ops::gather_valid(x, axis, checked_index("gather", index, x.shape()[axis], axis));
}

namespace ops {
Tensor gather_valid(const Tensor& x, int64_t axis, const Tensor& ix) {
  Tensor y = Tensor::empty(ix.shape(), x.dtype(), x.device());
  kernel_backend("gather", Kernel::Gather, x).gather(x, axis, ix, y);
  if (autograd::needs_grad(x)) {
    autograd::record("gather", {&x}, {&y}, [ix, axis, xs = x.shape()](const Tensor& g) {
      return std::vector<Tensor>{
          scatter_add_valid(zeros(xs, {.dtype = g.dtype(), .device = g.device()}), axis, ix, g)};
    });
  }
  return y;
}

Tensor scatter_add_valid(const Tensor& x, int64_t axis, const Tensor& ix, const Tensor& src) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).copy(x, y);
  kernel_backend("scatter_add", Kernel::ScatterAdd, x).scatter_add(y, axis, ix, cast_raw(src, x.dtype()));
  if (autograd::needs_grad(x, src)) {
    autograd::record("scatter_add", {&x, &src}, {&y}, [ix, axis](const Tensor& g) {
      return std::vector<Tensor>{
          g, autograd::needs_input_grad(1) ? gather_valid(g, axis, ix) : Tensor()};
    });
  }
  return y;
}
}  // namespace ops

TG_REGISTER_OP("scatter_add", "scatter_add", true);
Tensor scatter_add(const Tensor& x, int64_t axis_in, const Tensor& index, const Tensor& src) {
  check_defined("scatter_add", x);
  check_defined("scatter_add", src, "source");
  check_same_device("scatter_add", x, src);
  check_same_device("scatter_add", x, index);
  const int64_t axis = normalize_axis("scatter_add", axis_in, x.dim());
  if (index.shape() != src.shape())
    fail<ShapeError>("scatter_add: index shape ", index.shape(), " differs from source shape ",
                     src.shape());
  if (src.dim() != x.dim())
    fail<ShapeError>("scatter_add: source of shape ", src.shape(),
                     " must have the rank of the input ", x.shape());
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != axis && src.shape()[d] > x.shape()[d])
      fail<ShapeError>("scatter_add: source of shape ", src.shape(), " is larger than input ",
                       x.shape(), " on axis ", d);
  return ops::scatter_add_valid(x, axis, checked_index("scatter_add", index, x.shape()[axis], axis),
                                src);
}

TG_REGISTER_OP("take_along_axis", "gather", true);
Tensor take_along_axis(const Tensor& x, const Tensor& index, int64_t axis_in) {
  ErrorContext ctx("take_along_axis");
  check_defined("take_along_axis", x);
  check_defined("take_along_axis", index, "index");
  check_same_device("take_along_axis", x, index);
  if (index.dim() != x.dim())
    fail<ShapeError>("take_along_axis: index of shape ", index.shape(),
                     " must have the rank of the input ", x.shape());
  const int64_t axis = normalize_axis("take_along_axis", axis_in, x.dim());
  Shape xs = x.shape(), is = index.shape();
  xs[axis] = 1;
  is[axis] = 1;
  Shape b = broadcast_shapes("take_along_axis", xs, is);
  Shape bx = b, bi = b;
  bx[axis] = x.shape()[axis];
  bi[axis] = index.shape()[axis];
  // Validate the index before broadcasting it (fewer elements to scan).
  Tensor ix = checked_index("take_along_axis", index, x.shape()[axis], axis);
  return ops::gather_valid(x.expand(bx), axis, expand_raw(ix, bi));
}

TG_REGISTER_OP("index_select", "gather", true);
Tensor index_select(const Tensor& x, int64_t axis_in, const Tensor& index) {
  check_defined("index_select", x);
  check_defined("index_select", index, "index");
  check_same_device("index_select", x, index);
  if (index.dim() != 1)
    fail<ShapeError>("index_select: index must be 1-D, got shape ", index.shape());
  const int64_t axis = normalize_axis("index_select", axis_in, x.dim());
  Shape is(static_cast<size_t>(x.dim()), 1);
  is[axis] = index.shape()[0];
  Shape os = x.shape();
  os[axis] = index.shape()[0];
  // Validate the 1-D index before broadcasting it over the other axes.
  Tensor ix = checked_index("index_select", index, x.shape()[axis], axis);
  ix = contiguous_raw(ix);
  return ops::gather_valid(x, axis, expand_raw(view_raw(ix, is, contiguous_strides(is), ix.offset()), os));
}

TG_REGISTER_OP("one_hot", "binary", false);
Tensor one_hot(const Tensor& indices, int64_t num_classes, DType dtype) {
  check_defined("one_hot", indices, "indices");
  if (num_classes <= 0)
    fail<ValueError>("one_hot: num_classes must be positive, got ", num_classes);
  Tensor ix = checked_index("one_hot", indices, num_classes, -1, "classes");
  Tensor classes = arange(num_classes, {.dtype = kInt64, .device = indices.device()});
  return cast_raw(eq(ix.unsqueeze(-1), classes), dtype);
}

TG_REGISTER_OP("cumsum", "cumsum", true);
Tensor cumsum(const Tensor& x, int64_t axis_in) {
  check_defined("cumsum", x);
  const int64_t axis = normalize_axis("cumsum", axis_in, x.dim());
  Tensor xin = x.dtype() == kBool ? cast_raw(x, kInt64) : x;
  Tensor y = Tensor::empty(x.shape(), xin.dtype(), x.device());
  kernel_backend("cumsum", Kernel::Cumsum, xin).cumsum(xin, axis, y);
  if (autograd::needs_grad(x)) {
    autograd::record("cumsum", {&x}, {&y}, [axis](const Tensor& g) {
      // Reverse cumulative sum: Σ_{j ≥ i} g_j = Σ g − cumsum(g) + g.
      return std::vector<Tensor>{add(sub(sum(g, {axis}, true), cumsum(g, axis)), g)};
    });
  }
  return y;
}

}  // namespace tg
