// Matrix products on OpenCL: CLBlast GEMM (single, folded, strided-batched or one call per batch)
// for float32/float64, a plain kernel for integer dtypes.
#include "tapegrad/backends/opencl/opencl_runtime.hpp"
// clblast.h after opencl_runtime.hpp, which fixes the OpenCL target version.
#include <clblast.h>

#include "tapegrad/backends/opencl/opencl_backend.hpp"
#include "tapegrad/backends/opencl/opencl_blas.hpp"

namespace tg {

using opencl::Geom;
using opencl::make_geom;
using opencl::mem;

namespace {

const char* clblast_status_name(clblast::StatusCode s) {
  using S = clblast::StatusCode;
  switch (s) {
    case S::kSuccess:
      return "kSuccess";
    case S::kOpenCLCompilerNotAvailable:
      return "kOpenCLCompilerNotAvailable";
    case S::kTempBufferAllocFailure:
      return "kTempBufferAllocFailure (out of device memory)";
    case S::kOpenCLOutOfResources:
      return "kOpenCLOutOfResources (out of device memory or resources)";
    case S::kOpenCLOutOfHostMemory:
      return "kOpenCLOutOfHostMemory";
    case S::kOpenCLBuildProgramFailure:
      return "kOpenCLBuildProgramFailure";
    case S::kInvalidValue:
      return "kInvalidValue";
    case S::kInvalidCommandQueue:
      return "kInvalidCommandQueue";
    case S::kInvalidMemObject:
      return "kInvalidMemObject";
    case S::kInvalidBinary:
      return "kInvalidBinary";
    case S::kInvalidBuildOptions:
      return "kInvalidBuildOptions";
    case S::kInvalidProgram:
      return "kInvalidProgram";
    case S::kInvalidProgramExecutable:
      return "kInvalidProgramExecutable";
    case S::kInvalidKernelName:
      return "kInvalidKernelName";
    case S::kInvalidKernelDefinition:
      return "kInvalidKernelDefinition";
    case S::kInvalidKernel:
      return "kInvalidKernel";
    case S::kInvalidArgIndex:
      return "kInvalidArgIndex";
    case S::kInvalidArgValue:
      return "kInvalidArgValue";
    case S::kInvalidArgSize:
      return "kInvalidArgSize";
    case S::kInvalidKernelArgs:
      return "kInvalidKernelArgs";
    case S::kInvalidLocalNumDimensions:
      return "kInvalidLocalNumDimensions";
    case S::kInvalidLocalThreadsTotal:
      return "kInvalidLocalThreadsTotal";
    case S::kInvalidLocalThreadsDim:
      return "kInvalidLocalThreadsDim";
    case S::kInvalidGlobalOffset:
      return "kInvalidGlobalOffset";
    case S::kInvalidEventWaitList:
      return "kInvalidEventWaitList";
    case S::kInvalidEvent:
      return "kInvalidEvent";
    case S::kInvalidOperation:
      return "kInvalidOperation";
    case S::kInvalidBufferSize:
      return "kInvalidBufferSize";
    case S::kInvalidGlobalWorkSize:
      return "kInvalidGlobalWorkSize";
    case S::kNotImplemented:
      return "kNotImplemented";
    case S::kInvalidMatrixA:
      return "kInvalidMatrixA";
    case S::kInvalidMatrixB:
      return "kInvalidMatrixB";
    case S::kInvalidMatrixC:
      return "kInvalidMatrixC";
    case S::kInvalidDimension:
      return "kInvalidDimension";
    case S::kInvalidLeadDimA:
      return "kInvalidLeadDimA";
    case S::kInvalidLeadDimB:
      return "kInvalidLeadDimB";
    case S::kInvalidLeadDimC:
      return "kInvalidLeadDimC";
    case S::kInsufficientMemoryA:
      return "kInsufficientMemoryA";
    case S::kInsufficientMemoryB:
      return "kInsufficientMemoryB";
    case S::kInsufficientMemoryC:
      return "kInsufficientMemoryC";
    case S::kInsufficientMemoryTemp:
      return "kInsufficientMemoryTemp";
    case S::kInvalidBatchCount:
      return "kInvalidBatchCount";
    case S::kInvalidLocalMemUsage:
      return "kInvalidLocalMemUsage";
    case S::kNoDoublePrecision:
      return "kNoDoublePrecision";
    case S::kDatabaseError:
      return "kDatabaseError";
    case S::kUnknownError:
      return "kUnknownError";
    case S::kUnexpectedError:
      return "kUnexpectedError";
    default:
      return "unnamed status";
  }
}

void check_blas(clblast::StatusCode s, const char* routine, Device d) {
  if (s != clblast::StatusCode::kSuccess)
    fail<BackendError>("opencl: CLBlast ", routine, " failed on ", d, ": ", clblast_status_name(s),
                       " (", static_cast<int>(s), ")");
}

/// How a [R, C] matrix with strides (sr, sc) is handed to a row-major GEMM: as is with leading
/// dimension ld, transposed (a row-major [C, R] with ld), or not at all.
struct MatView {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};
MatView gemm_view(int64_t R, int64_t C, int64_t sr, int64_t sc) {
  if ((C == 1 || sc == 1) && (R == 1 || sr >= C)) return {true, false, R == 1 ? C : sr};
  if ((R == 1 || sr == 1) && (C == 1 || sc >= R)) return {true, true, C == 1 ? R : sc};
  return {};
}

/// A dense copy of t's last two axes; broadcast batch axes (stride 0) stay broadcast.
Tensor densify(Backend& be, const Tensor& t) {
  const int64_t r = t.dim();
  Shape s = t.shape();
  for (int64_t d = 0; d < r - 2; ++d)
    if (t.strides()[d] == 0) s[d] = 1;
  Tensor src = Tensor::make_view(t.storage(), s, t.strides(), t.offset(), t.dtype());
  Tensor dense = Tensor::empty(s, t.dtype(), t.device());
  be.copy(src, dense);
  Strides st = dense.strides();
  for (int64_t d = 0; d < r - 2; ++d)
    if (t.strides()[d] == 0) st[d] = 0;
  return Tensor::make_view(dense.storage(), t.shape(), st, 0, t.dtype());
}

template <class T>
void gemm(opencl::Context& c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, cl_mem a,
          int64_t ao, int64_t lda, cl_mem b, int64_t bo, int64_t ldb, cl_mem out, int64_t oo,
          int64_t ldc) {
  using clblast::Transpose;
  std::lock_guard<std::mutex> lock(c.mutex());
  check_blas(clblast::Gemm<T>(clblast::Layout::kRowMajor, ta ? Transpose::kYes : Transpose::kNo,
                              tb ? Transpose::kYes : Transpose::kNo, M, N, K, T(1), a, ao, lda, b,
                              bo, ldb, T(0), out, oo, ldc, &c.queue(), nullptr),
             "Gemm", c.device());
  c.count_blas_call();
}

template <class T>
void gemm_strided_batched(opencl::Context& c, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                          cl_mem a, int64_t ao, int64_t lda, int64_t sa, cl_mem b, int64_t bo,
                          int64_t ldb, int64_t sb, cl_mem out, int64_t oo, int64_t ldc, int64_t so,
                          int64_t batch) {
  using clblast::Transpose;
  std::lock_guard<std::mutex> lock(c.mutex());
  check_blas(clblast::GemmStridedBatched<T>(
                 clblast::Layout::kRowMajor, ta ? Transpose::kYes : Transpose::kNo,
                 tb ? Transpose::kYes : Transpose::kNo, M, N, K, T(1), a, ao, lda, sa, b, bo, ldb,
                 sb, T(0), out, oo, ldc, so, batch, &c.queue(), nullptr),
             "GemmStridedBatched", c.device());
  c.count_blas_call();
}

}  // namespace

namespace opencl {

void gemm(Context& c, DType dt, const GemmDesc& d) {
  using clblast::Transpose;
  const Transpose ta = d.ta ? Transpose::kYes : Transpose::kNo;
  const Transpose tb = d.tb ? Transpose::kYes : Transpose::kNo;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    std::lock_guard<std::mutex> lock(c.mutex());
    if (d.batch == 1)
      check_blas(clblast::Gemm<T>(clblast::Layout::kRowMajor, ta, tb, d.m, d.n, d.k, T(1), d.a,
                                  d.a_off, d.lda, d.b, d.b_off, d.ldb, static_cast<T>(d.beta), d.c,
                                  d.c_off, d.ldc, &c.queue(), nullptr),
                 "Gemm", c.device());
    else
      check_blas(clblast::GemmStridedBatched<T>(
                     clblast::Layout::kRowMajor, ta, tb, d.m, d.n, d.k, T(1), d.a, d.a_off, d.lda,
                     d.a_stride, d.b, d.b_off, d.ldb, d.b_stride, static_cast<T>(d.beta), d.c,
                     d.c_off, d.ldc, d.c_stride, d.batch, &c.queue(), nullptr),
                 "GemmStridedBatched", c.device());
    c.count_blas_call();
  };
  if (dt == kFloat64)
    run(double{});
  else
    run(float{});
}

}  // namespace opencl

