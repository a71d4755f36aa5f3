// Kernels of one element type, instantiated once per dtype. Defined before inclusion:
//   T         element type (float, double, int, long, uchar for bool)
//   SUF       kernel-name suffix (f32, f64, i32, i64, b8)
//   TG_KIND   0 floating, 1 integer, 2 bool
//   ACC       accumulator (hireal for floats, long for integers and bool)
//   REAL      type of the unary parameters p0, p1
//   TO_T(v)   conversion of an accumulator to T (bool: v != 0)
//   T_LOWEST  the lowest value of T
// Operation codes are the enumerator values of tg::UnaryOp, BinaryOp and ReduceOp.

#if TG_KIND == 0
#define TG_NAN(v) isnan(v)
#define TG_MEAN_OF_NOTHING ((ACC)NAN)  // the mean of an empty axis (NumPy, PyTorch)
#else
#define TG_NAN(v) 0
#define TG_MEAN_OF_NOTHING ((ACC)0)
#endif

// ---- fill, unary, binary, comparisons, where ----

__kernel void TG_CAT2(fill, SUF)(__global T* out, Geom g, T value) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[1];
  geom_offsets(&g, i, 1, o);
  out[o[0]] = value;
}

inline T TG_CAT2(unary_op, SUF)(int op, T x, REAL p0, REAL p1) {
#if TG_KIND == 0
  switch (op) {
    case TG_UNARY_NEG: return -x;
    case TG_UNARY_ABS: return fabs(x);
    case TG_UNARY_SIGN: return (T)((x > 0) - (x < 0));
    case TG_UNARY_EXP: return exp(x);
    case TG_UNARY_LOG: return log(x);
    case TG_UNARY_LOG1P: return log1p(x);
    case TG_UNARY_EXPM1: return expm1(x);
    case TG_UNARY_SQRT: return sqrt(x);
    case TG_UNARY_RSQRT: return (T)1 / sqrt(x);
    case TG_UNARY_SQUARE: return x * x;
    case TG_UNARY_SIN: return sin(x);
    case TG_UNARY_COS: return cos(x);
    case TG_UNARY_TANH: return tanh(x);
    case TG_UNARY_SIGMOID: return x >= 0 ? (T)1 / ((T)1 + exp(-x)) : exp(x) / ((T)1 + exp(x));
    case TG_UNARY_RELU: return x > 0 ? x : (T)0;
    case TG_UNARY_LEAKY_RELU: return x > 0 ? x : (T)p0 * x;
    case TG_UNARY_ELU: return x > 0 ? x : (T)p0 * expm1(x);
    case TG_UNARY_SELU:
      return (T)1.0507009873554804934193349852946 *
             (x > 0 ? x : (T)1.6732632423543772848170429916717 * expm1(x));
    case TG_UNARY_GELU: return (T)0.5 * x * ((T)1 + erf(x * (T)0.70710678118654752440));
    case TG_UNARY_GELU_TANH: {
      const T c = (T)0.7978845608028654;  // sqrt(2/pi)
      return (T)0.5 * x * ((T)1 + tanh(c * (x + (T)0.044715 * x * x * x)));
    }
    case TG_UNARY_SOFTPLUS: return log1p(exp(-fabs(x))) + (x > 0 ? x : (T)0);
    case TG_UNARY_SOFTSIGN: return x / ((T)1 + fabs(x));
    case TG_UNARY_ERF: return erf(x);
    case TG_UNARY_POW_SCALAR: return pow(x, (T)p0);
    case TG_UNARY_CLIP: {  // std::min(std::max(x, lo), hi), NaN passing through as in C++
      const T lo = (T)p0, hi = (T)p1;
      const T m = x < lo ? lo : x;
      return hi < m ? hi : m;
    }
    case TG_UNARY_LOGICAL_NOT: return (T)(x == 0);
    case TG_UNARY_STEP: return x > 0 ? (T)1 : (T)0;
  }
#elif TG_KIND == 1
  switch (op) {
    case TG_UNARY_NEG: return -x;
    case TG_UNARY_ABS: return x < 0 ? -x : x;
    case TG_UNARY_SIGN: return (T)((x > 0) - (x < 0));
    case TG_UNARY_SQUARE: return x * x;
    case TG_UNARY_RELU: return x > 0 ? x : (T)0;
    case TG_UNARY_CLIP: {  // clamped in floating point, as the CPU does
      const REAL v = (REAL)x;
      const REAL m = v < p0 ? p0 : v;
      return (T)(p1 < m ? p1 : m);
    }
    case TG_UNARY_LOGICAL_NOT: return (T)(x == 0);
    case TG_UNARY_STEP: return x > 0 ? (T)1 : (T)0;
  }
#else
  if (op == TG_UNARY_LOGICAL_NOT) return (T)(!x);
#endif
  return x;  // the host sends only the ops this dtype has
}

