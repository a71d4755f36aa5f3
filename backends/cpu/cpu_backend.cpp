// oneDNN-backed float32 kernels with a primitive cache keyed by descriptor.
#include "tapegrad/backends/cpu/cpu_backend.hpp"
#include "tapegrad/backends/cpu/cpu_backend_impl.hpp"

#include <array>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace tg {

namespace {
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

memory::dims to_dims(const Shape& s) { return memory::dims(s.begin(), s.end()); }

/// Memory descriptor of a float32 tensor; broadcast axes (stride 0) become size-1 axes.
memory::desc md_of(const Tensor& t, bool collapse_broadcast = false) {
  memory::dims dims = to_dims(t.shape()), strides(t.strides().begin(), t.strides().end());
  if (dims.empty()) {
    dims = {1};
    strides = {1};
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    if (strides[i] == 0 && collapse_broadcast) dims[i] = 1;
  }
  // Size-1 axes get the stride a row-major layout would give them, so that oneDNN recognises
  // plain layouts (and picks its optimised kernels) whatever stride the view carried.
  for (size_t i = dims.size(); i-- > 0;)
    if (dims[i] == 1) strides[i] = i + 1 < dims.size() ? strides[i + 1] * dims[i + 1] : 1;
  return memory::desc(dims, dt::f32, strides);
}

bool has_broadcast(const Tensor& t) {
  for (size_t i = 0; i < t.shape().size(); ++i)
    if (t.strides()[i] == 0 && t.shape()[i] != 1) return true;
  return false;
}

/// Descriptors of a binary op's a, b (broadcast axes: stride 0) and out over the fewest axes:
/// adjacent axes merge where every tensor stores the pair as one (row-major across it, or
/// broadcast across both in b), and size-1 axes drop. A per-channel bias over NHWC, for one,
/// becomes (N·H·W, C) + (1, C), the broadcast oneDNN's binary primitive does fastest.
std::array<memory::desc, 3> binary_mds(const Tensor& a, const Tensor& b, const Tensor& out) {
  const Tensor* ts[3] = {&a, &b, &out};
  memory::dims dims;
  memory::dims st[3];
  for (size_t j = 0; j < out.shape().size(); ++j) {
    const int64_t d = out.shape()[j];
    if (d == 1) continue;
    bool merge = !dims.empty();
    for (int k = 0; k < 3 && merge; ++k) merge = st[k].back() == ts[k]->strides()[j] * d;
    if (merge) {
      dims.back() *= d;
      for (int k = 0; k < 3; ++k) st[k].back() = ts[k]->strides()[j];
    } else {
      dims.push_back(d);
      for (int k = 0; k < 3; ++k) st[k].push_back(ts[k]->strides()[j]);
    }
  }
  if (dims.empty()) {
    dims = {1};
    for (auto& s : st) s = {1};
  }
  memory::dims bdims = dims;
  for (size_t i = 0; i < dims.size(); ++i)
    if (st[1][i] == 0) {
      bdims[i] = 1;
      st[1][i] = 1;  // rewritten below with the other size-1 axes
    }
  for (size_t i = bdims.size(); i-- > 0;)
    if (bdims[i] == 1) st[1][i] = i + 1 < bdims.size() ? st[1][i + 1] * bdims[i + 1] : 1;
  return {memory::desc(dims, dt::f32, st[0]), memory::desc(bdims, dt::f32, st[1]),
          memory::desc(dims, dt::f32, st[2])};
}

void append_key(std::string& k, const Tensor& t) {
  k += dtype_name(t.dtype());
  for (int64_t d : t.shape()) {
    k += ',';
    k += std::to_string(d);
  }
  k += '/';
  for (int64_t s : t.strides()) {
    k += ',';
    k += std::to_string(s);
  }
  k += ';';
}
}  // namespace

CpuBackend::CpuBackend() : impl_(new Impl) {}
CpuBackend::~CpuBackend() { delete impl_; }

PrimitiveCacheStats CpuBackend::cache_stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return {impl_->created, impl_->hits, impl_->cache.size()};
}

