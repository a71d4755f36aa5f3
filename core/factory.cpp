// Creation functions: constant fills, ranges, identity and tensors from host data.
#include <cmath>
#include <vector>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/registry.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg {

namespace {
Tensor finish(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

/// A tensor of shape filled with value; op names the factory in errors.
Tensor filled(std::string_view op, const Shape& shape, double value, const TensorOptions& opts) {
  Tensor t = Tensor::empty(shape, opts.dtype, opts.device, op);
  backend_for(opts.device).fill(t, value);
  return finish(t, opts);
}
}  // namespace

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  return filled("full", shape, value, opts);
}
Tensor zeros(const Shape& shape, TensorOptions opts) { return filled("zeros", shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return filled("ones", shape, 1.0, opts); }
Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()});
}
Tensor ones_like(const Tensor& t) {
  return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()});
}

Tensor scalar_tensor(double value, TensorOptions opts) { return full(Shape{}, value, opts); }

Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device, "from_blob");
  if (t.numel() > 0) backend_for(device).copy_from_host(data, t);  // data may be null when empty
  return t;
}

namespace detail {
Tensor from_host(const void* data, const Shape& shape, DType src, const TensorOptions& opts) {
  Tensor t = from_blob(data, shape, src, opts.device);
  if (src != opts.dtype) t = t.to(opts.dtype);
  return finish(t, opts);
}
}  // namespace detail

Tensor tensor(std::initializer_list<float> values, const Shape& shape, TensorOptions opts) {
  return tensor(std::vector<float>(values), shape, opts);
}

Tensor arange(double start, double stop, double step, TensorOptions opts) {
  if (step == 0) fail<ValueError>("arange: step must not be 0");
  const double span = (stop - start) / step;
  if (!(span < 9.2e18))  // also NaN: an element count int64 cannot hold
    fail<ShapeError>("arange: [", start, ", ", stop, ") in steps of ", step, " has ", span,
                     " elements, more than 2^63");
  const int64_t n = span > 0 ? static_cast<int64_t>(std::ceil(span)) : 0;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i) * step;
  return detail::from_host(v.data(), {n}, kFloat64, opts);
}
Tensor arange(int64_t stop, TensorOptions opts) {
  return arange(0.0, static_cast<double>(stop), 1.0, opts);
}

Tensor linspace(double start, double stop, int64_t n, TensorOptions opts) {
  if (n < 0) fail<ValueError>("linspace: negative count ", n);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[i] = n == 1 ? start
                  : start + (stop - start) * static_cast<double>(i) / static_cast<double>(n - 1);
  return detail::from_host(v.data(), {n}, kFloat64, opts);
}

Tensor eye(int64_t n, int64_t m, TensorOptions opts) {
  if (m < 0) m = n;
  if (n < 0) fail<ValueError>("eye: negative size ", n);
  std::vector<double> v(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < std::min(n, m); ++i) v[i * m + i] = 1.0;
  return detail::from_host(v.data(), {n, m}, kFloat64, opts);
}

}  // namespace tg
