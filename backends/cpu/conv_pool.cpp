// oneDNN convolution (forward, backward data, backward weights) and pooling for float32 NHWC.
#include <algorithm>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tapegrad/backends/cpu/cpu_backend.hpp"
#include "tapegrad/backends/cpu/cpu_backend_impl.hpp"

namespace tg {

namespace {
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

/// Descriptors and geometry of one convolution problem.
struct ConvGeometry {
  memory::desc src, dst, user_w, any_w;
  memory::desc bias;  // (CO) for a forward with bias, else empty
  bool relu = false;  // a forward with the relu post-op
  memory::dims strides, dilates, pad_l, pad_r;
  std::string key;
};

/// x (N, H, W, CI), y (N, OH, OW, CO), w (KH, KW, CI / G, CO) in Keras layout; with_bias: a
/// forward that adds a (CO) bias.
ConvGeometry geometry(const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& p,
                      bool with_bias = false) {
  ConvGeometry g;
  const int64_t n = x[0], h = x[1], wd = x[2], ci = x[3], oh = y[1], ow = y[2], co = y[3];
  const int64_t kh = w[0], kw = w[1], cig = w[2], G = p.groups, cog = co / G;
  g.src = memory::desc({n, ci, h, wd}, dt::f32, tag::nhwc);
  g.dst = memory::desc({n, co, oh, ow}, dt::f32, tag::nhwc);
  if (G == 1) {
    g.user_w = memory::desc({co, ci, kh, kw}, dt::f32, tag::hwio);
    g.any_w = memory::desc({co, ci, kh, kw}, dt::f32, tag::any);
  } else {
    // (G, O/G, I/G, KH, KW) over Keras' (kh, kw, i, g·O/G + o) storage.
    g.user_w = memory::desc({G, cog, cig, kh, kw}, dt::f32,
                            memory::dims{cog, 1, co, kw * cig * co, cig * co});
    g.any_w = memory::desc({G, cog, cig, kh, kw}, dt::f32, tag::any);
  }
  g.strides = {p.stride_h, p.stride_w};
  g.dilates = {p.dilation_h - 1, p.dilation_w - 1};
  g.pad_l = {p.pad_top, p.pad_left};
  g.pad_r = {p.pad_bottom, p.pad_right};
  g.key = "conv:" + shape_str(x) + shape_str(w) + shape_str(y) + std::to_string(p.stride_h) + "," +
          std::to_string(p.stride_w) + "," + std::to_string(p.dilation_h) + "," +
          std::to_string(p.dilation_w) + "," + std::to_string(p.pad_top) + "," +
          std::to_string(p.pad_bottom) + "," + std::to_string(p.pad_left) + "," +
          std::to_string(p.pad_right) + "," + std::to_string(G);
  if (with_bias) {
    g.bias = memory::desc({co}, dt::f32, tag::x);
    g.key += ",bias";
  }
  if (p.relu) {
    g.relu = true;
    g.key += ",relu";
  }
  return g;
}

/// The fused relu as a oneDNN post-op (an empty attribute without it).
dnnl::primitive_attr post_ops_of(const ConvGeometry& g) {
  dnnl::primitive_attr attr;
  if (g.relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

dnnl::convolution_forward::primitive_desc forward_pd(const ConvGeometry& g, const dnnl::engine& e) {
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                    dnnl::algorithm::convolution_direct, g.src, g.any_w, g.bias,
                                    g.dst, g.strides, g.dilates, g.pad_l, g.pad_r);
  return dnnl::convolution_forward::primitive_desc(d, post_ops_of(g), e);
}

bool use_onednn(const Tensor& t) { return t.dtype() == kFloat32; }

/// oneDNN's Winograd forward (F(4×4, 3×3): 2.25× fewer multiplications) for a 3×3, stride-1,
/// dense, ungrouped convolution with channel counts that fill its 16-wide blocks, in the blocked
/// activation layouts it needs; a plain entry otherwise (or when oneDNN has no Winograd here).
/// W3's second convolution runs in 0.31 ms this way against 0.56 ms direct, reorders included
/// in neither (bench/compare_onednn_training's layout table).
std::optional<ConvEntry> winograd_entry(const ConvGeometry& g, const Shape& x, const Shape& w,
                                        const Conv2dParams& p, const dnnl::engine& e) {
  if (w[0] != 3 || w[1] != 3 || p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 ||
      p.dilation_w != 1 || p.groups != 1 || x[3] % 16 != 0 || w[3] % 16 != 0)
    return std::nullopt;
  try {
    memory::desc any_src(g.src.dims(), dt::f32, tag::any), any_dst(g.dst.dims(), dt::f32, tag::any);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_winograd, any_src, g.any_w,
                                      g.bias, any_dst, g.strides, g.dilates, g.pad_l, g.pad_r);
    dnnl::convolution_forward::primitive_desc pd(d, post_ops_of(g), e);
    ConvEntry c{dnnl::convolution_forward(pd), pd.weights_desc(), g.user_w};
    c.prim_src = pd.src_desc();
    c.prim_dst = pd.dst_desc();
    if (c.prim_src != g.src)
      c.to_src = dnnl::reorder(dnnl::reorder::primitive_desc(e, g.src, e, c.prim_src));
    if (c.prim_dst != g.dst)
      c.from_dst = dnnl::reorder(dnnl::reorder::primitive_desc(e, c.prim_dst, e, g.dst));
    return c;
  } catch (const dnnl::error&) {
    return std::nullopt;  // no Winograd implementation for this problem on this CPU
  }
}
}  // namespace

void CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                        const Conv2dParams& p) {
  if (!use_onednn(x)) return ReferenceBackend::conv2d(x, w, bias, y, p);
  ConvGeometry g = geometry(x.shape(), w.shape(), y.shape(), p, bias.defined());
  ConvEntry& e = impl_->conv_entry("fwd" + g.key, [&] {
    if (auto wino = winograd_entry(g, x.shape(), w.shape(), p, impl_->engine)) return *wino;
    // The direct convolution adds the bias and applies the relu as passes of their own: inside
    // the primitive (bias argument, relu post-op) oneDNN 2.6's brgconv ran W3's first layer in
    // 0.29–0.33 ms instead of 0.12–0.13 ms, more than the separate passes cost (a row loop and
    // an in-place eltwise, ≈ 0.1 ms together). The Winograd kernel takes both at no such cost.
    ConvGeometry d = g;
    d.relu = false;
    d.bias = memory::desc();
    auto pd = forward_pd(d, impl_->engine);
    ConvEntry c{dnnl::convolution_forward(pd), pd.weights_desc(), g.user_w};
    c.bias_after = bias.defined();
    c.relu_after = g.relu;
    return c;
  });
  std::unordered_map<int, memory> args;
  if (bias.defined() && !e.bias_after) args[DNNL_ARG_BIAS] = impl_->mem(g.bias, bias);
  if (!e.to_src && !e.from_dst) {
    args[DNNL_ARG_SRC] = impl_->mem(g.src, x);
    args[DNNL_ARG_DST] = impl_->mem(g.dst, y);
    impl_->run_conv("convolution forward", e, DNNL_ARG_WEIGHTS, w, /*weights_out=*/false, args);
    if (e.bias_after) binary(BinaryOp::Add, y, bias.expand(y.shape()), y);
    if (e.relu_after) unary(UnaryOp::Relu, y, y, 0, 0);
    return;
  }
  // Blocked activations: x reordered in, y reordered out, around the primitive.
  Tensor xs = e.to_src ? scratch_tensor(e.prim_src) : x;
  Tensor ys = e.from_dst ? scratch_tensor(e.prim_dst) : y;
  memory xm = impl_->mem(e.to_src ? e.prim_src : g.src, xs);
  memory ym = impl_->mem(e.from_dst ? e.prim_dst : g.dst, ys);
  try {
    if (e.to_src) {
      memory user_x = impl_->mem(g.src, x);
      e.to_src.execute(impl_->stream, user_x, xm);
    }
  } catch (const dnnl::error& err) {
    fail<BackendError>("oneDNN: reordering a convolution input failed: ", err.what());
  }
  args[DNNL_ARG_SRC] = xm;
  args[DNNL_ARG_DST] = ym;
  impl_->run_conv("convolution forward", e, DNNL_ARG_WEIGHTS, w, /*weights_out=*/false, args);
  try {
    if (e.from_dst) {
      memory user_y = impl_->mem(g.dst, y);
      e.from_dst.execute(impl_->stream, ym, user_y);
      impl_->stream.wait();
    }
  } catch (const dnnl::error& err) {
    fail<BackendError>("oneDNN: reordering a convolution output failed: ", err.what());
  }
}

