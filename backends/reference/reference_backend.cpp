// Reference kernels: strided loops, accumulation in double for floats and int64 for integers.
#include "tapegrad/backends/reference/reference_backend.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "tapegrad/backends/reference/elementwise.hpp"
#include "tapegrad/backends/reference/strided_loop.hpp"

namespace tg {

using reference::strided_loop;

namespace {

template <class T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.storage()->data());  // offsets are added by strided_loop
}

/// Accumulator type of a reduction over T.
template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

/// Strides of x with the entries of axes where `keep` has size 1 (and x not) set to 0.
Strides reduced_strides(const Tensor& x, const Tensor& keep) {
  Strides s = keep.strides();
  for (int64_t d = 0; d < x.dim(); ++d)
    if (keep.shape()[d] == 1 && x.shape()[d] != 1) s[d] = 0;
  return s;
}

/// Shape and strides of t with axis removed (for iterating the lines along axis).
struct Lines {
  Shape shape;
  std::vector<Strides> strides;
};
Lines lines_except(int64_t axis, std::initializer_list<const Tensor*> ts) {
  Lines l;
  const Tensor& first = **ts.begin();
  for (int64_t d = 0; d < first.dim(); ++d)
    if (d != axis) l.shape.push_back(first.shape()[d]);
  for (const Tensor* t : ts) {
    Strides s;
    for (int64_t d = 0; d < t->dim(); ++d)
      if (d != axis) s.push_back(t->strides()[d]);
    l.strides.push_back(s);
  }
  return l;
}

}  // namespace

CachingAllocator& ReferenceBackend::allocator() { return cpu_allocator(); }

void ReferenceBackend::copy_from_host(const void* src, const Tensor& dst) {
  std::memcpy(static_cast<char*>(dst.storage()->data()) + dst.offset() * dtype_size(dst.dtype()),
              src, dst.numel() * dtype_size(dst.dtype()));
}

void ReferenceBackend::copy_to_host(const Tensor& src, void* dst) {
  std::memcpy(
      dst, static_cast<const char*>(src.storage()->data()) + src.offset() * dtype_size(src.dtype()),
      src.numel() * dtype_size(src.dtype()));
}

namespace {
/// Runs f(begin, end) over [0, n) in chunks, split over the OpenMP threads when n is large.
template <class F>
void for_chunks(int64_t n, F f) {
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) f(c * kChunk, std::min(n, (c + 1) * kChunk));
}
}  // namespace

void ReferenceBackend::fill(const Tensor& dst, double value) {
  dispatch_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = ptr<T>(dst);
    T v = static_cast<T>(value);
    if (dst.is_contiguous()) {
      T* c = d + dst.offset();
      for_chunks(dst.numel(), [&](int64_t b, int64_t e) { std::fill(c + b, c + e, v); });
      return;
    }
    strided_loop<1>(dst.shape(), {&dst.strides()}, {dst.offset()},
                    [&](const auto& o) { d[o[0]] = v; });
  });
}

void ReferenceBackend::copy(const Tensor& src, const Tensor& dst) {
  dispatch_dtype(src.dtype(), [&](auto stag) {
    using S = decltype(stag);
    dispatch_dtype(dst.dtype(), [&](auto dtag) {
      using D = decltype(dtag);
      const S* s = ptr<S>(src);
      D* d = ptr<D>(dst);
      // Contiguous on both sides and in distinct storages (a copy within one storage may
      // overlap, which parallel chunks would race on): chunks in parallel.
      if (dst.is_contiguous() && src.is_contiguous() && dst.storage() != src.storage()) {
        const S* cs = s + src.offset();
        D* cd = d + dst.offset();
        for_chunks(dst.numel(), [&](int64_t b, int64_t e) {
          if constexpr (std::is_same_v<S, D>)
            std::copy(cs + b, cs + e, cd + b);
          else
            for (int64_t i = b; i < e; ++i) cd[i] = static_cast<D>(cs[i]);
        });
        return;
      }
      strided_loop<2>(dst.shape(), {&dst.strides(), &src.strides()}, {dst.offset(), src.offset()},
                      [&](const auto& o) { d[o[0]] = static_cast<D>(s[o[1]]); });
    });
  });
}

void ReferenceBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = ptr<T>(x);
    if (op == UnaryOp::LogicalNot) {  // bool result for any input dtype
      bool* d = ptr<bool>(out);
      strided_loop<2>(out.shape(), {&out.strides(), &x.strides()}, {out.offset(), x.offset()},
                      [&](const auto& o) { d[o[0]] = s[o[1]] == T(0); });
      return;
    }
    T* d = ptr<T>(out);
    if (x.is_contiguous() && out.is_contiguous()) {
      const T* xs = s + x.offset();
      T* ds = d + out.offset();
      const int64_t n = out.numel();
      // The op becomes a compile-time constant, so the loop body has no switch.
      auto loop = [&](auto op_c) {
        for (int64_t i = 0; i < n; ++i)
          ds[i] = reference::unary_scalar<T>(decltype(op_c)::value, xs[i], p0, p1);
      };
      switch (op) {
#define TG_UNARY_CASE(NAME) \
  case UnaryOp::NAME:       \
    return loop(std::integral_constant<UnaryOp, UnaryOp::NAME>{});
        TG_UNARY_CASE(Neg)
        TG_UNARY_CASE(Abs)
        TG_UNARY_CASE(Sign)
        TG_UNARY_CASE(Exp) TG_UNARY_CASE(Log) TG_UNARY_CASE(Log1p) TG_UNARY_CASE(Expm1)
            TG_UNARY_CASE(Sqrt) TG_UNARY_CASE(Rsqrt) TG_UNARY_CASE(Square) TG_UNARY_CASE(Sin)
                TG_UNARY_CASE(Cos) TG_UNARY_CASE(Tanh) TG_UNARY_CASE(Sigmoid) TG_UNARY_CASE(Relu)
                    TG_UNARY_CASE(LeakyRelu) TG_UNARY_CASE(Elu) TG_UNARY_CASE(Selu)
                        TG_UNARY_CASE(Gelu) TG_UNARY_CASE(GeluTanh) TG_UNARY_CASE(Softplus)
                            TG_UNARY_CASE(Softsign) TG_UNARY_CASE(Erf) TG_UNARY_CASE(PowScalar)
                                TG_UNARY_CASE(Clip) TG_UNARY_CASE(LogicalNot) TG_UNARY_CASE(Step)
#undef TG_UNARY_CASE
      }
      return;
    }
    strided_loop<2>(
        out.shape(), {&out.strides(), &x.strides()}, {out.offset(), x.offset()},
        [&](const auto& o) { d[o[0]] = reference::unary_scalar<T>(op, s[o[1]], p0, p1); });
  });
}

void ReferenceBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    const std::array<const Strides*, 3> st{&out.strides(), &a.strides(), &b.strides()};
    const std::array<int64_t, 3> base{out.offset(), a.offset(), b.offset()};
    if (!reference::is_comparison(op) && a.is_contiguous() && b.is_contiguous() &&
        out.is_contiguous()) {
      // Flat loop: the common case of same-shape contiguous operands.
      const T* x = pa + a.offset();
      const T* y = pb + b.offset();
      T* d = ptr<T>(out) + out.offset();
      const int64_t n = out.numel();
      switch (op) {
        case BinaryOp::Add:
          for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(x[i] + y[i]);
          return;
        case BinaryOp::Mul:
          for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(x[i] * y[i]);
          return;
        default:
          for (int64_t i = 0; i < n; ++i) d[i] = reference::binary_scalar<T>(op, x[i], y[i]);
          return;
      }
    }
    if (reference::is_comparison(op)) {
      bool* d = ptr<bool>(out);
      strided_loop<3>(out.shape(), st, base, [&](const auto& o) {
        d[o[0]] = reference::compare_scalar<T>(op, pa[o[1]], pb[o[2]]);
      });
    } else {
      T* d = ptr<T>(out);
      strided_loop<3>(out.shape(), st, base, [&](const auto& o) {
        d[o[0]] = reference::binary_scalar<T>(op, pa[o[1]], pb[o[2]]);
      });
    }
  });
}

void ReferenceBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b,
                             const Tensor& out) {
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const bool* c = ptr<bool>(cond);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    T* d = ptr<T>(out);
    strided_loop<4>(out.shape(), {&out.strides(), &cond.strides(), &a.strides(), &b.strides()},
                    {out.offset(), cond.offset(), a.offset(), b.offset()},
                    [&](const auto& o) { d[o[0]] = c[o[1]] ? pa[o[2]] : pb[o[3]]; });
  });
}

void ReferenceBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    const int64_t n_out = out.numel();
    const int64_t count = n_out == 0 ? 0 : x.numel() / n_out;
    A init = 0;
    if (op == ReduceOp::Prod) init = 1;
    if (op == ReduceOp::Max) init = std::numeric_limits<A>::lowest();
    if (op == ReduceOp::Min) init = std::numeric_limits<A>::max();
    if constexpr (std::is_floating_point_v<A>) {
      if (op == ReduceOp::Max) init = -std::numeric_limits<A>::infinity();
      if (op == ReduceOp::Min) init = std::numeric_limits<A>::infinity();
    }
    // Accumulate in a contiguous buffer indexed like `out`.
    std::vector<A> acc(static_cast<size_t>(n_out), init);
    Tensor keep = Tensor::make_view(out.storage(), out.shape(), contiguous_strides(out.shape()), 0,
                                    out.dtype());
    Strides acc_strides = reduced_strides(x, keep);
    const T* s = ptr<T>(x);
    strided_loop<2>(x.shape(), {&x.strides(), &acc_strides}, {x.offset(), 0}, [&](const auto& o) {
      A v = static_cast<A>(s[o[0]]);
      A& a = acc[o[1]];
      switch (op) {
        case ReduceOp::Sum:
        case ReduceOp::Mean:
          a += v;
          break;
        case ReduceOp::Prod:
          a *= v;
          break;
        case ReduceOp::Max:
          a = (v > a || v != v) ? v : a;
          break;
        case ReduceOp::Min:
          a = (v < a || v != v) ? v : a;
          break;
      }
    });
    T* d = ptr<T>(out);
    Strides cs = contiguous_strides(out.shape());
    strided_loop<2>(out.shape(), {&out.strides(), &cs}, {out.offset(), 0}, [&](const auto& o) {
      A v = acc[o[1]];
      // The mean of an empty axis is NaN (NumPy, PyTorch).
      if (op == ReduceOp::Mean) v = count ? v / static_cast<A>(count) : std::numeric_limits<A>::quiet_NaN();
      d[o[0]] = static_cast<T>(v);
    });
  });
}

void ReferenceBackend::arg_reduce(bool is_max, const Tensor& x, int64_t axis, const Tensor& out) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = ptr<T>(x);
    int64_t* d = ptr<int64_t>(out);
    const int64_t n = x.shape()[axis], xs = x.strides()[axis];
    Lines l = lines_except(axis, {&out, &x});
    strided_loop<2>(l.shape, {&l.strides[0], &l.strides[1]}, {out.offset(), x.offset()},
                    [&](const auto& o) {
                      int64_t best = 0;
                      T bv = s[o[1]];
                      for (int64_t i = 1; i < n; ++i) {
                        T v = s[o[1] + i * xs];
                        if (bv != bv) break;  // NaN wins, as NumPy
                        if (v != v || (is_max ? v > bv : v < bv)) {
                          bv = v;
                          best = i;
                        }
                      }
                      d[o[0]] = best;
                    });
  });
}

void ReferenceBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    const int64_t r = out.dim();
    const int64_t M = out.shape()[r - 2], N = out.shape()[r - 1], K = a.shape()[r - 1];
    const int64_t am = a.strides()[r - 2], ak = a.strides()[r - 1];
    const int64_t bk = b.strides()[r - 2], bn = b.strides()[r - 1];
    const int64_t om = out.strides()[r - 2], on = out.strides()[r - 1];
    Shape batch(out.shape().begin(), out.shape().end() - 2);
    Strides sa(a.strides().begin(), a.strides().end() - 2);
    Strides sb(b.strides().begin(), b.strides().end() - 2);
    Strides so(out.strides().begin(), out.strides().end() - 2);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    T* po = ptr<T>(out);
    std::vector<A> row(static_cast<size_t>(N));
    strided_loop<3>(batch, {&so, &sa, &sb}, {out.offset(), a.offset(), b.offset()},
                    [&](const auto& o) {
                      for (int64_t i = 0; i < M; ++i) {
                        std::fill(row.begin(), row.end(), A(0));
                        for (int64_t k = 0; k < K; ++k) {
                          A av = static_cast<A>(pa[o[1] + i * am + k * ak]);
                          const T* brow = pb + o[2] + k * bk;
                          for (int64_t j = 0; j < N; ++j)
                            row[j] += av * static_cast<A>(brow[j * bn]);
                        }
                        for (int64_t j = 0; j < N; ++j)
                          po[o[0] + i * om + j * on] = static_cast<T>(row[j]);
                      }
                    });
  });
}

void ReferenceBackend::softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const T* s = ptr<T>(x);
      T* d = ptr<T>(out);
      const int64_t n = x.shape()[axis], xs = x.strides()[axis], os = out.strides()[axis];
      Lines l = lines_except(axis, {&out, &x});
      strided_loop<2>(l.shape, {&l.strides[0], &l.strides[1]}, {out.offset(), x.offset()},
                      [&](const auto& o) {
                        double m = -std::numeric_limits<double>::infinity();
                        for (int64_t i = 0; i < n; ++i) m = std::max<double>(m, s[o[1] + i * xs]);
                        double sum = 0;
                        for (int64_t i = 0; i < n; ++i) sum += std::exp(s[o[1] + i * xs] - m);
                        double lse = m + std::log(sum);
                        for (int64_t i = 0; i < n; ++i) {
                          double v = s[o[1] + i * xs];
                          d[o[0] + i * os] = static_cast<T>(log ? v - lse : std::exp(v - lse));
                        }
                      });
    } else {
      fail<BackendError>("reference softmax: needs a floating dtype");
    }
  });
}

void ReferenceBackend::cumsum(const Tensor& x, int64_t axis, const Tensor& out) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    const T* s = ptr<T>(x);
    T* d = ptr<T>(out);
    const int64_t n = x.shape()[axis], xs = x.strides()[axis], os = out.strides()[axis];
    Lines l = lines_except(axis, {&out, &x});
    strided_loop<2>(l.shape, {&l.strides[0], &l.strides[1]}, {out.offset(), x.offset()},
                    [&](const auto& o) {
                      A acc = 0;
                      for (int64_t i = 0; i < n; ++i) {
                        acc += static_cast<A>(s[o[1] + i * xs]);
                        d[o[0] + i * os] = static_cast<T>(acc);
                      }
                    });
  });
}

void ReferenceBackend::gather(const Tensor& x, int64_t axis, const Tensor& index,
                              const Tensor& out) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = ptr<T>(x);
    const int64_t* ix = ptr<int64_t>(index);
    T* d = ptr<T>(out);
    // Whole rows picked along axis 0 (index_select of samples, a shuffled batch): row copies.
    bool rows = axis == 0 && x.dim() > 0 && x.is_contiguous() && out.is_contiguous();
    for (int64_t k = 1; rows && k < index.dim(); ++k)
      rows = index.strides()[k] == 0 || index.shape()[k] == 1;
    if (rows) {
      const int64_t row = out.dim() > 0 ? out.numel() / std::max<int64_t>(out.shape()[0], 1) : 1;
      const int64_t xrow = x.numel() / std::max<int64_t>(x.shape()[0], 1);
      if (row == xrow) {
        for (int64_t r = 0; r < out.shape()[0]; ++r)
          std::memcpy(d + out.offset() + r * row,
                      s + x.offset() + ix[index.offset() + r * index.strides()[0]] * row,
                      static_cast<size_t>(row) * sizeof(T));
        return;
      }
    }
    Strides xs = x.strides();
    const int64_t step = xs[axis];
    xs[axis] = 0;
    strided_loop<3>(out.shape(), {&out.strides(), &index.strides(), &xs},
                    {out.offset(), index.offset(), x.offset()},
                    [&](const auto& o) { d[o[0]] = s[o[2] + ix[o[1]] * step]; });
  });
}