__kernel void TG_CAT2(unary, SUF)(__global const T* x, __global T* out, Geom g, int op, REAL p0,
                                  REAL p1) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[2];
  geom_offsets(&g, i, 2, o);  // 0: out, 1: x
  out[o[0]] = TG_CAT2(unary_op, SUF)(op, x[o[1]], p0, p1);
}

__kernel void TG_CAT2(logical_not, SUF)(__global const T* x, __global uchar* out, Geom g) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[2];
  geom_offsets(&g, i, 2, o);
  out[o[0]] = x[o[1]] == 0 ? 1 : 0;
}

inline T TG_CAT2(binary_op, SUF)(int op, T a, T b, __global int* err) {
#if TG_KIND == 2
  switch (op) {
    case TG_BINARY_MUL: case TG_BINARY_MINIMUM: case TG_BINARY_LOGICAL_AND: return (T)(a && b);
    case TG_BINARY_ADD: case TG_BINARY_MAXIMUM: case TG_BINARY_LOGICAL_OR: return (T)(a || b);
  }
  return a;
#else
  switch (op) {
    case TG_BINARY_ADD: return a + b;
    case TG_BINARY_SUB: return a - b;
    case TG_BINARY_MUL: return a * b;
    case TG_BINARY_DIV:
#if TG_KIND == 1
      if (b == 0) {  // reported to the host, which throws
        *err = 1;
        return 0;
      } else {  // floor division, as NumPy's //
        const T q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
      }
#else
      return a / b;
#endif
    case TG_BINARY_POW: return (T)pow((hireal)a, (hireal)b);
    case TG_BINARY_MAXIMUM: return (a > b || TG_NAN(a)) ? a : b;  // NaN propagates
    case TG_BINARY_MINIMUM: return (a < b || TG_NAN(a)) ? a : b;
    case TG_BINARY_RELU_BACKWARD: return b > (T)0 ? a : (T)0;  // relu_backward
  }
  return a;
#endif
}

__kernel void TG_CAT2(binary, SUF)(__global const T* a, __global const T* b, __global T* out,
                                   Geom g, int op, __global int* err) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[3];
  geom_offsets(&g, i, 3, o);  // 0: out, 1: a, 2: b
  out[o[0]] = TG_CAT2(binary_op, SUF)(op, a[o[1]], b[o[2]], err);
}

__kernel void TG_CAT2(compare, SUF)(__global const T* a, __global const T* b, __global uchar* out,
                                    Geom g, int op) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[3];
  geom_offsets(&g, i, 3, o);
  const T x = a[o[1]], y = b[o[2]];
  int r = 0;
  switch (op) {
    case TG_BINARY_EQ: r = x == y; break;
    case TG_BINARY_NE: r = x != y; break;
    case TG_BINARY_LT: r = x < y; break;
    case TG_BINARY_LE: r = x <= y; break;
    case TG_BINARY_GT: r = x > y; break;
    case TG_BINARY_GE: r = x >= y; break;
    case TG_BINARY_LOGICAL_AND: r = (x != 0) && (y != 0); break;
    case TG_BINARY_LOGICAL_OR: r = (x != 0) || (y != 0); break;
  }
  out[o[0]] = r ? 1 : 0;
}

__kernel void TG_CAT2(where, SUF)(__global const uchar* cond, __global const T* a,
                                  __global const T* b, __global T* out, Geom g) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[4];
  geom_offsets(&g, i, 4, o);  // 0: out, 1: cond, 2: a, 3: b
  out[o[0]] = cond[o[1]] ? a[o[2]] : b[o[3]];
}

// ---- reductions ----

inline ACC TG_CAT2(reduce_init, SUF)(int op) {
#if TG_KIND == 0
  if (op == TG_REDUCE_MAX) return (ACC)-INFINITY;
  if (op == TG_REDUCE_MIN) return (ACC)INFINITY;
#else
  if (op == TG_REDUCE_MAX) return LONG_MIN;
  if (op == TG_REDUCE_MIN) return LONG_MAX;
#endif
  return op == TG_REDUCE_PROD ? (ACC)1 : (ACC)0;
}

inline ACC TG_CAT2(reduce_step, SUF)(int op, ACC a, ACC v) {
  switch (op) {
    case TG_REDUCE_SUM: case TG_REDUCE_MEAN: return a + v;
    case TG_REDUCE_MAX: return (v > a || TG_NAN(v)) ? v : a;
    case TG_REDUCE_MIN: return (v < a || TG_NAN(v)) ? v : a;
    case TG_REDUCE_PROD: return a * v;
  }
  return a;
}

