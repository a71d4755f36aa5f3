// Convolutions: conv2d, conv1d, conv2d_transpose and the two adjoint ops their backward uses.
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using autograd::SavedTensor;
using namespace ops;

namespace {
bool need(size_t i) { return autograd::needs_input_grad(i); }

int64_t out_len(int64_t in, int64_t k_eff, int64_t stride, int64_t before, int64_t after) {
  return (in + before + after - k_eff) / stride + 1;
}

/// Output spatial size of a convolution with explicit params.
Shape conv_out_shape(const Shape& x, const Shape& w, const Conv2dParams& p) {
  const int64_t keh = (w[0] - 1) * p.dilation_h + 1, kew = (w[1] - 1) * p.dilation_w + 1;
  return {x[0], out_len(x[1], keh, p.stride_h, p.pad_top, p.pad_bottom),
          out_len(x[2], kew, p.stride_w, p.pad_left, p.pad_right), w[3]};
}

/// (before, after) padding of one spatial axis for a padding mode.
std::pair<int64_t, int64_t> axis_padding(std::string_view op, const Padding& pad, size_t axis,
                                         int64_t in, int64_t k_eff, int64_t stride) {
  if (pad.mode == "valid") return {0, 0};
  if (pad.mode == "same") {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + k_eff - in, 0);
    return {total / 2, total - total / 2};
  }
  if (pad.mode == "explicit") {
    if (axis >= pad.pads.size())
      fail<ValueError>(op, ": explicit padding has ", pad.pads.size(),
                       " pairs, need one per spatial axis");
    auto [a, b] = pad.pads[axis];
    if (a < 0 || b < 0) fail<ValueError>(op, ": negative padding (", a, ", ", b, ")");
    return pad.pads[axis];
  }
  fail<ValueError>(op, ": unknown padding '", pad.mode,
                   "' (expected valid, same or explicit pairs)");
}

std::vector<int64_t> pair_arg(std::string_view op, const char* what,
                              const std::vector<int64_t>& v) {
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() != 2) fail<ValueError>(op, ": ", what, " needs 1 or 2 values, got ", v.size());
  if (v[0] <= 0 || v[1] <= 0)
    fail<ValueError>(op, ": ", what, " must be positive, got (", v[0], ", ", v[1], ")");
  return v;
}

/// Resolves options into explicit params for input (N, H, W, C) and kernel (kh, kw, ci, co).
Conv2dParams resolve(std::string_view op, const Shape& x, const Shape& w, const Conv2dOptions& o) {
  auto s = pair_arg(op, "strides", o.strides), d = pair_arg(op, "dilation_rate", o.dilation_rate);
  Conv2dParams p;
  p.stride_h = s[0];
  p.stride_w = s[1];
  p.dilation_h = d[0];
  p.dilation_w = d[1];
  p.groups = o.groups;
  p.relu = o.fused_relu;
  const int64_t keh = (w[0] - 1) * d[0] + 1, kew = (w[1] - 1) * d[1] + 1;
  std::tie(p.pad_top, p.pad_bottom) = axis_padding(op, o.padding, 0, x[1], keh, s[0]);
  std::tie(p.pad_left, p.pad_right) = axis_padding(op, o.padding, 1, x[2], kew, s[1]);
  return p;
}

void check_conv_shapes(std::string_view op, const Shape& x, const Shape& w, const Conv2dParams& p) {
  if (x.size() != 4) fail<ShapeError>(op, ": expected an input of rank 4 (N, H, W, C), got ", x);
  if (w.size() != 4)
    fail<ShapeError>(op, ": expected a kernel of rank 4 (kh, kw, in, out), got ", w);
  if (p.groups <= 0) fail<ValueError>(op, ": groups must be positive, got ", p.groups);
  if (w[2] * p.groups != x[3])
    fail<ShapeError>(op, ": kernel ", w, " with groups = ", p.groups, " expects ", w[2] * p.groups,
                     " input channels, got input ", x);
  if (w[3] % p.groups != 0)
    fail<ShapeError>(op, ": kernel ", w, " has ", w[3],
                     " filters, not divisible by groups = ", p.groups);
  Shape y = conv_out_shape(x, w, p);
  if (y[1] <= 0 || y[2] <= 0)
    fail<ShapeError>(op, ": input ", x, " is smaller than the dilated kernel ", w, " (output ", y,
                     ")");
}

Tensor conv2d_p(const Tensor& x, const Tensor& w, const Conv2dParams& p,
                const Tensor& b = Tensor());
Tensor conv_bwd_input_p(const Tensor& gy, const Tensor& w, const Shape& x_shape,
                        const Conv2dParams& p);