void ReferenceBackend::scatter_add(const Tensor& dst, int64_t axis, const Tensor& index,
                                   const Tensor& src) {
  dispatch_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = ptr<T>(dst);
    const int64_t* ix = ptr<int64_t>(index);
    const T* s = ptr<T>(src);
    Strides ds = dst.strides();
    const int64_t step = ds[axis];
    ds[axis] = 0;
    strided_loop<3>(src.shape(), {&src.strides(), &index.strides(), &ds},
                    {src.offset(), index.offset(), dst.offset()}, [&](const auto& o) {
                      T& slot = d[o[2] + ix[o[1]] * step];
                      slot = static_cast<T>(slot + s[o[0]]);
                    });
  });
}

void ReferenceBackend::random(const Tensor& out, Distribution dist, double a, double b,
                              uint64_t seed, uint64_t offset) {
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = ptr<T>(out) + out.offset();
    const int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t c = offset + static_cast<uint64_t>(i);
      double v = dist == Distribution::Uniform ? a + (b - a) * reference::random_uniform01(seed, c)
                                               : a + b * reference::random_normal(seed, c);
      if constexpr (std::is_floating_point_v<T>) {
        T tv = static_cast<T>(v);
        if (dist == Distribution::Uniform && tv >= static_cast<T>(b)) tv = static_cast<T>(a);
        d[i] = tv;
      } else {
        d[i] = static_cast<T>(std::floor(v));
      }
    }
  });
}

// ---- CTC loss: log-space forward (alpha) and backward (beta) recursions per sample ----

namespace {
/// log(e^a + e^b) without overflow; −inf when both are −inf.
inline double log_add(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  return std::max(a, b) + std::log1p(std::exp(-std::abs(a - b)));
}
}  // namespace