// One work item per output element; `outer` walks the outputs (0: out, 1: x at the kept axes),
// `inner` the reduced axes of x in row-major order (the CPU's summation order).
__kernel void TG_CAT2(reduce, SUF)(__global const T* x, __global T* out, Geom outer, Geom inner,
                                   int op, long count) {
  const long j = get_global_id(0);
  if (j >= outer.numel) return;
  long o[2];
  geom_offsets(&outer, j, 2, o);
  ACC acc = TG_CAT2(reduce_init, SUF)(op);
  long idx[TG_MAX_RANK] = {0, 0, 0, 0, 0, 0, 0, 0};
  long off = o[1];
  for (long t = 0; t < inner.numel; ++t) {
    acc = TG_CAT2(reduce_step, SUF)(op, acc, (ACC)x[off]);
    geom_next(&inner, idx, &off);
  }
  if (op == TG_REDUCE_MEAN) acc = count ? acc / (ACC)count : TG_MEAN_OF_NOTHING;
  out[o[0]] = TO_T(acc);
}

// First pass of a long reduction: work item (j, p) reduces chunk p of output j's elements into
// part[j * parts + p].
__kernel void TG_CAT2(reduce_partial, SUF)(__global const T* x, __global ACC* part, Geom outer,
                                           Geom inner, int op, long parts, long chunk) {
  const long id = get_global_id(0);
  if (id >= outer.numel * parts) return;
  const long j = id / parts, p = id - j * parts;
  long o[2];
  geom_offsets(&outer, j, 2, o);
  const long t0 = p * chunk;
  const long t1 = min(t0 + chunk, inner.numel);
  ACC acc = TG_CAT2(reduce_init, SUF)(op);
  if (t0 < t1) {
    long idx[TG_MAX_RANK] = {0, 0, 0, 0, 0, 0, 0, 0};
    long off = o[1];
    long rest = t0;  // start the counter at t0
    for (int d = inner.rank - 1; d >= 0; --d) {
      idx[d] = rest % inner.shape[d];
      rest /= inner.shape[d];
      off += idx[d] * inner.stride[0][d];
    }
    for (long t = t0; t < t1; ++t) {
      acc = TG_CAT2(reduce_step, SUF)(op, acc, (ACC)x[off]);
      geom_next(&inner, idx, &off);
    }
  }
  part[id] = acc;
}

// Second pass: combines the parts of each output in order.
__kernel void TG_CAT2(reduce_finish, SUF)(__global const ACC* part, __global T* out, Geom outer,
                                          int op, long parts, long count) {
  const long j = get_global_id(0);
  if (j >= outer.numel) return;
  long o[1];
  geom_offsets(&outer, j, 1, o);
  ACC acc = TG_CAT2(reduce_init, SUF)(op);
  for (long p = 0; p < parts; ++p) acc = TG_CAT2(reduce_step, SUF)(op, acc, part[j * parts + p]);
  if (op == TG_REDUCE_MEAN) acc = count ? acc / (ACC)count : TG_MEAN_OF_NOTHING;
  out[o[0]] = TO_T(acc);
}

// One work item per line along the axis (0: out, 1: x).
__kernel void TG_CAT2(arg_reduce, SUF)(__global const T* x, __global long* out, Geom lines, long n,
                                       long xs, int is_max) {
  const long j = get_global_id(0);
  if (j >= lines.numel) return;
  long o[2];
  geom_offsets(&lines, j, 2, o);
  long best = 0;
  T bv = x[o[1]];
  for (long i = 1; i < n; ++i) {
    const T v = x[o[1] + i * xs];
    if (TG_NAN(bv)) break;  // NaN wins, as NumPy
    if (TG_NAN(v) || (is_max ? v > bv : v < bv)) {
      bv = v;
      best = i;
    }
  }
  out[o[0]] = best;
}

__kernel void TG_CAT2(cumsum, SUF)(__global const T* x, __global T* out, Geom lines, long n, long xs,
                                   long os) {
  const long j = get_global_id(0);
  if (j >= lines.numel) return;
  long o[2];
  geom_offsets(&lines, j, 2, o);
  ACC acc = 0;
  for (long i = 0; i < n; ++i) {
    acc += (ACC)x[o[1] + i * xs];
    out[o[0] + i * os] = TO_T(acc);
  }
}

// ---- indexing ----

// 0: out, 1: index, 2: x with the axis stride zeroed.
__kernel void TG_CAT2(gather, SUF)(__global const T* x, __global const long* index,
                                   __global T* out, Geom g, long step) {
  const long i = get_global_id(0);
  if (i >= g.numel) return;
  long o[3];
  geom_offsets(&g, i, 3, o);
  out[o[0]] = x[o[2] + index[o[1]] * step];
}