namespace {
/// oneDNN eltwise algorithm and (alpha, beta) for op, or false when oneDNN has none.
bool eltwise_algo(UnaryOp op, double p0, double p1, dnnl::algorithm* alg, float* alpha,
                  float* beta) {
  using A = dnnl::algorithm;
  *alpha = 0.f;
  *beta = 0.f;
  switch (op) {
    case UnaryOp::Neg:
      *alg = A::eltwise_linear;
      *alpha = -1.f;
      return true;
    case UnaryOp::Abs:
      *alg = A::eltwise_abs;
      return true;
    case UnaryOp::Exp:
      *alg = A::eltwise_exp;
      return true;
    case UnaryOp::Log:
      *alg = A::eltwise_log;
      return true;
    case UnaryOp::Sqrt:
      *alg = A::eltwise_sqrt;
      return true;
    case UnaryOp::Square:
      *alg = A::eltwise_square;
      return true;
    case UnaryOp::Tanh:
      *alg = A::eltwise_tanh;
      return true;
    case UnaryOp::Sigmoid:
      *alg = A::eltwise_logistic;
      return true;
    case UnaryOp::Relu:
      *alg = A::eltwise_relu;
      return true;
    case UnaryOp::LeakyRelu:
      *alg = A::eltwise_relu;
      *alpha = static_cast<float>(p0);
      return true;
    case UnaryOp::Elu:
      *alg = A::eltwise_elu;
      *alpha = static_cast<float>(p0);
      return true;
    case UnaryOp::Gelu:
      *alg = A::eltwise_gelu_erf;
      return true;
    case UnaryOp::GeluTanh:
      *alg = A::eltwise_gelu_tanh;
      return true;
    case UnaryOp::Softplus:
      *alg = A::eltwise_soft_relu;
      return true;
    case UnaryOp::PowScalar:
      *alg = A::eltwise_pow;
      *alpha = 1.f;
      *beta = static_cast<float>(p0);
      return true;
    case UnaryOp::Rsqrt:
      *alg = A::eltwise_pow;
      *alpha = 1.f;
      *beta = -0.5f;
      return true;
    case UnaryOp::Clip:
      *alg = A::eltwise_clip_v2;
      *alpha = static_cast<float>(p0);
      *beta = static_cast<float>(p1);
      return true;
    default:
      return false;
  }
}
}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  dnnl::algorithm alg;
  float alpha, beta;
  if (op == UnaryOp::Step && x.dtype() == kFloat32 && out.dtype() == kFloat32 &&
      x.numel() >= kEltwiseThreshold && x.is_contiguous() && out.is_contiguous()) {
    // relu's derivative mask (oneDNN has no step function): a parallel loop.
    const float* px = static_cast<const float*>(x.storage()->data()) + x.offset();
    float* po = static_cast<float*>(out.storage()->data()) + out.offset();  // may be x (in place)
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) po[i] = px[i] > 0.f ? 1.f : 0.f;
    return;
  }
  if (x.dtype() != kFloat32 || out.dtype() != kFloat32 || x.numel() < kEltwiseThreshold ||
      !x.is_contiguous() || !out.is_contiguous() || !eltwise_algo(op, p0, p1, &alg, &alpha, &beta))
    return ReferenceBackend::unary(op, x, out, p0, p1);
  memory::desc md({x.numel()}, dt::f32, tag::a);
  std::string key = "eltwise:" + std::to_string(static_cast<int>(op)) + ":" +
                    std::to_string(x.numel()) + ":" + std::to_string(alpha) + ":" +
                    std::to_string(beta);
  dnnl::primitive p = impl_->get(key, [&] {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, alg, md, alpha, beta);
    return dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, impl_->engine));
  });
  if (!p) return ReferenceBackend::unary(op, x, out, p0, p1);
  impl_->run("eltwise", p,
             {{DNNL_ARG_SRC, impl_->mem(md, x)}, {DNNL_ARG_DST, impl_->mem(md, out)}});
}