void CpuBackend::conv2d_backward_input(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                       const Conv2dParams& p) {
  if (!use_onednn(gy)) return ReferenceBackend::conv2d_backward_input(gy, w, gx, p);
  ConvGeometry g = geometry(gx.shape(), w.shape(), gy.shape(), p);
  ConvEntry& e = impl_->conv_entry("bwd_data" + g.key, [&] {
    auto hint = forward_pd(g, impl_->engine);
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, g.src, g.any_w,
                                            g.dst, g.strides, g.dilates, g.pad_l, g.pad_r);
    dnnl::convolution_backward_data::primitive_desc pd(d, impl_->engine, hint);
    return ConvEntry{dnnl::convolution_backward_data(pd), pd.weights_desc(), g.user_w};
  });
  impl_->run_conv(
      "convolution backward data", e, DNNL_ARG_WEIGHTS, w, false,
      {{DNNL_ARG_DIFF_DST, impl_->mem(g.dst, gy)}, {DNNL_ARG_DIFF_SRC, impl_->mem(g.src, gx)}});
}

void CpuBackend::conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                        const Conv2dParams& p) {
  if (!use_onednn(x)) return ReferenceBackend::conv2d_backward_weight(x, gy, gw, p);
  ConvGeometry g = geometry(x.shape(), gw.shape(), gy.shape(), p);
  ConvEntry& e = impl_->conv_entry("bwd_weights" + g.key, [&] {
    auto hint = forward_pd(g, impl_->engine);
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, g.src, g.any_w,
                                               g.dst, g.strides, g.dilates, g.pad_l, g.pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(d, impl_->engine, hint);
    return ConvEntry{dnnl::convolution_backward_weights(pd), pd.diff_weights_desc(), g.user_w};
  });
  impl_->run_conv(
      "convolution backward weights", e, DNNL_ARG_DIFF_WEIGHTS, gw, true,
      {{DNNL_ARG_SRC, impl_->mem(g.src, x)}, {DNNL_ARG_DIFF_DST, impl_->mem(g.dst, gy)}});
}