// One work item per line along the axis (0: src, 1: index, 2: dst without the axis): lines touch
// disjoint destinations, and each adds in source order, as the CPU does (deterministic).
__kernel void TG_CAT2(scatter_add, SUF)(__global T* dst, __global const long* index,
                                        __global const T* src, Geom lines, long m, long sstep,
                                        long istep, long dstep) {
  const long j = get_global_id(0);
  if (j >= lines.numel) return;
  long o[3];
  geom_offsets(&lines, j, 3, o);
  for (long i = 0; i < m; ++i) {
    const long p = o[2] + index[o[1] + i * istep] * dstep;
    dst[p] = TO_T(dst[p] + src[o[0] + i * sstep]);
  }
}

// Plain matrix product for the dtypes CLBlast lacks; batch geometry 0: out, 1: a, 2: b.
__kernel void TG_CAT2(matmul, SUF)(__global const T* a, __global const T* b, __global T* out,
                                   Geom batch, long M, long N, long K, long am, long ak, long bk,
                                   long bn, long om, long on) {
  const long id = get_global_id(0);
  if (id >= batch.numel * M * N) return;
  const long j = id % N, i = (id / N) % M, bi = id / (M * N);
  long o[3];
  geom_offsets(&batch, bi, 3, o);
  ACC acc = 0;
  for (long k = 0; k < K; ++k) acc += (ACC)a[o[1] + i * am + k * ak] * (ACC)b[o[2] + k * bk + j * bn];
  out[o[0] + i * om + j * on] = TO_T(acc);
}

// ---- random numbers (element i uses counter offset + i) ----

__kernel void TG_CAT2(random, SUF)(__global T* out, long off0, long n, ulong seed, ulong offset,
                                   int dist, hireal a, hireal b) {
  const long i = get_global_id(0);
  if (i >= n) return;
  const ulong c = offset + (ulong)i;
  const hireal v = dist == 0 ? a + (b - a) * tg_uniform01(seed, c) : a + b * tg_normal(seed, c);
#if TG_KIND == 0
  T tv = (T)v;
  if (dist == 0 && tv >= (T)b) tv = (T)a;
  out[off0 + i] = tv;
#else
  out[off0 + i] = TO_T(floor(v));
#endif
}

// ---- pooling over NHWC ----

__kernel void TG_CAT2(max_pool2d, SUF)(__global const T* x, __global T* y, __global long* ind,
                                       PoolGeom p, int with_idx) {
  const long i = get_global_id(0);
  if (i >= p.n * p.oh * p.ow * p.c) return;
  const long ch = i % p.c;
  long r = i / p.c;
  const long ox = r % p.ow;
  r /= p.ow;
  const long oy = r % p.oh, b = r / p.oh;
  const long wy = oy * p.sh - p.pt, wx = ox * p.sw - p.pl;
  const long y0 = max(wy, 0L), y1 = min(wy + p.kh, p.h), x0 = max(wx, 0L), x1 = min(wx + p.kw, p.w);
  long best = -1;
  T bv = T_LOWEST;
  for (long yy = y0; yy < y1; ++yy)
    for (long xx = x0; xx < x1; ++xx) {
      const long at = ((b * p.h + yy) * p.w + xx) * p.c + ch;
      const T v = x[p.x_off + at];
      if (best < 0 || v > bv || TG_NAN(v)) {
        bv = v;
        best = at;
      }
    }
  y[p.y_off + i] = best < 0 ? (T)0 : bv;
  if (with_idx) ind[p.i_off + i] = best < 0 ? 0 : best;
}

__kernel void TG_CAT2(avg_pool2d, SUF)(__global const T* x, __global T* y, PoolGeom p) {
  const long i = get_global_id(0);
  if (i >= p.n * p.oh * p.ow * p.c) return;
  const long ch = i % p.c;
  long r = i / p.c;
  const long ox = r % p.ow;
  r /= p.ow;
  const long oy = r % p.oh, b = r / p.oh;
  const long wy = oy * p.sh - p.pt, wx = ox * p.sw - p.pl;
  const long y0 = max(wy, 0L), y1 = min(wy + p.kh, p.h), x0 = max(wx, 0L), x1 = min(wx + p.kw, p.w);
  const hireal count = (hireal)((y1 - y0) * (x1 - x0));
  hireal s = 0;
  for (long yy = y0; yy < y1; ++yy)
    for (long xx = x0; xx < x1; ++xx) s += (hireal)x[p.x_off + ((b * p.h + yy) * p.w + xx) * p.c + ch];
  y[p.y_off + i] = TO_T(count > 0 ? s / count : (hireal)0);
}

