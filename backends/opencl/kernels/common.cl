// Definitions shared by every tapegrad OpenCL kernel: operand geometry, walkers, the RNG.
//
// The program is assembled on the host (program_source in backends/opencl/opencl_runtime.cpp):
// this file once, then typed.cl once per element type (T, SUF, TG_KIND, ACC, REAL, TO_T, T_LOWEST
// defined before it), then copy.cl once per (source, destination) type pair.

// No fused multiply-add contraction: a + b * c rounds as on the CPU.
#pragma OPENCL FP_CONTRACT OFF

#ifdef TG_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double hireal;  // float accumulator: double where the device has it
#else
typedef float hireal;
#endif

#define TG_MAX_RANK 8
#define TG_MAX_OPS 4

#define TG_CAT2_(a, b) a##_##b
#define TG_CAT2(a, b) TG_CAT2_(a, b)
#define TG_CAT3_(a, b, c) a##_##b##_##c
#define TG_CAT3(a, b, c) TG_CAT3_(a, b, c)

// Shape of an index space and, per operand, strides and base offset (in elements). Mirrors
// tg::opencl::Geom on the host; dimensions are collapsed there, so rank is usually 1 or 2.
typedef struct {
  long shape[TG_MAX_RANK];
  long stride[TG_MAX_OPS][TG_MAX_RANK];
  long offset[TG_MAX_OPS];
  long numel;
  int rank;
  int pad_;
} Geom;

// Element offsets of the first nops operands at row-major index i.
inline void geom_offsets(const Geom* g, long i, int nops, long* off) {
  for (int k = 0; k < nops; ++k) off[k] = g->offset[k];
  for (int d = g->rank - 1; d >= 0; --d) {
    const long s = g->shape[d];
    const long q = i / s;
    const long r = i - q * s;
    i = q;
    for (int k = 0; k < nops; ++k) off[k] += r * g->stride[k][d];
  }
}

// Advances a row-major counter idx over g's shape, moving *off by operand 0's strides.
inline void geom_next(const Geom* g, long* idx, long* off) {
  for (int d = g->rank - 1; d >= 0; --d) {
    *off += g->stride[0][d];
    if (++idx[d] < g->shape[d]) return;
    *off -= g->stride[0][d] * g->shape[d];
    idx[d] = 0;
  }
}

// Convolution sizes (NHWC input and output, (kh, kw, cin / groups, cout) weights) and offsets.
typedef struct {
  long n, h, w, ci, oh, ow, co, kh, kw, cig, cog;
  long sh, sw, dh, dw, pt, pl;
  long x_off, w_off, y_off;
} ConvGeom;

// Pooling sizes (NHWC) and offsets of input, output and indices.
typedef struct {
  long n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl;
  long x_off, y_off, i_off, pad_;
} PoolGeom;

// CTC sizes, strides and offsets of every operand.
typedef struct {
  long n, tmax, c, smax, blank;
  long lp_off, lp_s0, lp_s1, lp_s2;
  long lab_off, lab_s0, lab_s1;
  long ll_off, ll_s, il_off, il_s;
  long loss_off, loss_s;
  long g_off, g_s0, g_s1, g_s2;
  long has_grad, pad_;
} CtcGeom;

// Batch-norm rows (m, c) with the offsets of x and y (or grad_y) and, per [C] vector operand k,
// its offset v_off[k] and stride v_s[k].
typedef struct {
  long m, c, x_off, y_off;
  long v_off[4];
  long v_s[4];
} BnGeom;

// floor(a / b) for b > 0.
inline long tg_floor_div(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// ---- counter-based random numbers: the same streams as backends/reference/elementwise.hpp ----

inline ulong tg_mix(ulong z) {
  z += 0x9E3779B97F4A7C15UL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
  return z ^ (z >> 31);
}
inline ulong tg_random_bits(ulong seed, ulong c) { return tg_mix(seed ^ tg_mix(c)); }
// Uniform in [0, 1): 53 random bits with float64 (as the CPU), 24 without.
inline hireal tg_uniform01(ulong seed, ulong c) {
#ifdef TG_FP64
  return (double)(tg_random_bits(seed, c) >> 11) * 1.1102230246251565404236316680908203125e-16;
#else
  return (float)(tg_random_bits(seed, c) >> 40) * 5.9604644775390625e-8f;
#endif
}
// Standard normal by Box-Muller from counters 2c and 2c + 1.
inline hireal tg_normal(ulong seed, ulong c) {
  const hireal u1 = (hireal)1 - tg_uniform01(seed, 2 * c);
  const hireal u2 = tg_uniform01(seed, 2 * c + 1);
  return sqrt((hireal)-2 * log(u1)) * cos((hireal)6.283185307179586 * u2);
}

// log(e^a + e^b) without overflow; -inf when both are -inf.
inline hireal tg_log_add(hireal a, hireal b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const hireal m = a < b ? b : a;
  return m + log1p(exp(-fabs(a - b)));
}