namespace {
struct PoolGeometry {
  memory::desc src, dst;
  memory::dims strides, kernel, pad_l, pad_r;
  std::string key;
};
PoolGeometry pool_geometry(const Shape& x, const Shape& y, const Pool2dParams& p) {
  PoolGeometry g;
  g.src = memory::desc({x[0], x[3], x[1], x[2]}, dt::f32, tag::nhwc);
  g.dst = memory::desc({y[0], y[3], y[1], y[2]}, dt::f32, tag::nhwc);
  g.strides = {p.stride_h, p.stride_w};
  g.kernel = {p.kernel_h, p.kernel_w};
  g.pad_l = {p.pad_top, p.pad_left};
  g.pad_r = {p.pad_bottom, p.pad_right};
  g.key = shape_str(x) + shape_str(y) + std::to_string(p.kernel_h) + "," +
          std::to_string(p.kernel_w) + "," + std::to_string(p.stride_h) + "," +
          std::to_string(p.stride_w) + "," + std::to_string(p.pad_top) + "," +
          std::to_string(p.pad_bottom) + "," + std::to_string(p.pad_left) + "," +
          std::to_string(p.pad_right);
  return g;
}
dnnl::pooling_forward::primitive_desc pool_fwd_pd(const PoolGeometry& g, dnnl::algorithm alg,
                                                  dnnl::prop_kind pk, const dnnl::engine& e) {
  dnnl::pooling_forward::desc d(pk, alg, g.src, g.dst, g.strides, g.kernel, g.pad_l, g.pad_r);
  return dnnl::pooling_forward::primitive_desc(d, e);
}
}  // namespace