Tensor conv_bwd_weight_p(const Tensor& x, const Tensor& gy, const Shape& w_shape,
                         const Conv2dParams& p);

DType floating_of(std::string_view op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  DType dt = promote_types(a.dtype(), b.dtype());
  if (!is_floating(dt))
    fail<DTypeError>(op, ": needs floating tensors, got ", a.dtype(), " and ", b.dtype());
  return dt;
}

/// conv2d over NHWC with resolved geometry; b (CO) or undefined is added in the same kernel.
Tensor conv2d_p(const Tensor& x, const Tensor& w, const Conv2dParams& p, const Tensor& b) {
  check_conv_shapes("conv2d", x.shape(), w.shape(), p);
  const DType dt = floating_of("conv2d", x, w);
  if (b.defined()) {
    check_same_device("conv2d", x, b);
    if (b.shape() != Shape{w.shape()[3]})
      fail<ShapeError>("conv2d: bias must be (", w.shape()[3], ") for kernel ", w.shape(), ", got ",
                       b.shape());
    check_floating("conv2d", b);
  }
  Tensor y = Tensor::empty(conv_out_shape(x.shape(), w.shape(), p), dt, x.device());
  kernel_backend("conv2d", Kernel::Conv2d, x, dt).conv2d(contiguous_raw(cast_raw(x, dt)), contiguous_raw(cast_raw(w, dt)),
                       b.defined() ? contiguous_raw(cast_raw(b.detach(), dt)) : Tensor(), y, p);
  if (autograd::needs_grad(x, w, b)) {
    SavedTensor sx = w.requires_grad() ? SavedTensor(x) : SavedTensor();
    SavedTensor sw = x.requires_grad() ? SavedTensor(w) : SavedTensor();
    // A fused relu's backward masks the gradient where the output is 0.
    SavedTensor sy = p.relu ? SavedTensor(y, true, 0) : SavedTensor();
    Conv2dParams geom = p;  // the adjoints are plain convolutions
    geom.relu = false;
    autograd::record("conv2d", {&x, &w, &b}, {&y},
                     [sx, sw, sy, p = geom, xs = x.shape(), ws = w.shape(),
                      bdt = b.defined() ? b.dtype() : dt](const Tensor& g_out) {
                       Tensor g = g_out;
                       if (sy.defined()) g = relu_backward("conv2d", g_out, sy.unpack());
                       return std::vector<Tensor>{
                           need(0) ? conv_bwd_input_p(g, sw.unpack(), xs, p) : Tensor(),
                           need(1) ? conv_bwd_weight_p(sx.unpack(), g, ws, p) : Tensor(),
                           need(2) ? cast(sum(g, {0, 1, 2}), bdt) : Tensor()};
                     });
  }
  return y;
}

Tensor conv_bwd_input_p(const Tensor& gy, const Tensor& w, const Shape& xs, const Conv2dParams& p) {
  check_conv_shapes("conv2d_backward_input", xs, w.shape(), p);
  Shape ys = conv_out_shape(xs, w.shape(), p);
  if (gy.shape() != ys)
    fail<ShapeError>("conv2d_backward_input: gradient of shape ", gy.shape(),
                     " does not match the output ", ys, " of input ", xs, " and kernel ",
                     w.shape());
  const DType dt = floating_of("conv2d_backward_input", gy, w);
  Tensor gx = Tensor::empty(xs, dt, gy.device());
  kernel_backend("conv2d", Kernel::Conv2dBackwardInput, gy, dt).conv2d_backward_input(contiguous_raw(cast_raw(gy, dt)),
                                       contiguous_raw(cast_raw(w, dt)), gx, p);
  if (autograd::needs_grad(gy, w)) {
    SavedTensor sgy = w.requires_grad() ? SavedTensor(gy) : SavedTensor();
    SavedTensor sw = gy.requires_grad() ? SavedTensor(w) : SavedTensor();
    autograd::record("conv2d_backward_input", {&gy, &w}, {&gx},
                     [sgy, sw, p, ws = w.shape()](const Tensor& g) {
                       return std::vector<Tensor>{
                           need(0) ? conv2d_p(g, sw.unpack(), p) : Tensor(),
                           need(1) ? conv_bwd_weight_p(g, sgy.unpack(), ws, p) : Tensor()};
                     });
  }
  return gx;
}

