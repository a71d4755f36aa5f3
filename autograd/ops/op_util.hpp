// Helpers shared by the op definitions: device checks, broadcast views, kernel calls.
#pragma once
#include <initializer_list>
#include <string_view>

#include "tapegrad/autograd/node.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg::ops {

/// The backend of t's device (for the data-movement kernels copy, fill, copy_to_host and
/// copy_from_host, which every backend runs for every dtype; the registry test checks it).
inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }
/// The backend of t's device after asking it whether it runs kernel k for dtype dt: throws
/// BackendError naming op, kernel, dtype and device when it does not, before any dispatch.
Backend& kernel_backend(std::string_view op, Kernel k, const Tensor& t, DType dt);
/// kernel_backend for t's own dtype.
inline Backend& kernel_backend(std::string_view op, Kernel k, const Tensor& t) {
  return kernel_backend(op, k, t, t.dtype());
}

/// Throws DeviceError when a and b live on different devices.
inline void check_same_device(std::string_view op, const Tensor& a, const Tensor& b) {
  if (a.device() != b.device())
    fail<DeviceError>(op, ": tensors on different devices: ", a.device(), " and ", b.device());
}
/// Throws DeviceError naming op when the defined tensors among ts are not all on the device of
/// the first defined one.
inline void check_same_device(std::string_view op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first)
      first = t;
    else if (t->device() != first->device())
      check_same_device(op, *first, *t);
  }
}
/// Throws ValueError naming op when t is undefined.
inline void check_defined(std::string_view op, const Tensor& t, const char* what = "input") {
  if (!t.defined()) fail<ValueError>(op, ": ", what, " is an undefined tensor");
}
/// Throws DTypeError unless t is float32 or float64.
inline void check_floating(std::string_view op, const Tensor& t) {
  if (!is_floating(t.dtype()))
    fail<DTypeError>(op, ": expected a floating tensor, got ", t.dtype());
}

/// View of t broadcast to shape (stride 0 on broadcast axes); no tape entry.
Tensor expand_raw(const Tensor& t, const Shape& shape);
/// t converted to dtype without a tape entry (t itself when it already has it).
Tensor cast_raw(const Tensor& t, DType dtype);
/// Contiguous copy without a tape entry (t itself when already contiguous).
Tensor contiguous_raw(const Tensor& t);
/// A view of t with new shape/strides/offset sharing storage; no tape entry.
Tensor view_raw(const Tensor& t, Shape shape, Strides strides, int64_t offset);

/// out = op(x) on the backend, output of x's dtype.
Tensor unary_kernel(UnaryOp op, const Tensor& x, double p0 = 0, double p1 = 0);
/// Broadcasting binary kernel: casts both to `compute`, writes `out_dtype`.
Tensor binary_kernel(std::string_view name, BinaryOp op, const Tensor& a, const Tensor& b,
                     DType compute, DType out_dtype);
/// 1 where x > 0 else 0, in x's dtype, off the tape.
Tensor positive_mask(const Tensor& x);
/// The gradient g through a relu at x (relu's input or output: the same mask): one
/// ReluBackward kernel, or, while grad mode is on (create_graph), g times a constant mask in
/// differentiable ops. name is the op reported in errors.
Tensor relu_backward(std::string_view name, const Tensor& g, const Tensor& x);
/// A 0-d tensor of value on t's device with t's dtype (float32 when t is integral and value
/// is not a whole number).
Tensor scalar_like(const Tensor& t, double value);
/// Float mask (x's floating dtype) of a bool tensor, no tape entry.
Tensor mask_as(const Tensor& cond, DType dtype);
/// Shape of x with the reduced axes set to 1.
Shape keepdims_shape(const Shape& x, const Axes& axes);
/// gather with an int64 index already known to be in range (no validation pass over it).
Tensor gather_valid(const Tensor& x, int64_t axis, const Tensor& index);
/// scatter_add with an int64 index already known to be in range.
Tensor scatter_add_valid(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
/// Shape of x with the reduced axes removed.
Shape reduced_shape(const Shape& x, const Axes& axes);

}  // namespace tg::ops