void CpuBackend::max_pool2d(const Tensor& x, const Tensor& y, const Tensor& indices,
                            const Pool2dParams& p) {
  if (!use_onednn(x)) return ReferenceBackend::max_pool2d(x, y, indices, p);
  if (indices.defined()) {
    // Training: a loop that records the winners as flat offsets (oneDNN's workspace is opaque),
    // vectorised over the channels and parallel over output rows.
    const int64_t n = x.shape()[0], h = x.shape()[1], w = x.shape()[2], c = x.shape()[3];
    const int64_t oh = y.shape()[1], ow = y.shape()[2];
    const float* xs = static_cast<const float*>(x.storage()->data()) + x.offset();
    float* ys = static_cast<float*>(y.storage()->data()) + y.offset();
    int64_t* ix = static_cast<int64_t*>(indices.storage()->data()) + indices.offset();
    const int64_t rows = n * oh;
    // Per channel the winner's offset from the window's first cell, in 32-bit lanes so that
    // the channel loop vectorises (larger windows than that take the reference loop).
    if (((p.kernel_h - 1) * w + p.kernel_w) * c >= (int64_t{1} << 31))
      return ReferenceBackend::max_pool2d(x, y, indices, p);
#pragma omp parallel if (y.numel() >= kEltwiseThreshold)
    {
      std::vector<int32_t> rel_buf(static_cast<size_t>(c));
      int32_t* __restrict rel = rel_buf.data();
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t b = r / oh, oy = r % oh;
        const int64_t y0 = std::max<int64_t>(oy * p.stride_h - p.pad_top, 0);
        const int64_t y1 = std::min(oy * p.stride_h - p.pad_top + p.kernel_h, h);
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t x0 = std::max<int64_t>(ox * p.stride_w - p.pad_left, 0);
          const int64_t x1 = std::min(ox * p.stride_w - p.pad_left + p.kernel_w, w);
          float* __restrict best = ys + (r * ow + ox) * c;
          int64_t* __restrict arg = ix + (r * ow + ox) * c;
          if (y0 >= y1 || x0 >= x1) {  // a window entirely in the padding
            std::fill(best, best + c, 0.f);
            std::fill(arg, arg + c, int64_t{0});
            continue;
          }
          const int64_t first = ((b * h + y0) * w + x0) * c;
          for (int64_t ch = 0; ch < c; ++ch) {
            best[ch] = xs[first + ch];
            rel[ch] = 0;
          }
          for (int64_t yy = y0; yy < y1; ++yy)
            for (int64_t xx = (yy == y0 ? x0 + 1 : x0); xx < x1; ++xx) {
              const int32_t off = static_cast<int32_t>(((yy - y0) * w + (xx - x0)) * c);
              const float* __restrict v = xs + first + off;
              for (int64_t ch = 0; ch < c; ++ch) {
                // NaN wins (and stays), as in the reference backend.
                const float vv = v[ch], bv = best[ch];
                const bool take = (vv > bv) | ((vv != vv) & (bv == bv));
                best[ch] = take ? vv : bv;
                rel[ch] = take ? off : rel[ch];
              }
            }
          for (int64_t ch = 0; ch < c; ++ch) arg[ch] = first + ch + rel[ch];
        }
      }
    }
    return;
  }
  PoolGeometry g = pool_geometry(x.shape(), y.shape(), p);
  dnnl::primitive prim = impl_->get("maxpool:" + g.key, [&] {
    return dnnl::pooling_forward(pool_fwd_pd(g, dnnl::algorithm::pooling_max,
                                             dnnl::prop_kind::forward_inference, impl_->engine));
  });
  if (!prim) return ReferenceBackend::max_pool2d(x, y, indices, p);
  impl_->run("max pooling", prim,
             {{DNNL_ARG_SRC, impl_->mem(g.src, x)}, {DNNL_ARG_DST, impl_->mem(g.dst, y)}});
}