void CpuBackend::binary(BinaryOp op, const Tensor& a_in, const Tensor& b_in, const Tensor& out) {
  if (op == BinaryOp::ReluBackward && a_in.dtype() == kFloat32 && b_in.dtype() == kFloat32 &&
      out.numel() >= kEltwiseThreshold && a_in.is_contiguous() && b_in.is_contiguous() &&
      out.is_contiguous()) {
    const float* g = static_cast<const float*>(a_in.storage()->data()) + a_in.offset();
    const float* x = static_cast<const float*>(b_in.storage()->data()) + b_in.offset();
    float* o = static_cast<float*>(out.storage()->data()) + out.offset();
    const int64_t n = out.numel();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float gi = g[i];  // loaded unconditionally, so the select vectorises
      o[i] = x[i] > 0.f ? gi : 0.f;
    }
    return;
  }
  using A = dnnl::algorithm;
  A alg;
  bool commutative = true;
  switch (op) {
    case BinaryOp::Add:
      alg = A::binary_add;
      break;
    case BinaryOp::Sub:
      alg = A::binary_sub;
      commutative = false;
      break;
    case BinaryOp::Mul:
      alg = A::binary_mul;
      break;
    case BinaryOp::Div:
      alg = A::binary_div;
      commutative = false;
      break;
    case BinaryOp::Maximum:
      alg = A::binary_max;
      break;
    case BinaryOp::Minimum:
      alg = A::binary_min;
      break;
    default:
      return ReferenceBackend::binary(op, a_in, b_in, out);
  }
  const Tensor* a = &a_in;
  const Tensor* b = &b_in;
  if (has_broadcast(*a) && commutative) std::swap(a, b);  // oneDNN broadcasts src1 only
  if (a->dtype() != kFloat32 || out.numel() < kEltwiseThreshold || has_broadcast(*a) ||
      out.dim() > 12)
    return ReferenceBackend::binary(op, a_in, b_in, out);
  auto [amd, bmd, omd] = binary_mds(*a, *b, out);
  if (amd.dims().size() == 2 && bmd.dims()[0] == 1 && amd == omd &&
      amd == memory::desc(amd.dims(), dt::f32, tag::ab) && bmd.dims()[1] < 256) {
    // (M, C) op (1, C) with a short C: oneDNN's binary primitive is several times slower than
    // the memory traffic here (0.8 ms for a 64×26×26×32 bias add), a row loop is not. (a is
    // the operand without broadcast: only commutative ops were swapped.)
    const int64_t m = amd.dims()[0], c = amd.dims()[1],
                  bs = bmd.data.format_desc.blocking.strides[1];
    const float* pa = static_cast<const float*>(a->storage()->data()) + a->offset();
    const float* pb = static_cast<const float*>(b->storage()->data()) + b->offset();
    float* po = static_cast<float*>(out.storage()->data()) + out.offset();
    std::vector<float> row(static_cast<size_t>(c));
    for (int64_t j = 0; j < c; ++j) row[static_cast<size_t>(j)] = pb[j * bs];
    const float* __restrict r = row.data();
    auto rows = [&](auto f) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < m; ++i) {
        const float* x = pa + i * c;  // out may be a (in place): no restrict
        float* o = po + i * c;
        for (int64_t j = 0; j < c; ++j) o[j] = f(x[j], r[j]);
      }
    };
    switch (op) {
      case BinaryOp::Add:
        rows([](float x, float y) { return x + y; });
        return;
      case BinaryOp::Sub:
        rows([](float x, float y) { return x - y; });
        return;
      case BinaryOp::Mul:
        rows([](float x, float y) { return x * y; });
        return;
      case BinaryOp::Div:
        rows([](float x, float y) { return x / y; });
        return;
      default:
        break;
    }
  }
  std::string key = "binary:" + std::to_string(static_cast<int>(op)) + ":";
  append_key(key, *a);
  append_key(key, *b);
  append_key(key, out);
  // Copies of the bindings: a lambda may not capture structured bindings before clang 16.
  dnnl::primitive p = impl_->get(key, [&, amd = amd, bmd = bmd, omd = omd] {
    dnnl::binary::desc d(alg, amd, bmd, omd);
    return dnnl::binary(dnnl::binary::primitive_desc(d, impl_->engine));
  });
  if (!p) return ReferenceBackend::binary(op, a_in, b_in, out);
  impl_->run("binary", p,
             {{DNNL_ARG_SRC_0, impl_->mem(amd, *a)},
              {DNNL_ARG_SRC_1, impl_->mem(bmd, *b)},
              {DNNL_ARG_DST, impl_->mem(omd, out)}});
}

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  using A = dnnl::algorithm;
  A alg;
  switch (op) {
    case ReduceOp::Sum:
      alg = A::reduction_sum;
      break;
    case ReduceOp::Mean:
      alg = A::reduction_mean;
      break;
    case ReduceOp::Max:
      alg = A::reduction_max;
      break;
    case ReduceOp::Min:
      alg = A::reduction_min;
      break;
    case ReduceOp::Prod:
      alg = A::reduction_mul;
      break;
  }
  if (x.dtype() != kFloat32 || x.numel() < kEltwiseThreshold || has_broadcast(x) ||
      x.numel() == out.numel() || x.dim() == 0)
    return ReferenceBackend::reduce(op, x, out);
  if (x.is_contiguous() && out.is_contiguous() && (op == ReduceOp::Sum || op == ReduceOp::Mean)) {
    // Reductions over a leading block of axes (a bias gradient: sum over batch and space) are
    // column sums; over a trailing block, row sums. Plain loops vectorise well here.
    int64_t lead = 0;
    while (lead < x.dim() && out.shape()[lead] == 1 && x.shape()[lead] != 1) ++lead;
    bool prefix = lead > 0, suffix = false;
    for (int64_t d = lead; d < x.dim(); ++d) prefix &= out.shape()[d] == x.shape()[d];
    int64_t keep = 0;
    while (keep < x.dim() && out.shape()[keep] == x.shape()[keep]) ++keep;
    if (!prefix) {
      suffix = keep < x.dim();
      for (int64_t d = keep; d < x.dim(); ++d) suffix &= out.shape()[d] == 1;
    }
    if (prefix || suffix) {
      const float* src = static_cast<const float*>(x.storage()->data()) + x.offset();
      float* dst = static_cast<float*>(out.storage()->data()) + out.offset();
      const int64_t n_out = out.numel(), n = x.numel() / n_out;
      const double scale = op == ReduceOp::Mean ? 1.0 / static_cast<double>(n) : 1.0;
      if (prefix) {
        // Column sums (bias gradients): blocks of rows in parallel, each into its own double
        // accumulator, the partial sums then added in block order.
        // (Wide outputs, whose extra accumulators would cost more than they save, stay serial.)
        const int64_t blocks =
            x.numel() >= (1 << 16) && n_out <= (1 << 16) ? std::min<int64_t>(n, 8) : 1;
        std::vector<double> acc(static_cast<size_t>(blocks * n_out), 0.0);
#pragma omp parallel for schedule(static) if (blocks > 1)
        for (int64_t k = 0; k < blocks; ++k) {
          double* a = acc.data() + k * n_out;
          for (int64_t r = n * k / blocks; r < n * (k + 1) / blocks; ++r) {
            const float* row = src + r * n_out;
            for (int64_t c = 0; c < n_out; ++c) a[c] += row[c];
          }
        }
        for (int64_t c = 0; c < n_out; ++c) {
          double t = 0;
          for (int64_t k = 0; k < blocks; ++k) t += acc[static_cast<size_t>(k * n_out + c)];
          dst[c] = static_cast<float>(t * scale);
        }
      } else {
        for (int64_t r = 0; r < n_out; ++r) {
          const float* row = src + r * n;
          double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
          int64_t c = 0;
          for (; c + 4 <= n; c += 4) {
            a0 += row[c];
            a1 += row[c + 1];
            a2 += row[c + 2];
            a3 += row[c + 3];
          }
          for (; c < n; ++c) a0 += row[c];
          dst[r] = static_cast<float>((a0 + a1 + a2 + a3) * scale);
        }
      }
      return;
    }
  }
  memory::desc xmd = md_of(x), omd = md_of(out);
  std::string key = "reduce:" + std::to_string(static_cast<int>(op)) + ":";
  append_key(key, x);
  append_key(key, out);
  dnnl::primitive p = impl_->get(key, [&] {
    dnnl::reduction::desc d(alg, xmd, omd, 0.f, 0.f);
    return dnnl::reduction(dnnl::reduction::primitive_desc(d, impl_->engine));
  });
  if (!p) return ReferenceBackend::reduce(op, x, out);
  impl_->run("reduction", p,
             {{DNNL_ARG_SRC, impl_->mem(xmd, x)}, {DNNL_ARG_DST, impl_->mem(omd, out)}});
}

