// Reference convolution and pooling over contiguous NHWC tensors: direct loops.
#include <cmath>
#include <limits>
#include <vector>

#include "tapegrad/backends/reference/reference_backend.hpp"

namespace tg {

namespace {
/// Sizes of a convolution, read from its tensors.
struct ConvDims {
  int64_t n, h, w, ci, oh, ow, co, kh, kw, cig, cog;
  ConvDims(const Tensor& x, const Tensor& wt, const Tensor& y, const Conv2dParams& p)
      : n(x.shape()[0]),
        h(x.shape()[1]),
        w(x.shape()[2]),
        ci(x.shape()[3]),
        oh(y.shape()[1]),
        ow(y.shape()[2]),
        co(y.shape()[3]),
        kh(wt.shape()[0]),
        kw(wt.shape()[1]),
        cig(wt.shape()[2]),
        cog(y.shape()[3] / p.groups) {}
};

/// Calls f(x_index, w_index, y_index) for every multiply-add of the convolution.
template <class F>
void for_each_tap(const ConvDims& d, const Conv2dParams& p, F&& f) {
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t ky = 0; ky < d.kh; ++ky) {
          const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
          if (iy < 0 || iy >= d.h) continue;
          for (int64_t kx = 0; kx < d.kw; ++kx) {
            const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
            if (ix < 0 || ix >= d.w) continue;
            const int64_t xbase = ((b * d.h + iy) * d.w + ix) * d.ci;
            const int64_t wbase = (ky * d.kw + kx) * d.cig * d.co;
            const int64_t ybase = ((b * d.oh + oy) * d.ow + ox) * d.co;
            for (int64_t g = 0; g < p.groups; ++g)
              for (int64_t c = 0; c < d.cig; ++c)
                for (int64_t o = 0; o < d.cog; ++o)
                  f(xbase + g * d.cig + c, wbase + c * d.co + g * d.cog + o, ybase + g * d.cog + o);
          }
        }
}

template <class T>
T* base(const Tensor& t) {
  return static_cast<T*>(t.storage()->data()) + t.offset();
}

/// Window bounds of output cell (oy, ox), clipped to the input.
struct Window {
  int64_t y0, y1, x0, x1;
};
Window window(int64_t oy, int64_t ox, int64_t h, int64_t w, const Pool2dParams& p) {
  const int64_t y0 = oy * p.stride_h - p.pad_top, x0 = ox * p.stride_w - p.pad_left;
  return {std::max<int64_t>(y0, 0), std::min(y0 + p.kernel_h, h), std::max<int64_t>(x0, 0),
          std::min(x0 + p.kernel_w, w)};
}
}  // namespace

namespace {
/// The three convolution kernels share one loop: the multiply-adds of the convolution of x
/// with w into y. Out names the tensor that is computed (0: x, 1: w, 2: y) from the two others,
/// accumulating in double; y starts from bias (per output channel) when it is defined.
template <int Out>
void conv_kernel(const char* what, const Tensor& x, const Tensor& w, const Tensor& y,
                 const Conv2dParams& p, const Tensor& bias = Tensor()) {
  const Tensor& out = Out == 0 ? x : (Out == 1 ? w : y);
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      std::vector<double> acc(static_cast<size_t>(out.numel()), 0.0);
      if (Out == 2 && bias.defined()) {
        const T* b = base<T>(bias);
        const size_t co = static_cast<size_t>(bias.numel());
        for (size_t i = 0; i < acc.size(); ++i) acc[i] = double(b[i % co]);
      }
      const T* xs = base<T>(x);
      const T* ws = base<T>(w);
      const T* ys = base<T>(y);
      for_each_tap(ConvDims(x, w, y, p), p, [&](int64_t xi, int64_t wi, int64_t yi) {
        if constexpr (Out == 0)
          acc[xi] += double(ys[yi]) * double(ws[wi]);
        else if constexpr (Out == 1)
          acc[wi] += double(xs[xi]) * double(ys[yi]);
        else
          acc[yi] += double(xs[xi]) * double(ws[wi]);
      });
      T* o = base<T>(out);
      const bool relu = Out == 2 && p.relu;  // the forward's fused relu
      for (size_t i = 0; i < acc.size(); ++i)
        o[i] = static_cast<T>(relu ? std::max(acc[i], 0.0) : acc[i]);
    } else {
      fail<BackendError>("reference ", what, ": needs a floating dtype");
    }
  });
}
}  // namespace