void CpuBackend::max_pool2d_backward(const Tensor& gy, const Tensor& indices, const Tensor& gx,
                                     const Pool2dParams& p) {
  if (gy.dtype() != kFloat32 || p.stride_h < p.kernel_h || p.stride_w < p.kernel_w)
    return ReferenceBackend::max_pool2d_backward(gy, indices, gx, p);
  // Windows do not overlap, so each output row's winners lie in input rows of its own: the
  // rows scatter in parallel without two threads ever adding into the same cell.
  fill(gx, 0.0);
  const int64_t oh = gy.shape()[1], row = gy.shape()[2] * gy.shape()[3];
  const int64_t rows = gy.shape()[0] * oh;
  const float* g = static_cast<const float*>(gy.storage()->data()) + gy.offset();
  const int64_t* ix = static_cast<const int64_t*>(indices.storage()->data()) + indices.offset();
  float* out = static_cast<float*>(gx.storage()->data()) + gx.offset();
#pragma omp parallel for schedule(static) if (gy.numel() >= kEltwiseThreshold)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = r * row; i < (r + 1) * row; ++i) out[ix[i]] += g[i];
}

void CpuBackend::avg_pool2d(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  if (!use_onednn(x)) return ReferenceBackend::avg_pool2d(x, y, p);
  PoolGeometry g = pool_geometry(x.shape(), y.shape(), p);
  dnnl::primitive prim = impl_->get("avgpool:" + g.key, [&] {
    return dnnl::pooling_forward(pool_fwd_pd(g, dnnl::algorithm::pooling_avg_exclude_padding,
                                             dnnl::prop_kind::forward_training, impl_->engine));
  });
  if (!prim) return ReferenceBackend::avg_pool2d(x, y, p);
  impl_->run("average pooling", prim,
             {{DNNL_ARG_SRC, impl_->mem(g.src, x)}, {DNNL_ARG_DST, impl_->mem(g.dst, y)}});
}

void CpuBackend::avg_pool2d_backward(const Tensor& gy, const Tensor& gx, const Pool2dParams& p) {
  if (!use_onednn(gy)) return ReferenceBackend::avg_pool2d_backward(gy, gx, p);
  PoolGeometry g = pool_geometry(gx.shape(), gy.shape(), p);
  dnnl::primitive prim = impl_->get("avgpool_bwd:" + g.key, [&] {
    auto hint = pool_fwd_pd(g, dnnl::algorithm::pooling_avg_exclude_padding,
                            dnnl::prop_kind::forward_training, impl_->engine);
    dnnl::pooling_backward::desc d(dnnl::algorithm::pooling_avg_exclude_padding, g.src, g.dst,
                                   g.strides, g.kernel, g.pad_l, g.pad_r);
    return dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(d, impl_->engine, hint));
  });
  if (!prim) return ReferenceBackend::avg_pool2d_backward(gy, gx, p);
  impl_->run(
      "average pooling backward", prim,
      {{DNNL_ARG_DIFF_DST, impl_->mem(g.dst, gy)}, {DNNL_ARG_DIFF_SRC, impl_->mem(g.src, gx)}});
}