Tensor conv_bwd_weight_p(const Tensor& x, const Tensor& gy, const Shape& ws,
                         const Conv2dParams& p) {
  check_conv_shapes("conv2d_backward_weight", x.shape(), ws, p);
  Shape ys = conv_out_shape(x.shape(), ws, p);
  if (gy.shape() != ys)
    fail<ShapeError>("conv2d_backward_weight: gradient of shape ", gy.shape(),
                     " does not match the output ", ys, " of input ", x.shape(), " and kernel ",
                     ws);
  const DType dt = floating_of("conv2d_backward_weight", x, gy);
  Tensor gw = Tensor::empty(ws, dt, x.device());
  kernel_backend("conv2d", Kernel::Conv2dBackwardWeight, x, dt).conv2d_backward_weight(contiguous_raw(cast_raw(x, dt)),
                                       contiguous_raw(cast_raw(gy, dt)), gw, p);
  if (autograd::needs_grad(x, gy)) {
    SavedTensor sx = gy.requires_grad() ? SavedTensor(x) : SavedTensor();
    SavedTensor sgy = x.requires_grad() ? SavedTensor(gy) : SavedTensor();
    autograd::record(
        "conv2d_backward_weight", {&x, &gy}, {&gw}, [sx, sgy, p, xs = x.shape()](const Tensor& g) {
          return std::vector<Tensor>{need(0) ? conv_bwd_input_p(sgy.unpack(), g, xs, p) : Tensor(),
                                     need(1) ? conv2d_p(sx.unpack(), g, p) : Tensor()};
        });
  }
  return gw;
}

bool channels_first(std::string_view op, const std::string& f) {
  if (f == "channels_last") return false;
  if (f == "channels_first") return true;
  fail<ValueError>(op, ": data_format must be channels_last or channels_first, got '", f, "'");
}
}  // namespace

TG_REGISTER_OP("conv2d", "conv2d", true);
Tensor conv2d(const Tensor& x_in, const Tensor& w, const Conv2dOptions& o) {
  return conv2d(x_in, w, Tensor(), o);
}

Tensor conv2d(const Tensor& x_in, const Tensor& w, const Tensor& bias, const Conv2dOptions& o) {
  check_defined("conv2d", x_in);
  check_defined("conv2d", w, "kernel");
  const bool cf = channels_first("conv2d", o.data_format);
  if (x_in.dim() != 4) fail<ShapeError>("conv2d: expected an input of rank 4, got ", x_in.shape());
  Tensor x = cf ? x_in.permute({0, 2, 3, 1}) : x_in;
  if (w.dim() != 4)
    fail<ShapeError>("conv2d: expected a kernel of rank 4 (kh, kw, in, out), got ", w.shape());
  Tensor y = conv2d_p(x, w, resolve("conv2d", x.shape(), w.shape(), o), bias);
  return cf ? y.permute({0, 3, 1, 2}) : y;
}

TG_REGISTER_OP("conv2d_backward_input", "conv2d_backward_input", true);
Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const Shape& xs,
                             const Conv2dOptions& o) {
  check_defined("conv2d_backward_input", gy, "gradient");
  check_defined("conv2d_backward_input", w, "kernel");
  if (xs.size() != 4 || w.dim() != 4)
    fail<ShapeError>("conv2d_backward_input: expected rank-4 input shape and kernel, got ", xs,
                     " and ", w.shape());
  if (o.data_format != "channels_last")
    fail<ValueError>("conv2d_backward_input: only channels_last");
  if (o.fused_relu) fail<ValueError>("conv2d_backward_input: fused_relu applies to conv2d only");
  return conv_bwd_input_p(gy, w, xs, resolve("conv2d_backward_input", xs, w.shape(), o));
}

TG_REGISTER_OP("conv2d_backward_weight", "conv2d_backward_weight", true);
Tensor conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Shape& ws,
                              const Conv2dOptions& o) {
  check_defined("conv2d_backward_weight", x);
  check_defined("conv2d_backward_weight", gy, "gradient");
  if (x.dim() != 4 || ws.size() != 4)
    fail<ShapeError>("conv2d_backward_weight: expected rank-4 input and kernel shape, got ",
                     x.shape(), " and ", ws);
  if (o.data_format != "channels_last")
    fail<ValueError>("conv2d_backward_weight: only channels_last");
  if (o.fused_relu) fail<ValueError>("conv2d_backward_weight: fused_relu applies to conv2d only");
  return conv_bwd_weight_p(x, gy, ws, resolve("conv2d_backward_weight", x.shape(), ws, o));
}

TG_REGISTER_OP("conv1d", "conv2d", true);
Tensor conv1d(const Tensor& x_in, const Tensor& w, const Conv1dOptions& o) {
  return conv1d(x_in, w, Tensor(), o);
}

