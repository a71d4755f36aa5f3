// Joining, splitting and padding.
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using namespace ops;

TG_REGISTER_OP("concat", "copy", true);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis_in) {
  if (xs.empty()) fail<ValueError>("concat: no tensors given");
  for (size_t i = 0; i < xs.size(); ++i) check_defined("concat", xs[i]);
  const Tensor& first = xs[0];
  if (first.dim() == 0) fail<ShapeError>("concat: zero-dimensional tensors cannot be joined");
  const int64_t axis = normalize_axis("concat", axis_in, first.dim());
  DType dt = first.dtype();
  Shape s = first.shape();
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    check_same_device("concat", first, x);
    dt = promote_types(dt, x.dtype());
    bool ok = x.dim() == first.dim();
    for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == axis || x.shape()[d] == s[d];
    if (!ok)
      fail<ShapeError>("concat: tensor ", i, " has shape ", x.shape(), ", expected ", s,
                       " except along axis ", axis);
    total += x.shape()[axis];
  }
  s[axis] = total;
  Tensor y = Tensor::empty(s, dt, first.device());
  std::vector<int64_t> sizes;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    Shape ps = s;
    ps[axis] = x.shape()[axis];
    backend_of(y).copy(x, view_raw(y, ps, y.strides(), at * y.strides()[axis]));
    at += x.shape()[axis];
    sizes.push_back(x.shape()[axis]);
  }
  std::vector<Tensor> inputs = xs;
  bool needs = false;
  if (autograd::grad_enabled())
    for (const Tensor& x : xs) needs |= x.requires_grad();
  if (needs) {
    std::vector<DType> dtypes;
    for (const Tensor& x : xs) dtypes.push_back(x.dtype());
    auto f = [sizes, axis, dtypes](const Tensor& g) {
      std::vector<Tensor> parts = split(g, sizes, axis);
      for (size_t i = 0; i < parts.size(); ++i)
        parts[i] = is_floating(dtypes[i]) ? parts[i].to(dtypes[i]) : Tensor();
      return parts;
    };
    auto node = std::make_shared<autograd::LambdaNode<decltype(f)>>("concat", xs.size(), f);
    std::vector<Tensor> outs{y};
    autograd::connect_list(node, inputs, outs);
    y = outs[0];
  }
  return y;
}

TG_REGISTER_OP("stack", "copy", true);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) fail<ValueError>("stack: no tensors given");
  check_defined("stack", xs[0]);
  const int64_t a = normalize_axis("stack", axis, xs[0].dim() + 1);
  std::vector<Tensor> us;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_defined("stack", xs[i]);
    check_same_device("stack", xs[0], xs[i]);
    if (xs[i].shape() != xs[0].shape())
      fail<ShapeError>("stack: tensor ", i, " has shape ", xs[i].shape(), ", expected ",
                       xs[0].shape());
    us.push_back(xs[i].unsqueeze(a));
  }
  return concat(us, a);
}

TG_REGISTER_OP("split", "view", true);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis_in) {
  check_defined("split", x);
  const int64_t axis = normalize_axis("split", axis_in, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) fail<ValueError>("split: negative size ", s);
    total += s;
  }
  if (total != x.shape()[axis])
    fail<ShapeError>("split: sizes add up to ", total, " but axis ", axis, " of ", x.shape(),
                     " has ", x.shape()[axis]);
  // Views of x; one tape node for all pieces, whose backward concatenates their gradients
  // (missing ones are zero-filled by the engine).
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    Shape sh = x.shape();
    sh[axis] = s;
    out.push_back(view_raw(x, sh, x.strides(), x.offset() + at * x.strides()[axis]));
    out.back().impl()->is_view = true;
    at += s;
  }
  if (autograd::needs_grad(x)) {
    auto f = [axis](std::vector<Tensor>& grads) {
      return std::vector<Tensor>{concat(grads, axis)};
    };
    auto node = detail::make_pooled<autograd::LambdaNode<decltype(f)>>("split", 1, f);
    autograd::connect_list(node, {x}, out);
  }
  return out;
}

TG_REGISTER_OP("unbind", "view", true);
std::vector<Tensor> unbind(const Tensor& x, int64_t axis_in) {
  check_defined("unbind", x);
  const int64_t axis = normalize_axis("unbind", axis_in, x.dim());
  Shape sh = x.shape();
  Strides st = x.strides();
  sh.erase_at(axis);
  st.erase_at(axis);
  std::vector<Tensor> out;
  for (int64_t i = 0; i < x.shape()[axis]; ++i) {
    out.push_back(view_raw(x, sh, st, x.offset() + i * x.strides()[axis]));
    out.back().impl()->is_view = true;
  }
  if (autograd::needs_grad(x) && !out.empty()) {
    auto f = [axis](std::vector<Tensor>& grads) { return std::vector<Tensor>{stack(grads, axis)}; };
    auto node = detail::make_pooled<autograd::LambdaNode<decltype(f)>>("unbind", 1, f);
    autograd::connect_list(node, {x}, out);
  }
  return out;
}

TG_REGISTER_OP("chunk", "view", true);
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t axis_in) {
  check_defined("chunk", x);
  if (n <= 0) fail<ValueError>("chunk: number of chunks must be positive, got ", n);
  const int64_t axis = normalize_axis("chunk", axis_in, x.dim());
  const int64_t len = x.shape()[axis], step = (len + n - 1) / n;
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < len; at += step) sizes.push_back(std::min(step, len - at));
  return split(x, sizes, axis);
}

TG_REGISTER_OP("pad", "copy", true);
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, double value) {
  check_defined("pad", x);
  if (static_cast<int64_t>(pads.size()) > x.dim())
    fail<ShapeError>("pad: ", pads.size(), " pad pairs for a tensor of shape ", x.shape());
  Shape s = x.shape();
  int64_t off = 0;
  for (size_t i = 0; i < pads.size(); ++i) {
    if (pads[i].first < 0 || pads[i].second < 0)
      fail<ValueError>("pad: negative padding (", pads[i].first, ", ", pads[i].second, ") on axis ",
                       i);
    s[i] += pads[i].first + pads[i].second;
  }
  Tensor y = full(s, value, {.dtype = x.dtype(), .device = x.device()});
  const Strides& st = y.strides();
  for (size_t i = 0; i < pads.size(); ++i) off += pads[i].first * st[i];
  backend_of(x).copy(x, view_raw(y, x.shape(), st, off));
  if (autograd::needs_grad(x)) {
    autograd::record("pad", {&x}, {&y}, [pads, xs = x.shape()](const Tensor& g) {
      Tensor r = g;
      for (size_t i = 0; i < pads.size(); ++i)
        r = r.slice(static_cast<int64_t>(i), pads[i].first, pads[i].first + xs[i]);
      return std::vector<Tensor>{r};
    });
  }
  return y;
}

}  // namespace tg
