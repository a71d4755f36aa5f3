// Views (reshape, transpose, slice, expand, ...), copies and conversions.
#include <numeric>

#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using namespace ops;

namespace {
/// Strides that let `shape` view memory laid out as (old_shape, old_strides), or nullopt
/// (groups of old axes that are contiguous among themselves may be split or merged).
std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides,
                                    const Shape& shape) {
  if (numel(shape) == 0 || old_shape.empty()) return contiguous_strides(shape);
  Strides out(shape.size(), 1);
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t base = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * base;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        base = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

/// Records a view op whose backward is f(g).
template <class F>
Tensor record_view(std::string_view name, const Tensor& x, Tensor y, F f) {
  if (y.storage() == x.storage()) y.impl()->is_view = true;
  if (autograd::needs_grad(x))
    autograd::record(name, {&x}, {&y}, [f](const Tensor& g) { return std::vector<Tensor>{f(g)}; });
  return y;
}

Shape infer_shape(std::string_view op, const Shape& from, const Shape& to) {
  Shape s = to;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) fail<ShapeError>(op, ": only one size may be -1, got ", to);
      infer = static_cast<int64_t>(i);
    } else if (s[i] < 0) {
      fail<ShapeError>(op, ": negative size in ", to);
    } else if (s[i] == 0) {
      known = 0;
    } else if (known != 0 && __builtin_mul_overflow(known, s[i], &known)) {
      fail<ShapeError>(op, ": shape ", to, " has more than 2^63 elements");
    }
  }
  const int64_t n = numel(from);
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      fail<ShapeError>(op, ": cannot reshape ", from, " (", n, " elements) to ", to);
    s[infer] = n / known;
  }
  const int64_t m = checked_numel(op, s);
  if (m != n)
    fail<ShapeError>(op, ": cannot reshape ", from, " (", n, " elements) to ", to, " (", m,
                     " elements)");
  return s;
}
}  // namespace

TG_REGISTER_OP("reshape", "view", true);
Tensor Tensor::reshape(const Shape& shape_in) const {
  check_defined("reshape", *this);
  Shape s = infer_shape("reshape", shape(), shape_in);
  if (s == shape()) return *this;
  auto st = view_strides(shape(), strides(), s);
  Tensor base = st ? *this : contiguous_raw(*this);
  Tensor y = view_raw(base, s, st ? *st : contiguous_strides(s), base.offset());
  return record_view("reshape", *this, y,
                     [xs = shape()](const Tensor& g) { return g.reshape(xs); });
}

Tensor Tensor::view(const Shape& shape_in) const {
  check_defined("view", *this);
  Shape s = infer_shape("view", shape(), shape_in);
  auto st = view_strides(shape(), strides(), s);
  if (!st)
    fail<ShapeError>("view: strides ", Shape(strides()), " of shape ", shape(),
                     " do not allow a view as ", s, "; use reshape");
  Tensor y = view_raw(*this, s, *st, offset());
  return record_view("reshape", *this, y,
                     [xs = shape()](const Tensor& g) { return g.reshape(xs); });
}

TG_REGISTER_OP("permute", "view", true);
Tensor Tensor::permute(const Axes& order) const {
  check_defined("permute", *this);
  if (static_cast<int64_t>(order.size()) != dim())
    fail<ShapeError>("permute: order has ", order.size(), " axes for a tensor of shape ", shape());
  Axes norm;
  SmallVec<int64_t, 6> seen(static_cast<size_t>(dim()), 0);
  Shape s;
  Strides st;
  for (int64_t a : order) {
    int64_t n = normalize_axis("permute", a, dim());
    if (seen[n]++) fail<ValueError>("permute: axis ", a, " repeated in the order");
    norm.push_back(n);
    s.push_back(shape()[n]);
    st.push_back(strides()[n]);
  }
  Axes inverse(norm.size());
  for (size_t i = 0; i < norm.size(); ++i) inverse[norm[i]] = static_cast<int64_t>(i);
  Tensor y = view_raw(*this, s, st, offset());
  return record_view("permute", *this, y,
                     [inverse](const Tensor& g) { return g.permute(inverse); });
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  check_defined("transpose", *this);
  const int64_t na = normalize_axis("transpose", a, dim()),
                nb = normalize_axis("transpose", b, dim());
  Axes order;
  for (int64_t i = 0; i < dim(); ++i) order.push_back(i);
  std::swap(order[na], order[nb]);
  return permute(order);
}