Tensor conv1d(const Tensor& x_in, const Tensor& w, const Tensor& bias, const Conv1dOptions& o) {
  ErrorContext ctx("conv1d");
  check_defined("conv1d", x_in);
  check_defined("conv1d", w, "kernel");
  check_same_device("conv1d", {&x_in, &w, &bias});
  const bool cf = channels_first("conv1d", o.data_format);
  if (x_in.dim() != 3)
    fail<ShapeError>("conv1d: expected an input of rank 3 (N, W, C), got ", x_in.shape());
  if (w.dim() != 3)
    fail<ShapeError>("conv1d: expected a kernel of rank 3 (k, in, out), got ", w.shape());
  if (o.strides <= 0 || o.dilation_rate <= 0)
    fail<ValueError>("conv1d: strides and dilation_rate must be positive, got ", o.strides, " and ",
                     o.dilation_rate);
  Tensor x = cf ? x_in.permute({0, 2, 1}) : x_in;
  if (o.groups > 0 && w.shape()[1] * o.groups != x.shape()[2])
    fail<ShapeError>("conv1d: kernel ", w.shape(), " with groups = ", o.groups, " expects ",
                     w.shape()[1] * o.groups, " input channels, got input ", x_in.shape());
  Conv2dOptions o2{.strides = {1, o.strides},
                   .padding = o.padding,
                   .dilation_rate = {1, o.dilation_rate},
                   .groups = o.groups,
                   .fused_relu = o.fused_relu};
  if (o.padding.mode == "causal") {
    const int64_t k_eff = (w.shape()[0] - 1) * o.dilation_rate + 1;
    o2.padding = Padding(std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {k_eff - 1, 0}});
  } else if (o.padding.mode == "explicit") {
    if (o.padding.pads.size() != 1)
      fail<ValueError>("conv1d: explicit padding needs one (before, after) pair");
    o2.padding = Padding(std::vector<std::pair<int64_t, int64_t>>{{0, 0}, o.padding.pads[0]});
  }
  Tensor y = conv2d(x.unsqueeze(1), w.unsqueeze(0), bias, o2).squeeze(1);
  return cf ? y.permute({0, 2, 1}) : y;
}

TG_REGISTER_OP("conv2d_transpose", "conv2d_backward_input", true);
Tensor conv2d_transpose(const Tensor& x_in, const Tensor& w, const Conv2dTransposeOptions& o) {
  ErrorContext ctx("conv2d_transpose");
  check_defined("conv2d_transpose", x_in);
  check_defined("conv2d_transpose", w, "kernel");
  check_same_device("conv2d_transpose", x_in, w);
  const bool cf = channels_first("conv2d_transpose", o.data_format);
  if (x_in.dim() != 4)
    fail<ShapeError>("conv2d_transpose: expected an input of rank 4, got ", x_in.shape());
  if (w.dim() != 4)
    fail<ShapeError>("conv2d_transpose: expected a kernel of rank 4 (kh, kw, out, in), got ",
                     w.shape());
  Tensor x = cf ? x_in.permute({0, 2, 3, 1}) : x_in;
  if (w.shape()[3] != x.shape()[3])
    fail<ShapeError>("conv2d_transpose: kernel ", w.shape(), " expects ", w.shape()[3],
                     " input channels, got input ", x.shape());
  auto s = pair_arg("conv2d_transpose", "strides", o.strides);
  auto d = pair_arg("conv2d_transpose", "dilation_rate", o.dilation_rate);
  if (o.padding.mode != "same" && o.padding.mode != "valid")
    fail<ValueError>("conv2d_transpose: padding must be valid or same, got '", o.padding.mode, "'");
  Shape ys{x.shape()[0], 0, 0, w.shape()[2]};
  Conv2dParams p;
  p.stride_h = s[0];
  p.stride_w = s[1];
  p.dilation_h = d[0];
  p.dilation_w = d[1];
  for (int a = 0; a < 2; ++a) {
    const int64_t in = x.shape()[1 + a], k_eff = (w.shape()[a] - 1) * d[a] + 1, st = s[a];
    const int64_t len =
        o.padding.mode == "same" ? in * st : in * st + std::max<int64_t>(k_eff - st, 0);
    ys[1 + a] = len;
    // Padding of the forward convolution (len → in) that this op is the adjoint of.
    int64_t total =
        o.padding.mode == "same" ? std::max<int64_t>((in - 1) * st + k_eff - len, 0) : 0;
    (a == 0 ? p.pad_top : p.pad_left) = total / 2;
    (a == 0 ? p.pad_bottom : p.pad_right) = total - total / 2;
  }
  Tensor y = conv_bwd_input_p(x, w, ys, p);
  return cf ? y.permute({0, 3, 1, 2}) : y;
}

}  // namespace tg