void ReferenceBackend::ctc_loss(const Tensor& log_probs, const Tensor& labels,
                                const Tensor& label_lengths, const Tensor& input_lengths,
                                int64_t blank, const Tensor& loss, const Tensor& grad) {
  dispatch_dtype(log_probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_floating_point_v<T>) {
      fail<BackendError>("reference ctc_loss: needs a floating dtype");
    } else {
      constexpr double kNegInf = -std::numeric_limits<double>::infinity();
      const T* lp = ptr<T>(log_probs);
      const int64_t* lab = ptr<int64_t>(labels);
      const int64_t* lab_len = ptr<int64_t>(label_lengths);
      const int64_t* in_len = ptr<int64_t>(input_lengths);
      T* out = ptr<T>(loss);
      T* g = grad.defined() ? ptr<T>(grad) : nullptr;
      const int64_t N = log_probs.shape()[0], Tmax = log_probs.shape()[1];
      const int64_t C = log_probs.shape()[2];
      const Strides& xs = log_probs.strides();
      std::vector<int64_t> ext;  // the label with blanks around and between: l'_s
      std::vector<double> alpha, beta, occ;
      for (int64_t n = 0; n < N; ++n) {
        const int64_t Tn = in_len[input_lengths.offset() + n * input_lengths.strides()[0]];
        const int64_t L = lab_len[label_lengths.offset() + n * label_lengths.strides()[0]];
        const int64_t S = 2 * L + 1;
        const int64_t base = log_probs.offset() + n * xs[0];
        auto at = [&](int64_t t, int64_t c) {
          return static_cast<double>(lp[base + t * xs[1] + c * xs[2]]);
        };
        ext.assign(static_cast<size_t>(S), blank);
        int64_t repeats = 0;
        for (int64_t i = 0; i < L; ++i) {
          ext[2 * i + 1] = lab[labels.offset() + n * labels.strides()[0] + i * labels.strides()[1]];
          if (i > 0 && ext[2 * i + 1] == ext[2 * i - 1]) ++repeats;  // needs a blank between
        }
        // A skip s−2 → s is allowed onto a label that differs from the label before it.
        auto skip_to = [&](int64_t s) { return s >= 2 && ext[s] != blank && ext[s] != ext[s - 2]; };
        double log_p = kNegInf;
        if (Tn == 0) {
          if (L == 0) log_p = 0.0;  // the empty label over no frames
        } else if (Tn >= L + repeats) {
          alpha.assign(static_cast<size_t>(Tn * S), kNegInf);
          alpha[0] = at(0, ext[0]);
          if (S > 1) alpha[1] = at(0, ext[1]);
          for (int64_t t = 1; t < Tn; ++t) {
            const double* prev = &alpha[(t - 1) * S];
            double* cur = &alpha[t * S];
            for (int64_t s = 0; s < S; ++s) {
              double a = prev[s];
              if (s >= 1) a = log_add(a, prev[s - 1]);
              if (skip_to(s)) a = log_add(a, prev[s - 2]);
              cur[s] = a == kNegInf ? kNegInf : a + at(t, ext[s]);
            }
          }
          const double* last = &alpha[(Tn - 1) * S];
          log_p = S > 1 ? log_add(last[S - 1], last[S - 2]) : last[S - 1];
        }
        out[loss.offset() + n * loss.strides()[0]] = static_cast<T>(-log_p);  // +inf: infeasible
        if (!g) continue;
        const Strides& gs = grad.strides();
        const int64_t gbase = grad.offset() + n * gs[0];
        for (int64_t t = 0; t < Tmax; ++t)
          for (int64_t c = 0; c < C; ++c) g[gbase + t * gs[1] + c * gs[2]] = T(0);
        if (Tn == 0 || !std::isfinite(log_p)) continue;  // no alignment: zero gradient
        // beta_t(s): log-probability of finishing from state s at time t (emission at t included).
        beta.assign(static_cast<size_t>(Tn * S), kNegInf);
        beta[(Tn - 1) * S + S - 1] = at(Tn - 1, ext[S - 1]);
        if (S > 1) beta[(Tn - 1) * S + S - 2] = at(Tn - 1, ext[S - 2]);
        for (int64_t t = Tn - 2; t >= 0; --t) {
          const double* next = &beta[(t + 1) * S];
          double* cur = &beta[t * S];
          for (int64_t s = 0; s < S; ++s) {
            double b = next[s];
            if (s + 1 < S) b = log_add(b, next[s + 1]);
            if (s + 2 < S && skip_to(s + 2)) b = log_add(b, next[s + 2]);
            cur[s] = b == kNegInf ? kNegInf : b + at(t, ext[s]);
          }
        }
        // ∂loss/∂log_probs[t, c] = −Σ_{s: l'_s = c} α_t(s) β_t(s) / (y_t(c) p): minus the
        // posterior occupation of class c at time t.
        occ.assign(static_cast<size_t>(C), 0.0);
        for (int64_t t = 0; t < Tn; ++t) {
          std::fill(occ.begin(), occ.end(), 0.0);
          for (int64_t s = 0; s < S; ++s) {
            const double ab = alpha[t * S + s] + beta[t * S + s];
            if (ab == kNegInf) continue;
            occ[ext[s]] += std::exp(ab - at(t, ext[s]) - log_p);
          }
          for (int64_t c = 0; c < C; ++c)
            g[gbase + t * gs[1] + c * gs[2]] = static_cast<T>(-occ[c]);
        }
      }
    }
  });
}

Support ReferenceBackend::supports(Kernel k, DType dt) const {
  if (!kernel_domain_has(k, dt)) return Support::None;
  switch (k) {
    case Kernel::MaxPool2dBackward:  // Backend's default: fill + scatter_add
    case Kernel::RnnForward:         // no whole-sequence kernel: the op runs the cell per step
    case Kernel::RnnBackward:
      return Support::Fallback;
    default:
      return Support::Native;
  }
}

Backend& reference_backend() {
  static ReferenceBackend* b = new ReferenceBackend();  // never destroyed: tensors may outlive main
  return *b;
}

}  // namespace tg