Tensor Tensor::t() const {
  if (dim() < 2) return *this;
  return transpose(-2, -1);
}

namespace {
/// Zeros of `full` shape with g written into the slice (axis, start::step): the adjoint of slice.
Tensor slice_backward(const Tensor& g, const Shape& full_shape, int64_t axis, int64_t start,
                      int64_t step) {
  Tensor out = zeros(full_shape, {.dtype = g.dtype(), .device = g.device()});
  Strides st = out.strides();
  Shape s = out.shape();
  s[axis] = g.shape()[axis];
  const int64_t off = start * st[axis];
  st[axis] *= step;
  backend_of(g).copy(g, view_raw(out, s, st, off));
  if (autograd::needs_grad(g)) {
    autograd::record(
        "slice_backward", {&g}, {&out}, [axis, start, step, n = g.shape()[axis]](const Tensor& gg) {
          return std::vector<Tensor>{gg.slice(axis, start, start + step * (n - 1) + 1, step)};
        });
  }
  return out;
}
}  // namespace
TG_REGISTER_OP("slice_backward", "copy", true);

TG_REGISTER_OP("slice", "view", true);
Tensor Tensor::slice(int64_t axis_in, int64_t start, int64_t stop, int64_t step) const {
  check_defined("slice", *this);
  const int64_t axis = normalize_axis("slice", axis_in, dim());
  if (step <= 0) fail<ValueError>("slice: step must be positive, got ", step);
  const int64_t n = shape()[axis];
  auto clamp = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
  const int64_t b = clamp(start), e = std::max(clamp(stop), b);
  const int64_t len = (e - b + step - 1) / step;
  Shape s = shape();
  Strides st = strides();
  s[axis] = len;
  const int64_t off = offset() + b * st[axis];
  st[axis] *= step;
  Tensor y = view_raw(*this, s, st, off);
  return record_view("slice", *this, y, [xs = shape(), axis, b, step](const Tensor& g) {
    return slice_backward(g, xs, axis, b, step);
  });
}

TG_REGISTER_OP("select", "view", true);
Tensor Tensor::select(int64_t axis_in, int64_t i) const {
  check_defined("select", *this);
  const int64_t axis = normalize_axis("select", axis_in, dim());
  const int64_t n = shape()[axis];
  if (i < -n || i >= n)
    fail<IndexError>("select: index ", i, " out of range for axis ", axis, " of size ", n,
                     " (shape ", shape(), ")");
  if (i < 0) i += n;
  Shape s = shape();
  Strides st = strides();
  const int64_t off = offset() + i * st[axis];
  s.erase_at(axis);
  st.erase_at(axis);
  Tensor y = view_raw(*this, s, st, off);
  return record_view("select", *this, y, [xs = shape(), axis, i](const Tensor& g) {
    return slice_backward(g.unsqueeze(axis), xs, axis, i, 1);
  });
}

TG_REGISTER_OP("expand", "view", true);
Tensor Tensor::expand(const Shape& shape_in) const {
  check_defined("expand", *this);
  if (shape_in.size() < shape().size())
    fail<ShapeError>("expand: cannot expand ", shape(), " to fewer axes ", shape_in);
  Shape s = shape_in;
  const size_t lead = s.size() - shape().size();
  for (size_t i = 0; i < shape().size(); ++i) {
    if (s[lead + i] == -1) s[lead + i] = shape()[i];
    if (shape()[i] != 1 && shape()[i] != s[lead + i])
      fail<ShapeError>("expand: cannot expand ", shape(), " to ", shape_in, " (axis ", lead + i,
                       ": ", shape()[i], " vs ", s[lead + i], ")");
  }
  checked_numel("expand", s);  // also negative sizes other than -1
  if (s == shape()) return *this;
  Tensor y = expand_raw(*this, s);
  return record_view("expand", *this, y, [xs = shape()](const Tensor& g) { return sum_to(g, xs); });
}

