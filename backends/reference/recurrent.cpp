// Reference LSTM/GRU gate kernels: one plain contiguous loop per row, so that the compiler
// vectorises them (the CPU backend inherits these loops). float32 uses exp/tanh written in
// arithmetic only (Cephes' expf and tanhf, about 1 ulp) so that the loops vectorise without
// -ffast-math; float64 uses the C library, as the reference unary kernels do.
// Trapping math off: without it GCC keeps the selects below as branches (a float op could trap
// on one path) and does not vectorise the loops; these kernels never rely on floating-point
// exceptions. Before the includes, so that the inlined library helpers get the same options.
#pragma GCC optimize("no-trapping-math")
#include <bit>
#include <cmath>
#include <cstdint>

#include "tapegrad/backends/reference/reference_backend.hpp"

namespace tg {

namespace {

template <class T>
T* at(const Tensor& t) {
  return static_cast<T*>(t.storage()->data()) + t.offset();
}

/// exp(x) for float: x = n·ln2 + r, a degree-6 polynomial in r, 2ⁿ through the exponent bits
/// (n rounded by the 1.5·2²³ trick, no float-to-int conversion). Valid for x ≤ 0 (what the gates
/// need); 0 below the smallest normal result.
[[gnu::always_inline]] inline float exp_neg_f(float x) {
  const float fx = x * 1.44269504088896341f;
  const float tm = fx + 12582912.0f;
  const int32_t n = std::bit_cast<int32_t>(tm) - 0x4B400000;
  const float fn = tm - 12582912.0f;
  const float r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const float y = e * std::bit_cast<float>(static_cast<int32_t>((n + 127) << 23));
  return x < -87.3365447504019f ? 0.0f : y;
}
/// sigmoid through exp(−|x|): 1 / (1 + e) for x ≥ 0, e / (1 + e) below.
[[gnu::always_inline]] inline float sigmoid_f(float x) {
  const float e = exp_neg_f(-std::fabs(x));
  const float s = 1.0f / (1.0f + e);
  return x >= 0 ? s : e * s;
}
/// tanh: an odd polynomial below |x| = 0.625, else ±(1 − e) / (1 + e) with e = exp(−2|x|).
[[gnu::always_inline]] inline float tanh_f(float x) {
  const float a = std::fabs(x);
  const float x2 = x * x;
  float p = -5.70498872745e-3f;
  p = p * x2 + 2.06390887954e-2f;
  p = p * x2 - 5.37397155531e-2f;
  p = p * x2 + 1.33314422036e-1f;
  p = p * x2 - 3.33332819422e-1f;
  const float small = x + x * x2 * p;
  const float e = exp_neg_f(-2.0f * a);
  const float big = std::copysign((1.0f - e) / (1.0f + e), x);
  return a < 0.625f ? small : big;
}

[[gnu::always_inline]] inline float act_tanh(float x) { return tanh_f(x); }
[[gnu::always_inline]] inline float act_sigmoid(float x) { return sigmoid_f(x); }
inline double act_tanh(double x) { return std::tanh(x); }
inline double act_sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

template <class F>
void floating(DType dt, const char* what, F&& f) {
  if (dt == kFloat32)
    f(float{});
  else if (dt == kFloat64)
    f(double{});
  else
    fail<BackendError>("reference ", what, ": needs a floating dtype, got ", dt);
}

/// One row of each kernel, every stream its own restrict pointer so that the loop vectorises. An
/// AVX2 clone is chosen at load time where the CPU has it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TG_ROW_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TG_ROW_CLONES
#endif
template <class T>
TG_ROW_CLONES void row_lstm(const T* __restrict zi, const T* __restrict zf, const T* __restrict zc,
                            const T* __restrict zo, const T* __restrict cp, T* __restrict gi,
                            T* __restrict gf, T* __restrict gc, T* __restrict go, T* __restrict c,
                            T* __restrict h, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = act_sigmoid(zi[j]), f = act_sigmoid(zf[j]), cc = act_tanh(zc[j]),
            o = act_sigmoid(zo[j]);
    const T cn = f * cp[j] + i * cc;
    gi[j] = i;
    gf[j] = f;
    gc[j] = cc;
    go[j] = o;
    c[j] = cn;
    h[j] = o * act_tanh(cn);
  }
}
template <class T>
TG_ROW_CLONES void row_lstm_backward(const T* __restrict dh, const T* __restrict dc,
                                     const T* __restrict gi, const T* __restrict gf,
                                     const T* __restrict gc, const T* __restrict go,
                                     const T* __restrict cp, const T* __restrict c,
                                     T* __restrict dzi, T* __restrict dzf, T* __restrict dzc,
                                     T* __restrict dzo, T* __restrict dcp, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = gi[j], f = gf[j], cc = gc[j], o = go[j];
    const T tc = act_tanh(c[j]);
    const T dct = dc[j] + dh[j] * o * (T(1) - tc * tc);
    dzi[j] = dct * cc * i * (T(1) - i);
    dzf[j] = dct * cp[j] * f * (T(1) - f);
    dzc[j] = dct * i * (T(1) - cc * cc);
    dzo[j] = dh[j] * tc * o * (T(1) - o);
    dcp[j] = dct * f;
  }
}
template <class T>
TG_ROW_CLONES void row_gru(const T* __restrict xzz, const T* __restrict xzr,
                           const T* __restrict xzh, const T* __restrict uz, const T* __restrict ur,
                           const T* __restrict uh, const T* __restrict hp, T* __restrict gz,
                           T* __restrict gr, T* __restrict gh, T* __restrict h, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T zg = act_sigmoid(xzz[j] + uz[j]), r = act_sigmoid(xzr[j] + ur[j]);
    const T hh = act_tanh(xzh[j] + r * uh[j]);
    gz[j] = zg;
    gr[j] = r;
    gh[j] = hh;
    h[j] = zg * hp[j] + (T(1) - zg) * hh;
  }
}
template <class T>
TG_ROW_CLONES void row_gru_backward(const T* __restrict dh, const T* __restrict gz,
                                    const T* __restrict gr, const T* __restrict gh,
                                    const T* __restrict uh, const T* __restrict hp,
                                    T* __restrict dxz, T* __restrict dxr, T* __restrict dxh,
                                    T* __restrict duz, T* __restrict dur, T* __restrict duh,
                                    T* __restrict dhp, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T zg = gz[j], r = gr[j], hh = gh[j];
    const T dpz = dh[j] * (hp[j] - hh) * zg * (T(1) - zg);
    const T dph = dh[j] * (T(1) - zg) * (T(1) - hh * hh);
    const T dpr = dph * uh[j] * r * (T(1) - r);
    dxz[j] = dpz;
    duz[j] = dpz;
    dxr[j] = dpr;
    dur[j] = dpr;
    dxh[j] = dph;
    duh[j] = dph * r;
    dhp[j] = dh[j] * zg;
  }
}

}  // namespace