void CpuBackend::matmul(const Tensor& a_in, const Tensor& b_in, const Tensor& out) {
  if (out.dtype() != kFloat32 || out.dim() > 12 || out.numel() == 0 || a_in.shape().back() == 0)
    return ReferenceBackend::matmul(a_in, b_in, out);
  // Tiny products are faster as plain loops than as a primitive execution.
  const int64_t flops = out.numel() * a_in.shape().back();
  if (flops < 4096) return ReferenceBackend::matmul(a_in, b_in, out);
  // oneDNN broadcasts batch axes only: an operand broadcast inside its matrix (stride 0 on one
  // of the last two axes, e.g. the expanded gradient of sum(matmul(a, b))) is materialised.
  auto dense = [this](const Tensor& t) {
    for (int64_t d = t.dim() - 2; d < t.dim(); ++d) {
      if (t.strides()[d] == 0 && t.shape()[d] != 1) {
        Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
        copy(t, c);
        return c;
      }
    }
    return t;
  };
  const Tensor a = dense(a_in), b = dense(b_in);
  memory::desc amd = md_of(a, true), bmd = md_of(b, true), omd = md_of(out);
  if (out.dim() == 0) return ReferenceBackend::matmul(a, b, out);
  std::string key = "matmul:";
  append_key(key, a);
  append_key(key, b);
  append_key(key, out);
  dnnl::primitive p = impl_->get(key, [&] {
    dnnl::matmul::desc d(amd, bmd, omd);
    return dnnl::matmul(dnnl::matmul::primitive_desc(d, impl_->engine));
  });
  if (!p) return ReferenceBackend::matmul(a_in, b_in, out);
  impl_->run("matmul", p,
             {{DNNL_ARG_SRC, impl_->mem(amd, a)},
              {DNNL_ARG_WEIGHTS, impl_->mem(bmd, b)},
              {DNNL_ARG_DST, impl_->mem(omd, out)}});
}