// One work item per input cell: sums grad_out / count over the windows that contain it (in the
// CPU's order of output cells).
__kernel void TG_CAT2(avg_pool2d_backward, SUF)(__global const T* gy, __global T* gx, PoolGeom p) {
  const long i = get_global_id(0);
  if (i >= p.n * p.h * p.w * p.c) return;
  const long ch = i % p.c;
  long r = i / p.c;
  const long xx = r % p.w;
  r /= p.w;
  const long yy = r % p.h, b = r / p.h;
  const long oy0 = max(tg_floor_div(yy + p.pt - p.kh, p.sh) + 1, 0L);
  const long oy1 = min(tg_floor_div(yy + p.pt, p.sh), p.oh - 1);
  const long ox0 = max(tg_floor_div(xx + p.pl - p.kw, p.sw) + 1, 0L);
  const long ox1 = min(tg_floor_div(xx + p.pl, p.sw), p.ow - 1);
  hireal acc = 0;
  for (long oy = oy0; oy <= oy1; ++oy) {
    const long wy = oy * p.sh - p.pt;
    const long cy = min(wy + p.kh, p.h) - max(wy, 0L);
    for (long ox = ox0; ox <= ox1; ++ox) {
      const long wx = ox * p.sw - p.pl;
      const long cnt = cy * (min(wx + p.kw, p.w) - max(wx, 0L));
      if (cnt <= 0) continue;
      acc += (hireal)gy[p.y_off + ((b * p.oh + oy) * p.ow + ox) * p.c + ch] / (hireal)cnt;
    }
  }
  gx[p.x_off + i] = TO_T(acc);
}

#if TG_KIND == 0

// ---- softmax, log-softmax (one work item per line; 0: out, 1: x) ----

__kernel void TG_CAT2(softmax, SUF)(__global const T* x, __global T* out, Geom lines, long n,
                                    long xs, long os, int log_out) {
  const long j = get_global_id(0);
  if (j >= lines.numel) return;
  long o[2];
  geom_offsets(&lines, j, 2, o);
  hireal m = -INFINITY;
  for (long i = 0; i < n; ++i) {
    const hireal v = (hireal)x[o[1] + i * xs];
    m = m < v ? v : m;
  }
  hireal sum = 0;
  for (long i = 0; i < n; ++i) sum += exp((hireal)x[o[1] + i * xs] - m);
  const hireal lse = m + log(sum);
  for (long i = 0; i < n; ++i) {
    const hireal v = (hireal)x[o[1] + i * xs];
    out[o[0] + i * os] = (T)(log_out ? v - lse : exp(v - lse));
  }
}

// ---- convolution over NHWC: im2col / col2im around CLBlast GEMM (opencl_conv_pool.cpp) ----
//
// The column matrix of images b0 .. b0 + nb - 1 has one row per output pixel (b, oy, ox) and
// ci * kh * kw columns: group g's block of k = kh * kw * cig columns, ordered (ky, kx, c) as the
// rows of a (kh, kw, cig, co) kernel, so that group g's output is col[:, g*k : (g+1)*k] @ w[:, g's
// cog columns].

// One work item per (row, input channel) copies that channel's kh * kw taps; zero for taps in the
// padding. Neighbouring work items read and write neighbouring channels.
__kernel void TG_CAT2(im2col, SUF)(__global const T* x, __global T* col, ConvGeom p, long b0,
                                   long nb) {
  const long i = get_global_id(0);
  if (i >= nb * p.oh * p.ow * p.ci) return;
  const long ci = i % p.ci;
  const long r = i / p.ci;  // the row (bl, oy, ox), bl counted from b0
  const long ox = r % p.ow;
  const long oy = (r / p.ow) % p.oh, b = b0 + r / (p.ow * p.oh);
  const long g = ci / p.cig, c = ci - g * p.cig;
  __global T* out = col + r * p.kh * p.kw * p.ci + g * p.kh * p.kw * p.cig + c;
  const __global T* xb = x + p.x_off + b * p.h * p.w * p.ci + ci;
  for (long ky = 0; ky < p.kh; ++ky) {
    const long iy = oy * p.sh - p.pt + ky * p.dh;
    const bool row_in = iy >= 0 && iy < p.h;
    for (long kx = 0; kx < p.kw; ++kx) {
      const long ix = ox * p.sw - p.pl + kx * p.dw;
      *out = row_in && ix >= 0 && ix < p.w ? xb[(iy * p.w + ix) * p.ci] : (T)0;
      out += p.cig;
    }
  }
}

