// Pooling: max and average (with TensorFlow padding semantics) and global pooling.
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using namespace ops;

namespace {
struct Resolved {
  Pool2dParams p;
  Shape out;
};

Resolved resolve(std::string_view op, const Shape& x, const Pool2dOptions& o) {
  if (x.size() != 4) fail<ShapeError>(op, ": expected an input of rank 4 (N, H, W, C), got ", x);
  std::vector<int64_t> k = o.pool_size, s = o.strides.empty() ? o.pool_size : o.strides;
  if (k.size() == 1) k = {k[0], k[0]};
  if (s.size() == 1) s = {s[0], s[0]};
  if (k.size() != 2 || s.size() != 2)
    fail<ValueError>(op, ": pool_size and strides need 1 or 2 values");
  if (k[0] <= 0 || k[1] <= 0 || s[0] <= 0 || s[1] <= 0)
    fail<ValueError>(op, ": pool_size and strides must be positive, got (", k[0], ", ", k[1],
                     ") and (", s[0], ", ", s[1], ")");
  Resolved r;
  r.p.kernel_h = k[0];
  r.p.kernel_w = k[1];
  r.p.stride_h = s[0];
  r.p.stride_w = s[1];
  r.out = {x[0], 0, 0, x[3]};
  for (int a = 0; a < 2; ++a) {
    const int64_t in = x[1 + a];
    int64_t before = 0, after = 0, out = 0;
    if (o.padding.mode == "valid") {
      out = in >= k[a] ? (in - k[a]) / s[a] + 1 : 0;
    } else if (o.padding.mode == "same") {
      out = (in + s[a] - 1) / s[a];
      const int64_t total = std::max<int64_t>((out - 1) * s[a] + k[a] - in, 0);
      before = total / 2;
      after = total - before;
    } else if (o.padding.mode == "explicit" && o.padding.pads.size() == 2) {
      std::tie(before, after) = o.padding.pads[a];
      if (before < 0 || after < 0 || before >= k[a] || after >= k[a])
        fail<ValueError>(op, ": explicit padding (", before, ", ", after,
                         ") must be in [0, pool size)");
      out = (in + before + after - k[a]) / s[a] + 1;
    } else {
      fail<ValueError>(op, ": padding must be valid, same or two explicit pairs, got '",
                       o.padding.mode, "'");
    }
    if (out <= 0)
      fail<ShapeError>(op, ": input ", x, " is smaller than the pool window (", k[0], ", ", k[1],
                       ")");
    r.out[1 + a] = out;
    (a == 0 ? r.p.pad_top : r.p.pad_left) = before;
    (a == 0 ? r.p.pad_bottom : r.p.pad_right) = after;
  }
  return r;
}

Tensor to_nhwc(const Tensor& x, bool cf) { return cf ? x.permute({0, 2, 3, 1}) : x; }
Tensor from_nhwc(const Tensor& x, bool cf) { return cf ? x.permute({0, 3, 1, 2}) : x; }
bool is_cf(std::string_view op, const std::string& f) {
  if (f == "channels_last") return false;
  if (f == "channels_first") return true;
  fail<ValueError>(op, ": data_format must be channels_last or channels_first, got '", f, "'");
}

Tensor avg_pool_nhwc(const Tensor& x, const Pool2dParams& p, const Shape& out);

/// The adjoint of average pooling (a differentiable op: its own adjoint is avg pooling).
Tensor avg_pool_backward(const Tensor& gy, const Pool2dParams& p, const Shape& xs) {
  Tensor gx = Tensor::empty(xs, gy.dtype(), gy.device());
  kernel_backend("avg_pool2d", Kernel::AvgPool2dBackward, gy).avg_pool2d_backward(contiguous_raw(gy), gx, p);
  if (autograd::needs_grad(gy))
    autograd::record("avg_pool2d_backward", {&gy}, {&gx}, [p, ys = gy.shape()](const Tensor& g) {
      return std::vector<Tensor>{avg_pool_nhwc(g, p, ys)};
    });
  return gx;
}

Tensor avg_pool_nhwc(const Tensor& x, const Pool2dParams& p, const Shape& out) {
  Tensor y = Tensor::empty(out, x.dtype(), x.device());
  kernel_backend("avg_pool2d", Kernel::AvgPool2d, x).avg_pool2d(contiguous_raw(x), y, p);
  if (autograd::needs_grad(x))
    autograd::record("avg_pool2d", {&x}, {&y}, [p, xs = x.shape()](const Tensor& g) {
      return std::vector<Tensor>{avg_pool_backward(g, p, xs)};
    });
  return y;
}
}  // namespace