namespace {
dnnl::batch_normalization_forward::primitive_desc bn_fwd_pd(const memory::desc& md, double eps,
                                                            bool training, const dnnl::engine& e) {
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  if (!training) flags = flags | dnnl::normalization_flags::use_global_stats;
  dnnl::batch_normalization_forward::desc d(
      training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, md,
      static_cast<float>(eps), flags);
  return dnnl::batch_normalization_forward::primitive_desc(d, e);
}
std::string bn_key(const char* what, const Tensor& x, double eps, bool training) {
  return std::string(what) + shape_str(x.shape()) + std::to_string(eps) + (training ? "t" : "i");
}
}  // namespace

void CpuBackend::batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                            const Tensor& mean, const Tensor& var, double eps, bool training,
                            const Tensor& y) {
  if (!use_onednn(x))
    return ReferenceBackend::batch_norm(x, gamma, beta, mean, var, eps, training, y);
  const int64_t c = x.shape().back();
  memory::desc md({x.numel() / c, c}, dt::f32, tag::nc), vmd({c}, dt::f32, tag::a);
  dnnl::primitive prim = impl_->get(bn_key("bn_fwd", x, eps, training), [&] {
    return dnnl::batch_normalization_forward(bn_fwd_pd(md, eps, training, impl_->engine));
  });
  if (!prim) return ReferenceBackend::batch_norm(x, gamma, beta, mean, var, eps, training, y);
  impl_->run("batch normalization", prim,
             {{DNNL_ARG_SRC, impl_->mem(md, x)},
              {DNNL_ARG_DST, impl_->mem(md, y)},
              {DNNL_ARG_SCALE, impl_->mem(vmd, gamma)},
              {DNNL_ARG_SHIFT, impl_->mem(vmd, beta)},
              {DNNL_ARG_MEAN, impl_->mem(vmd, mean)},
              {DNNL_ARG_VARIANCE, impl_->mem(vmd, var)}});
}

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& gamma,
                                     const Tensor& mean, const Tensor& var, double eps,
                                     const Tensor& gx, const Tensor& ggamma, const Tensor& gbeta) {
  if (!use_onednn(x))
    return ReferenceBackend::batch_norm_backward(x, gy, gamma, mean, var, eps, gx, ggamma, gbeta);
  const int64_t c = x.shape().back();
  memory::desc md({x.numel() / c, c}, dt::f32, tag::nc), vmd({c}, dt::f32, tag::a);
  // The primitive computes the data and scale gradients; the shift gradient is a column sum.
  dnnl::primitive prim = impl_->get(bn_key("bn_bwd", x, eps, true), [&] {
    dnnl::batch_normalization_forward::desc fd(dnnl::prop_kind::forward_training, md,
                                               static_cast<float>(eps),
                                               dnnl::normalization_flags::use_scale);
    dnnl::batch_normalization_forward::primitive_desc hint(fd, impl_->engine);
    dnnl::batch_normalization_backward::desc d(dnnl::prop_kind::backward, md, md,
                                               static_cast<float>(eps),
                                               dnnl::normalization_flags::use_scale);
    return dnnl::batch_normalization_backward(
        dnnl::batch_normalization_backward::primitive_desc(d, impl_->engine, hint));
  });
  if (!prim)
    return ReferenceBackend::batch_norm_backward(x, gy, gamma, mean, var, eps, gx, ggamma, gbeta);
  impl_->run("batch normalization backward", prim,
             {{DNNL_ARG_SRC, impl_->mem(md, x)},
              {DNNL_ARG_DIFF_DST, impl_->mem(md, gy)},
              {DNNL_ARG_SCALE, impl_->mem(vmd, gamma)},
              {DNNL_ARG_MEAN, impl_->mem(vmd, mean)},
              {DNNL_ARG_VARIANCE, impl_->mem(vmd, var)},
              {DNNL_ARG_DIFF_SRC, impl_->mem(md, gx)},
              {DNNL_ARG_DIFF_SCALE, impl_->mem(vmd, ggamma)}});
  reduce(ReduceOp::Sum, gy,
         Tensor::make_view(gbeta.storage(), {1, c}, {c, 1}, gbeta.offset(), kFloat32));
}

}  // namespace tg