// The adjoint of im2col: one work item per input element (b, iy, ix, ci) of images b0 .. b0 +
// nb - 1 sums the column entries it was copied to. x_off is grad_in's offset.
__kernel void TG_CAT2(col2im, SUF)(__global const T* col, __global T* gx, ConvGeom p, long b0,
                                   long nb) {
  const long i = get_global_id(0);
  if (i >= nb * p.h * p.w * p.ci) return;
  const long ci = i % p.ci;
  long r = i / p.ci;
  const long ix = r % p.w;
  r /= p.w;
  const long iy = r % p.h, bl = r / p.h;
  const long g = ci / p.cig, c = ci - g * p.cig;
  const long taps = p.kh * p.kw;
  const long row_len = taps * p.ci;  // columns of one row: groups * taps * cig
  hireal acc = 0;
  // Stride 1 (the common case) needs no division.
  for (long ky = 0; ky < p.kh; ++ky) {
    long oy = iy + p.pt - ky * p.dh;
    if (oy < 0) continue;
    if (p.sh != 1) {
      if (oy % p.sh != 0) continue;
      oy /= p.sh;
    }
    if (oy >= p.oh) continue;
    for (long kx = 0; kx < p.kw; ++kx) {
      long ox = ix + p.pl - kx * p.dw;
      if (ox < 0) continue;
      if (p.sw != 1) {
        if (ox % p.sw != 0) continue;
        ox /= p.sw;
      }
      if (ox >= p.ow) continue;
      const long row = (bl * p.oh + oy) * p.ow + ox;
      acc += (hireal)col[row * row_len + (g * taps + ky * p.kw + kx) * p.cig + c];
    }
  }
  gx[p.x_off + (b0 * p.h * p.w * p.ci) + i] = TO_T(acc);
}

// ---- CTC loss: one work item per sample runs the log-space alpha/beta recursions ----

__kernel void TG_CAT2(ctc_loss, SUF)(__global const T* lp, __global const long* labels,
                                     __global const long* lab_len, __global const long* in_len,
                                     __global T* loss, __global T* grad, __global long* ext_all,
                                     __global hireal* alpha_all, __global hireal* beta_all,
                                     __global hireal* occ_all, CtcGeom q) {
  const long n = get_global_id(0);
  if (n >= q.n) return;
  const long Tn = in_len[q.il_off + n * q.il_s];
  const long L = lab_len[q.ll_off + n * q.ll_s];
  const long S = 2 * L + 1;
  __global long* ext = ext_all + n * q.smax;
  __global hireal* alpha = alpha_all + n * q.tmax * q.smax;
  __global hireal* beta = beta_all + n * q.tmax * q.smax;
  __global hireal* occ = occ_all + n * q.c;
  const long base = q.lp_off + n * q.lp_s0;
#define TG_AT(t, c) ((hireal)lp[base + (t) * q.lp_s1 + (c) * q.lp_s2])
#define TG_SKIP_TO(s) ((s) >= 2 && ext[s] != q.blank && ext[s] != ext[(s) - 2])
  for (long s = 0; s < S; ++s) ext[s] = q.blank;
  long repeats = 0;
  for (long i = 0; i < L; ++i) {
    ext[2 * i + 1] = labels[q.lab_off + n * q.lab_s0 + i * q.lab_s1];
    if (i > 0 && ext[2 * i + 1] == ext[2 * i - 1]) ++repeats;  // needs a blank between
  }
  hireal log_p = -INFINITY;
  if (Tn == 0) {
    if (L == 0) log_p = 0;  // the empty label over no frames
  } else if (Tn >= L + repeats) {
    for (long k = 0; k < Tn * S; ++k) alpha[k] = -INFINITY;
    alpha[0] = TG_AT(0, ext[0]);
    if (S > 1) alpha[1] = TG_AT(0, ext[1]);
    for (long t = 1; t < Tn; ++t) {
      __global const hireal* prev = alpha + (t - 1) * S;
      __global hireal* cur = alpha + t * S;
      for (long s = 0; s < S; ++s) {
        hireal a = prev[s];
        if (s >= 1) a = tg_log_add(a, prev[s - 1]);
        if (TG_SKIP_TO(s)) a = tg_log_add(a, prev[s - 2]);
        cur[s] = a == -INFINITY ? -INFINITY : a + TG_AT(t, ext[s]);
      }
    }
    __global const hireal* last = alpha + (Tn - 1) * S;
    log_p = S > 1 ? tg_log_add(last[S - 1], last[S - 2]) : last[S - 1];
  }
  loss[q.loss_off + n * q.loss_s] = (T)(-log_p);  // +inf: infeasible
  if (!q.has_grad) return;
  const long gbase = q.g_off + n * q.g_s0;
  for (long t = 0; t < q.tmax; ++t)
    for (long c = 0; c < q.c; ++c) grad[gbase + t * q.g_s1 + c * q.g_s2] = 0;
  if (Tn == 0 || !isfinite(log_p)) return;  // no alignment: zero gradient
  for (long k = 0; k < Tn * S; ++k) beta[k] = -INFINITY;
  beta[(Tn - 1) * S + S - 1] = TG_AT(Tn - 1, ext[S - 1]);
  if (S > 1) beta[(Tn - 1) * S + S - 2] = TG_AT(Tn - 1, ext[S - 2]);
  for (long t = Tn - 2; t >= 0; --t) {
    __global const hireal* next = beta + (t + 1) * S;
    __global hireal* cur = beta + t * S;
    for (long s = 0; s < S; ++s) {
      hireal b = next[s];
      if (s + 1 < S) b = tg_log_add(b, next[s + 1]);
      if (s + 2 < S && TG_SKIP_TO(s + 2)) b = tg_log_add(b, next[s + 2]);
      cur[s] = b == -INFINITY ? -INFINITY : b + TG_AT(t, ext[s]);
    }
  }
  // d loss / d log_probs[t, c] = -(posterior occupation of class c at time t).
  for (long t = 0; t < Tn; ++t) {
    for (long c = 0; c < q.c; ++c) occ[c] = 0;
    for (long s = 0; s < S; ++s) {
      const hireal ab = alpha[t * S + s] + beta[t * S + s];
      if (ab == -INFINITY) continue;
      occ[ext[s]] += exp(ab - TG_AT(t, ext[s]) - log_p);
    }
    for (long c = 0; c < q.c; ++c) grad[gbase + t * q.g_s1 + c * q.g_s2] = (T)(-occ[c]);
  }
#undef TG_AT
#undef TG_SKIP_TO
}