void CpuBackend::softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) {
  if (x.dtype() != kFloat32 || x.numel() < 1024 || has_broadcast(x))
    return ReferenceBackend::softmax(x, axis, log, out);
  memory::desc xmd = md_of(x), omd = md_of(out);
  std::string key = std::string(log ? "logsoftmax:" : "softmax:") + std::to_string(axis) + ":";
  append_key(key, x);
  append_key(key, out);
  dnnl::primitive p = impl_->get(key, [&] {
    dnnl::softmax_v2_forward::desc d(
        dnnl::prop_kind::forward_inference,
        log ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate, xmd, omd,
        static_cast<int>(axis));
    return dnnl::softmax_v2_forward(dnnl::softmax_v2_forward::primitive_desc(d, impl_->engine));
  });
  if (!p) return ReferenceBackend::softmax(x, axis, log, out);
  impl_->run("softmax", p,
             {{DNNL_ARG_SRC, impl_->mem(xmd, x)}, {DNNL_ARG_DST, impl_->mem(omd, out)}});
}

Support CpuBackend::supports(Kernel k, DType dt) const {
  if (!kernel_domain_has(k, dt)) return Support::None;
  if (dt != kFloat32) return Support::Fallback;
  switch (k) {
    case Kernel::Unary:
    case Kernel::Binary:
    case Kernel::Reduce:
    case Kernel::Matmul:
    case Kernel::Softmax:
    case Kernel::Conv2d:
    case Kernel::Conv2dBackwardInput:
    case Kernel::Conv2dBackwardWeight:
    case Kernel::MaxPool2d:
    case Kernel::MaxPool2dBackward:
    case Kernel::AvgPool2d:
    case Kernel::AvgPool2dBackward:
    case Kernel::BatchNorm:
    case Kernel::BatchNormBackward:
    case Kernel::RnnForward:
    case Kernel::RnnBackward:
      return Support::Native;
    default:
      return Support::Fallback;
  }
}

Backend& cpu_backend() {
  static CpuBackend* b = new CpuBackend();  // never destroyed: tensors may outlive main
  return *b;
}

PrimitiveCacheStats cpu_primitive_cache_stats() {
  return static_cast<CpuBackend&>(cpu_backend()).cache_stats();
}

}  // namespace tg