void ReferenceBackend::lstm_cell(const Tensor& z, const Tensor& c_prev, const Tensor& h,
                                 const Tensor& c, const Tensor& gates) {
  floating(z.dtype(), "lstm_cell", [&](auto tag) {
    using T = decltype(tag);
    const int64_t H = c.shape().back(), N = H ? c.numel() / H : 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* zr = at<T>(z) + n * 4 * H;
      T* gr = at<T>(gates) + n * 4 * H;
      row_lstm(zr, zr + H, zr + 2 * H, zr + 3 * H, at<T>(c_prev) + n * H, gr, gr + H, gr + 2 * H,
               gr + 3 * H, at<T>(c) + n * H, at<T>(h) + n * H, H);
    }
  });
}

void ReferenceBackend::lstm_cell_backward(const Tensor& grad_h, const Tensor& grad_c,
                                          const Tensor& gates, const Tensor& c_prev,
                                          const Tensor& c, const Tensor& grad_z,
                                          const Tensor& grad_c_prev) {
  floating(gates.dtype(), "lstm_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t H = c.shape().back(), N = H ? c.numel() / H : 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* g = at<T>(gates) + n * 4 * H;
      T* dz = at<T>(grad_z) + n * 4 * H;
      row_lstm_backward(at<T>(grad_h) + n * H, at<T>(grad_c) + n * H, g, g + H, g + 2 * H,
                        g + 3 * H, at<T>(c_prev) + n * H, at<T>(c) + n * H, dz, dz + H, dz + 2 * H,
                        dz + 3 * H, at<T>(grad_c_prev) + n * H, H);
    }
  });
}

void ReferenceBackend::gru_cell(const Tensor& xz, const Tensor& hz, const Tensor& h_prev,
                                const Tensor& h, const Tensor& gates) {
  floating(xz.dtype(), "gru_cell", [&](auto tag) {
    using T = decltype(tag);
    const int64_t H = h.shape().back(), N = H ? h.numel() / H : 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* x = at<T>(xz) + n * 3 * H;
      const T* u = at<T>(hz) + n * 3 * H;
      T* g = at<T>(gates) + n * 3 * H;
      row_gru(x, x + H, x + 2 * H, u, u + H, u + 2 * H, at<T>(h_prev) + n * H, g, g + H, g + 2 * H,
              at<T>(h) + n * H, H);
    }
  });
}

void ReferenceBackend::gru_cell_backward(const Tensor& grad_h, const Tensor& gates,
                                         const Tensor& hz, const Tensor& h_prev,
                                         const Tensor& grad_xz, const Tensor& grad_hz,
                                         const Tensor& grad_h_prev) {
  floating(gates.dtype(), "gru_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t H = h_prev.shape().back(), N = H ? h_prev.numel() / H : 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* g = at<T>(gates) + n * 3 * H;
      const T* u = at<T>(hz) + n * 3 * H;
      T* dx = at<T>(grad_xz) + n * 3 * H;
      T* du = at<T>(grad_hz) + n * 3 * H;
      row_gru_backward(at<T>(grad_h) + n * H, g, g + H, g + 2 * H, u + 2 * H, at<T>(h_prev) + n * H,
                       dx, dx + H, dx + 2 * H, du, du + H, du + 2 * H, at<T>(grad_h_prev) + n * H,
                       H);
    }
  });
}

}  // namespace tg