// ---- batch normalization of contiguous rows (M, C): one work item per channel ----

__kernel void TG_CAT2(batch_norm, SUF)(__global const T* x, __global const T* gamma,
                                       __global const T* beta, __global T* mean, __global T* var,
                                       __global T* y, BnGeom q, hireal eps,
                                       int training) {
  const long j = get_global_id(0);
  if (j >= q.c) return;
  __global T* mu = mean + q.v_off[2] + j * q.v_s[2];
  __global T* va = var + q.v_off[3] + j * q.v_s[3];
  if (training) {
    hireal s = 0, s2 = 0;
    for (long r = 0; r < q.m; ++r) s += (hireal)x[q.x_off + r * q.c + j];
    s /= (hireal)q.m;
    for (long r = 0; r < q.m; ++r) {
      const hireal d = (hireal)x[q.x_off + r * q.c + j] - s;
      s2 += d * d;
    }
    *mu = (T)s;
    *va = (T)(s2 / (hireal)q.m);
  }
  const hireal rstd = (hireal)1 / sqrt((hireal)*va + eps);
  const hireal g = (hireal)gamma[q.v_off[0] + j * q.v_s[0]];
  const hireal b = (hireal)beta[q.v_off[1] + j * q.v_s[1]];
  const hireal m = (hireal)*mu;
  for (long r = 0; r < q.m; ++r)
    y[q.y_off + r * q.c + j] = (T)(((hireal)x[q.x_off + r * q.c + j] - m) * rstd * g + b);
}

// Gradients with the batch statistics; q.y_off is grad_y's offset, gx_off grad_x's; v_off/v_s
// hold gamma (0), mean (1), var (2), and grad_gamma / grad_beta use gg_off / gb_off (contiguous).
__kernel void TG_CAT2(batch_norm_backward, SUF)(__global const T* x, __global const T* gy,
                                                __global const T* gamma, __global const T* mean,
                                                __global const T* var, __global T* gx,
                                                __global T* gg, __global T* gb,
                                                BnGeom q, hireal eps, long gx_off,
                                                long gg_off, long gb_off) {
  const long j = get_global_id(0);
  if (j >= q.c) return;
  const hireal mu = (hireal)mean[q.v_off[1] + j * q.v_s[1]];
  const hireal rstd = (hireal)1 / sqrt((hireal)var[q.v_off[2] + j * q.v_s[2]] + eps);
  hireal sum_g = 0, sum_gx = 0;  // sum of gy and of gy * xhat
  for (long r = 0; r < q.m; ++r) {
    const hireal xh = ((hireal)x[q.x_off + r * q.c + j] - mu) * rstd;
    const hireal g = (hireal)gy[q.y_off + r * q.c + j];
    sum_g += g;
    sum_gx += g * xh;
  }
  gg[gg_off + j] = (T)sum_gx;
  gb[gb_off + j] = (T)sum_g;
  // dx = gamma * rstd / M * (M * gy - sum gy - xhat * sum(gy * xhat))
  const hireal k = (hireal)gamma[q.v_off[0] + j * q.v_s[0]] * rstd / (hireal)q.m;
  for (long r = 0; r < q.m; ++r) {
    const hireal xh = ((hireal)x[q.x_off + r * q.c + j] - mu) * rstd;
    gx[gx_off + r * q.c + j] =
        (T)(k * ((hireal)q.m * (hireal)gy[q.y_off + r * q.c + j] - sum_g - xh * sum_gx));
  }
}

// ---- LSTM / GRU gate arithmetic (one work item per (row, unit); contiguous tensors) ----

inline T TG_CAT2(sigm, SUF)(T x) { return (T)1 / ((T)1 + exp(-x)); }