void OpenClBackend::matmul(const Tensor& a_in, const Tensor& b_in, const Tensor& out) {
  opencl::Context& c = *ctx_;
  const DType dt = out.dtype();
  c.require_dtype("matmul", dt);
  const int64_t r = out.dim();
  const int64_t M = out.shape()[r - 2], N = out.shape()[r - 1], K = a_in.shape()[r - 1];
  if (out.numel() == 0) return;
  if (K == 0) {
    fill(out, 0.0);
    return;
  }
  const Shape batch(out.shape().begin(), out.shape().end() - 2);
  if (!is_floating(dt)) {  // integers: the plain kernel, any strides
    const Strides so(out.strides().begin(), out.strides().end() - 2);
    const Strides sa(a_in.strides().begin(), a_in.strides().end() - 2);
    const Strides sb(b_in.strides().begin(), b_in.strides().end() - 2);
    const Geom g = make_geom("matmul", batch,
                             {{&so, out.offset()}, {&sa, a_in.offset()}, {&sb, b_in.offset()}});
    c.launch(
        std::string("matmul_") + opencl::suffix(dt), g.numel * M * N, mem(a_in), mem(b_in),
        mem(out), g, static_cast<cl_long>(M), static_cast<cl_long>(N), static_cast<cl_long>(K),
        static_cast<cl_long>(a_in.strides()[r - 2]), static_cast<cl_long>(a_in.strides()[r - 1]),
        static_cast<cl_long>(b_in.strides()[r - 2]), static_cast<cl_long>(b_in.strides()[r - 1]),
        static_cast<cl_long>(out.strides()[r - 2]), static_cast<cl_long>(out.strides()[r - 1]));
    return;
  }
  // Operands GEMM cannot read in place (a step-2 slice, an expanded row) become dense first.
  Tensor a = a_in, b = b_in;
  MatView va = gemm_view(M, K, a.strides()[r - 2], a.strides()[r - 1]);
  if (!va.ok) {
    a = densify(*this, a_in);
    va = gemm_view(M, K, a.strides()[r - 2], a.strides()[r - 1]);
  }
  MatView vb = gemm_view(K, N, b.strides()[r - 2], b.strides()[r - 1]);
  if (!vb.ok) {
    b = densify(*this, b_in);
    vb = gemm_view(K, N, b.strides()[r - 2], b.strides()[r - 1]);
  }
  MatView vo = gemm_view(M, N, out.strides()[r - 2], out.strides()[r - 1]);
  Tensor o = out;
  if (!vo.ok || vo.trans) {
    o = Tensor::empty(out.shape(), dt, out.device());
    vo = gemm_view(M, N, o.strides()[r - 2], o.strides()[r - 1]);
  }

  const Strides so(o.strides().begin(), o.strides().end() - 2);
  const Strides sa(a.strides().begin(), a.strides().end() - 2);
  const Strides sb(b.strides().begin(), b.strides().end() - 2);
  const Geom g =
      make_geom("matmul", batch, {{&so, o.offset()}, {&sa, a.offset()}, {&sb, b.offset()}});
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (g.numel == 1) {
      gemm<T>(c, va.trans, vb.trans, M, N, K, mem(a), a.offset(), va.ld, mem(b), b.offset(), vb.ld,
              mem(o), o.offset(), vo.ld);
      return;
    }
    if (g.rank == 1) {
      const int64_t bo = g.stride[0][0], ba = g.stride[1][0], bb = g.stride[2][0];
      // b shared by every batch and a's matrices stacked row after row: one GEMM of
      // (batch * M) rows.
      const bool a_rows = !va.trans && (M == 1 ? ba >= K : ba == M * va.ld);
      const bool o_rows = M == 1 ? bo >= N : bo == M * vo.ld;
      if (bb == 0 && a_rows && o_rows) {
        gemm<T>(c, false, vb.trans, M * g.numel, N, K, mem(a), a.offset(), M == 1 ? ba : va.ld,
                mem(b), b.offset(), vb.ld, mem(o), o.offset(), M == 1 ? bo : vo.ld);
        return;
      }
      if (bo > 0 && ba >= 0 && bb >= 0) {
        gemm_strided_batched<T>(c, va.trans, vb.trans, M, N, K, mem(a), a.offset(), va.ld, ba,
                                mem(b), b.offset(), vb.ld, bb, mem(o), o.offset(), vo.ld, bo,
                                g.numel);
        return;
      }
    }
    // Irregular batch strides: one GEMM per batch.
    for (int64_t i = 0; i < g.numel; ++i) {
      int64_t off[3] = {g.offset[0], g.offset[1], g.offset[2]};
      int64_t rest = i;
      for (int d = g.rank - 1; d >= 0; --d) {
        const int64_t idx = rest % g.shape[d];
        rest /= g.shape[d];
        for (int k = 0; k < 3; ++k) off[k] += idx * g.stride[k][d];
      }
      gemm<T>(c, va.trans, vb.trans, M, N, K, mem(a), off[1], va.ld, mem(b), off[2], vb.ld, mem(o),
              off[0], vo.ld);
    }
  };
  if (dt == kFloat32)
    run(float{});
  else
    run(double{});
  if (!o.is_same(out)) copy(o, out);
}

}  // namespace tg
