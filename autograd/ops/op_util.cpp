// Shared helpers of the op definitions.
#include "tapegrad/autograd/ops/op_util.hpp"

#include <cmath>

#include "tapegrad/autograd/op_registry.hpp"

namespace tg::ops {

Backend& kernel_backend(std::string_view op, Kernel k, const Tensor& t, DType dt) {
  Backend& b = backend_for(t.device());
  if (b.supports(k, dt) == Support::None) [[unlikely]]
    fail<BackendError>(op, ": backend '", b.name(), "' of device ", t.device(), " has no ", dt,
                       " kernel for ", kernel_name(k),
                       kernel_domain_has(k, dt) ? "" : " (the kernel is defined for float32 and float64 only)");
  return b;
}

Tensor view_raw(const Tensor& t, Shape shape, Strides strides, int64_t offset) {
  return Tensor::make_view(t.storage(), std::move(shape), std::move(strides), offset, t.dtype());
}

Tensor expand_raw(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  const size_t n = shape.size(), r = t.shape().size();
  Strides st(n, 0);
  for (size_t i = 0; i < r; ++i) {
    const size_t o = n - r + i;
    st[o] = t.shape()[i] == 1 && shape[o] != 1 ? 0 : t.strides()[i];
  }
  return view_raw(t, shape, st, t.offset());
}

Tensor cast_raw(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = Tensor::empty(t.shape(), dtype, t.device());
  backend_of(t).copy(t, out);
  return out;
}

Tensor contiguous_raw(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  backend_of(t).copy(t, out);
  return out;
}

Tensor unary_kernel(UnaryOp op, const Tensor& x, double p0, double p1) {
  Tensor out = Tensor::empty(x.shape(), op == UnaryOp::LogicalNot ? kBool : x.dtype(), x.device(),
                             unary_op_name(op));
  kernel_backend(unary_op_name(op), Kernel::Unary, x).unary(op, x, out, p0, p1);
  autograd::note_dispatch(op);
  return out;
}

Tensor positive_mask(const Tensor& x) { return unary_kernel(UnaryOp::Step, x.detach()); }

Tensor relu_backward(std::string_view name, const Tensor& g, const Tensor& x) {
  if (autograd::grad_enabled()) return mul(g, positive_mask(x));
  const Tensor xd = x.detach();
  return binary_kernel(name, BinaryOp::ReluBackward, g, xd, xd.dtype(), xd.dtype());
}

Tensor binary_kernel(std::string_view name, BinaryOp op, const Tensor& a, const Tensor& b,
                     DType compute, DType out_dtype) {
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  check_same_device(name, a, b);
  if (a.shape() == b.shape() && a.dtype() == compute && b.dtype() == compute) {
    Tensor out = Tensor::empty(a.shape(), out_dtype, a.device(), name);
    kernel_backend(name, Kernel::Binary, a, compute).binary(op, a, b, out);
    autograd::note_dispatch(op);
    return out;
  }
  Shape s = broadcast_shapes(name, a.shape(), b.shape());
  Tensor out = Tensor::empty(s, out_dtype, a.device(), name);
  autograd::note_dispatch(op);
  kernel_backend(name, Kernel::Binary, a, compute).binary(op, expand_raw(cast_raw(a, compute), s), expand_raw(cast_raw(b, compute), s),
                       out);
  return out;
}

Tensor scalar_like(const Tensor& t, double value) {
  DType dt = t.dtype();
  if (!is_floating(dt) && value != std::floor(value)) dt = kFloat32;
  if (dt == kBool && value != 0 && value != 1) dt = kInt64;
  return full(Shape{}, value, {.dtype = dt, .device = t.device()});
}

Tensor mask_as(const Tensor& cond, DType dtype) { return cast_raw(cond, dtype); }

Shape keepdims_shape(const Shape& x, const Axes& axes) {
  Shape s = x;
  for (int64_t a : axes) s[a] = 1;
  return s;
}

Shape reduced_shape(const Shape& x, const Axes& axes) {
  Shape s;
  size_t j = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (j < axes.size() && axes[j] == static_cast<int64_t>(i)) {
      ++j;
      continue;
    }
    s.push_back(x[i]);
  }
  return s;
}

}  // namespace tg::ops