// LSTM, gate order i, f, c, o: c = sig(f) c_prev + sig(i) tanh(cc), h = sig(o) tanh(c).
__kernel void TG_CAT2(lstm_cell, SUF)(__global const T* z, __global const T* cp, __global T* h,
                                      __global T* c, __global T* g, long z_off, long cp_off,
                                      long h_off, long c_off, long g_off, long H, long n) {
  const long e = get_global_id(0);
  if (e >= n) return;
  const long r = e / H, j = e - r * H;
  __global const T* zr = z + z_off + r * 4 * H;
  __global T* gr = g + g_off + r * 4 * H;
  const T i = TG_CAT2(sigm, SUF)(zr[j]), f = TG_CAT2(sigm, SUF)(zr[H + j]);
  const T cc = tanh(zr[2 * H + j]), o = TG_CAT2(sigm, SUF)(zr[3 * H + j]);
  const T cn = f * cp[cp_off + e] + i * cc;
  gr[j] = i;
  gr[H + j] = f;
  gr[2 * H + j] = cc;
  gr[3 * H + j] = o;
  c[c_off + e] = cn;
  h[h_off + e] = o * tanh(cn);
}

__kernel void TG_CAT2(lstm_cell_backward, SUF)(
    __global const T* dh, __global const T* dc, __global const T* g, __global const T* cp,
    __global const T* c, __global T* dz, __global T* dcp, long dh_off, long dc_off, long g_off,
    long cp_off, long c_off, long dz_off, long dcp_off, long H, long n) {
  const long e = get_global_id(0);
  if (e >= n) return;
  const long r = e / H, j = e - r * H;
  __global const T* gr = g + g_off + r * 4 * H;
  __global T* dzr = dz + dz_off + r * 4 * H;
  const T i = gr[j], f = gr[H + j], cc = gr[2 * H + j], o = gr[3 * H + j];
  const T tc = tanh(c[c_off + e]);
  const T gh = dh[dh_off + e];
  const T dct = dc[dc_off + e] + gh * o * ((T)1 - tc * tc);
  dzr[j] = dct * cc * i * ((T)1 - i);
  dzr[H + j] = dct * cp[cp_off + e] * f * ((T)1 - f);
  dzr[2 * H + j] = dct * i * ((T)1 - cc * cc);
  dzr[3 * H + j] = gh * tc * o * ((T)1 - o);
  dcp[dcp_off + e] = dct * f;
}

// GRU (Keras 3 reset_after), gate order z, r, h.
__kernel void TG_CAT2(gru_cell, SUF)(__global const T* xz, __global const T* hz,
                                     __global const T* hp, __global T* h, __global T* g,
                                     long xz_off, long hz_off, long hp_off, long h_off,
                                     long g_off, long H, long n) {
  const long e = get_global_id(0);
  if (e >= n) return;
  const long r = e / H, j = e - r * H;
  __global const T* x = xz + xz_off + r * 3 * H;
  __global const T* u = hz + hz_off + r * 3 * H;
  __global T* gr = g + g_off + r * 3 * H;
  const T zg = TG_CAT2(sigm, SUF)(x[j] + u[j]);
  const T rg = TG_CAT2(sigm, SUF)(x[H + j] + u[H + j]);
  const T hh = tanh(x[2 * H + j] + rg * u[2 * H + j]);
  gr[j] = zg;
  gr[H + j] = rg;
  gr[2 * H + j] = hh;
  h[h_off + e] = zg * hp[hp_off + e] + ((T)1 - zg) * hh;
}

__kernel void TG_CAT2(gru_cell_backward, SUF)(
    __global const T* dh, __global const T* g, __global const T* hz, __global const T* hp,
    __global T* dxz, __global T* dhz, __global T* dhp, long dh_off, long g_off, long hz_off,
    long hp_off, long dxz_off, long dhz_off, long dhp_off, long H, long n) {
  const long e = get_global_id(0);
  if (e >= n) return;
  const long r = e / H, j = e - r * H;
  __global const T* gr = g + g_off + r * 3 * H;
  __global const T* u = hz + hz_off + r * 3 * H;
  __global T* dx = dxz + dxz_off + r * 3 * H;
  __global T* du = dhz + dhz_off + r * 3 * H;
  const T zg = gr[j], rg = gr[H + j], hh = gr[2 * H + j];
  const T gh = dh[dh_off + e];
  const T dpz = gh * (hp[hp_off + e] - hh) * zg * ((T)1 - zg);
  const T dph = gh * ((T)1 - zg) * ((T)1 - hh * hh);
  const T dpr = dph * u[2 * H + j] * rg * ((T)1 - rg);
  dx[j] = dpz;
  du[j] = dpz;
  dx[H + j] = dpr;
  du[H + j] = dpr;
  dx[2 * H + j] = dph;
  du[2 * H + j] = dph * rg;
  dhp[dhp_off + e] = gh * zg;
}

#endif  // TG_KIND == 0

#undef TG_NAN