TG_REGISTER_OP("max_pool2d", "max_pool2d", true);
Tensor max_pool2d(const Tensor& x_in, const Pool2dOptions& o) {
  check_defined("max_pool2d", x_in);
  const bool cf = is_cf("max_pool2d", o.data_format);
  if (x_in.dim() != 4)
    fail<ShapeError>("max_pool2d: expected an input of rank 4, got ", x_in.shape());
  Tensor x = to_nhwc(x_in, cf);
  Resolved r = resolve("max_pool2d", x.shape(), o);
  Tensor y = Tensor::empty(r.out, x.dtype(), x.device());
  const bool grad = autograd::needs_grad(x);
  Tensor idx = grad ? Tensor::empty(r.out, kInt64, x.device()) : Tensor();
  kernel_backend("max_pool2d", Kernel::MaxPool2d, x).max_pool2d(contiguous_raw(x), y, idx, r.p);
  if (grad) {
    // The gradient goes to the winning cells: a scatter of the flat gradient at the flat indices
    // (whose own adjoint is the matching gather, so gradients of gradients work).
    autograd::record("max_pool2d", {&x}, {&y}, [idx, xs = x.shape(), p = r.p](const Tensor& g) {
      if (autograd::grad_enabled()) {  // create_graph: the differentiable scatter
        Tensor flat = zeros({numel(xs)}, {.dtype = g.dtype(), .device = g.device()});
        return std::vector<Tensor>{
            scatter_add_valid(flat, 0, idx.reshape({-1}), g.reshape({-1})).reshape(xs)};
      }
      Tensor gx = Tensor::empty(xs, g.dtype(), g.device());
      kernel_backend("max_pool2d", Kernel::MaxPool2dBackward, g).max_pool2d_backward(contiguous_raw(g), idx, gx, p);
      return std::vector<Tensor>{gx};
    });
  }
  return from_nhwc(y, cf);
}

TG_REGISTER_OP("avg_pool2d", "avg_pool2d", true);
Tensor avg_pool2d(const Tensor& x_in, const Pool2dOptions& o) {
  check_defined("avg_pool2d", x_in);
  const bool cf = is_cf("avg_pool2d", o.data_format);
  if (x_in.dim() != 4)
    fail<ShapeError>("avg_pool2d: expected an input of rank 4, got ", x_in.shape());
  Tensor x = to_nhwc(x_in, cf);
  check_floating("avg_pool2d", x);
  Resolved r = resolve("avg_pool2d", x.shape(), o);
  return from_nhwc(avg_pool_nhwc(x, r.p, r.out), cf);
}
TG_REGISTER_OP("avg_pool2d_backward", "avg_pool2d_backward", true);

TG_REGISTER_OP("global_avg_pool2d", "composite", true);
Tensor global_avg_pool2d(const Tensor& x, bool keepdims, const std::string& data_format) {
  ErrorContext ctx("global_avg_pool2d");
  check_defined("global_avg_pool2d", x);
  if (x.dim() != 4)
    fail<ShapeError>("global_avg_pool2d: expected an input of rank 4, got ", x.shape());
  return is_cf("global_avg_pool2d", data_format) ? mean(x, {2, 3}, keepdims)
                                                 : mean(x, {1, 2}, keepdims);
}
TG_REGISTER_OP("global_max_pool2d", "composite", true);
Tensor global_max_pool2d(const Tensor& x, bool keepdims, const std::string& data_format) {
  ErrorContext ctx("global_max_pool2d");
  check_defined("global_max_pool2d", x);
  if (x.dim() != 4)
    fail<ShapeError>("global_max_pool2d: expected an input of rank 4, got ", x.shape());
  return is_cf("global_max_pool2d", data_format) ? max(x, {2, 3}, keepdims)
                                                 : max(x, {1, 2}, keepdims);
}

}  // namespace tg