void ReferenceBackend::conv2d(const Tensor& x, const Tensor& wt, const Tensor& bias,
                              const Tensor& y, const Conv2dParams& p) {
  conv_kernel<2>("conv2d", x, wt, y, p, bias);
}

void ReferenceBackend::conv2d_backward_input(const Tensor& gy, const Tensor& wt, const Tensor& gx,
                                             const Conv2dParams& p) {
  conv_kernel<0>("conv2d_backward_input", gx, wt, gy, p);
}

void ReferenceBackend::conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                              const Conv2dParams& p) {
  conv_kernel<1>("conv2d_backward_weight", x, gw, gy, p);
}

void ReferenceBackend::max_pool2d(const Tensor& x, const Tensor& y, const Tensor& indices,
                                  const Pool2dParams& p) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.shape()[0], h = x.shape()[1], w = x.shape()[2], c = x.shape()[3];
    const int64_t oh = y.shape()[1], ow = y.shape()[2];
    const T* xs = base<T>(x);
    T* ys = base<T>(y);
    int64_t* ix = indices.defined() ? base<int64_t>(indices) : nullptr;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          Window win = window(oy, ox, h, w, p);
          for (int64_t ch = 0; ch < c; ++ch) {
            int64_t best = -1;
            T bv = std::numeric_limits<T>::lowest();
            for (int64_t yy = win.y0; yy < win.y1; ++yy)
              for (int64_t xx = win.x0; xx < win.x1; ++xx) {
                const int64_t at = ((b * h + yy) * w + xx) * c + ch;
                if (best < 0 || xs[at] > bv || xs[at] != xs[at]) {
                  bv = xs[at];
                  best = at;
                }
              }
            const int64_t o = ((b * oh + oy) * ow + ox) * c + ch;
            ys[o] = best < 0 ? T(0) : bv;
            if (ix) ix[o] = best < 0 ? 0 : best;
          }
        }
  });
}

void ReferenceBackend::avg_pool2d(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.shape()[0], h = x.shape()[1], w = x.shape()[2], c = x.shape()[3];
    const int64_t oh = y.shape()[1], ow = y.shape()[2];
    const T* xs = base<T>(x);
    T* ys = base<T>(y);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          Window win = window(oy, ox, h, w, p);
          const double count = double((win.y1 - win.y0) * (win.x1 - win.x0));
          for (int64_t ch = 0; ch < c; ++ch) {
            double s = 0;
            for (int64_t yy = win.y0; yy < win.y1; ++yy)
              for (int64_t xx = win.x0; xx < win.x1; ++xx)
                s += double(xs[((b * h + yy) * w + xx) * c + ch]);
            ys[((b * oh + oy) * ow + ox) * c + ch] = static_cast<T>(count > 0 ? s / count : 0.0);
          }
        }
  });
}

void ReferenceBackend::avg_pool2d_backward(const Tensor& gy, const Tensor& gx,
                                           const Pool2dParams& p) {
  dispatch_dtype(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = gx.shape()[0], h = gx.shape()[1], w = gx.shape()[2], c = gx.shape()[3];
    const int64_t oh = gy.shape()[1], ow = gy.shape()[2];
    std::vector<double> acc(static_cast<size_t>(gx.numel()), 0.0);
    const T* gys = base<T>(gy);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          Window win = window(oy, ox, h, w, p);
          const double count = double((win.y1 - win.y0) * (win.x1 - win.x0));
          if (count == 0) continue;
          for (int64_t ch = 0; ch < c; ++ch) {
            const double g = double(gys[((b * oh + oy) * ow + ox) * c + ch]) / count;
            for (int64_t yy = win.y0; yy < win.y1; ++yy)
              for (int64_t xx = win.x0; xx < win.x1; ++xx)
                acc[((b * h + yy) * w + xx) * c + ch] += g;
          }
        }
    T* gxs = base<T>(gx);
    for (size_t i = 0; i < acc.size(); ++i) gxs[i] = static_cast<T>(acc[i]);
  });
}

}  // namespace tg