Tensor Tensor::squeeze() const {
  Shape s;
  for (int64_t d : shape())
    if (d != 1) s.push_back(d);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t axis) const {
  check_defined("squeeze", *this);
  const int64_t a = normalize_axis("squeeze", axis, dim());
  if (shape()[a] != 1)
    fail<ShapeError>("squeeze: axis ", axis, " has size ", shape()[a], ", not 1 (shape ", shape(),
                     ")");
  Shape s = shape();
  s.erase_at(a);
  return reshape(s);
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  check_defined("unsqueeze", *this);
  const int64_t a = normalize_axis("unsqueeze", axis, dim() + 1);
  Shape s = shape();
  s.insert_at(a, 1);
  return reshape(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  check_defined("flatten", *this);
  if (dim() == 0) return reshape({1});
  const int64_t a = normalize_axis("flatten", start, dim()),
                b = normalize_axis("flatten", end, dim());
  if (a > b) fail<ValueError>("flatten: start axis ", start, " comes after end axis ", end);
  Shape s;
  for (int64_t i = 0; i < a; ++i) s.push_back(shape()[i]);
  int64_t m = 1;
  for (int64_t i = a; i <= b; ++i) m *= shape()[i];
  s.push_back(m);
  for (int64_t i = b + 1; i < dim(); ++i) s.push_back(shape()[i]);
  return reshape(s);
}

TG_REGISTER_OP("clone", "copy", true);
Tensor Tensor::clone() const {
  check_defined("clone", *this);
  Tensor y = Tensor::empty(shape(), dtype(), device());
  backend_of(*this).copy(*this, y);
  return record_view("clone", *this, y, [](const Tensor& g) { return g; });
}

Tensor Tensor::contiguous() const {
  check_defined("contiguous", *this);
  return is_contiguous() ? *this : clone();
}

TG_REGISTER_OP("cast", "copy", true);
Tensor cast(const Tensor& x, DType dt) {
  check_defined("cast", x);
  if (x.dtype() == dt) return x;
  Tensor y = cast_raw(x, dt);
  if (!is_floating(dt)) return y;  // integer results carry no gradient
  return record_view("cast", x, y, [src = x.dtype()](const Tensor& g) { return cast(g, src); });
}
Tensor Tensor::to(DType dt) const { return cast(*this, dt); }

TG_REGISTER_OP("to_device", "copy", true);
Tensor Tensor::to(Device dev) const {
  check_defined("to", *this);
  if (dev == device()) return *this;
  Tensor src = contiguous_raw(*this);
  std::vector<char> host(static_cast<size_t>(numel()) * dtype_size(dtype()));
  backend_of(src).copy_to_host(src, host.data());
  Tensor y = Tensor::empty(shape(), dtype(), dev);
  backend_for(dev).copy_from_host(host.data(), y);
  return record_view("to_device", *this, y,
                     [from = device()](const Tensor& g) { return g.to(from); });
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_defined("copy_", *this, "target");
  check_defined("copy_", src, "source");
  broadcast_shapes("copy_", shape(), src.shape());
  Tensor s = src.device() == device() ? src : src.to(device());
  if (autograd::needs_grad(*this, s)) {
    if (is_leaf() && requires_grad())
      fail<ValueError>("copy_: in-place operation on a leaf tensor that requires grad ", shape(),
                       "; wrap it in NoGrad");
    if (impl()->is_view)
      fail<ValueError>("copy_: in-place copy with grad recording into a view ", shape(),
                       "; build the result out of place (concat, pad, where) instead");
    Tensor y = s.to(dtype()).expand(shape()).clone();
    backend_of(*this).copy(y, *this);
    storage()->bump_version();
    impl()->requires_grad = true;
    impl()->grad_fn = y.grad_fn();
    impl()->output_nr = 0;
    return *this;
  }
  Shape b = broadcast_shapes("copy_", shape(), s.shape());
  if (b != shape())
    fail<ShapeError>("copy_: source of shape ", src.shape(), " does not broadcast to ", shape());
  backend_of(*this).copy(expand_raw(s, shape()), *this);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_defined("fill_", *this, "target");
  if (autograd::grad_enabled() && requires_grad()) {
    if (is_leaf())
      fail<ValueError>("fill_: in-place operation on a leaf tensor that requires grad ", shape(),
                       "; wrap it in NoGrad");
    if (impl()->is_view)  // the base would keep a history that no longer holds
      fail<ValueError>("fill_: in-place fill with grad recording of a view ", shape(),
                       "; build the result out of place (where, concat, pad) instead");
    // The filled values no longer depend on the history: cut it.
    impl()->grad_fn.reset();
    impl()->requires_grad = false;
  }
  backend_of(*this).fill(*this, value);
  storage()->bump_version();
  return *this;
}

}  // namespace tg
