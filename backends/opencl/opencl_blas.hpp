// CLBlast GEMM for the backend's own sources (matmul, convolution): one description, float32 or
// float64, status checks, serialised with the kernels on the device's queue.
#pragma once
#include <cstdint>

#include "tapegrad/backends/opencl/opencl_runtime.hpp"

namespace tg::opencl {

/// Row-major c = op(a) · op(b) + beta · c for `batch` matrix triples, matrix i at element offsets
/// off + i · stride. op(a) is m × k, op(b) k × n, c m × n; ta / tb read a / b transposed (stored
/// k × m / n × k) with leading dimensions lda, ldb, ldc.
struct GemmDesc {
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  cl_mem a = nullptr;
  int64_t a_off = 0, lda = 0, a_stride = 0;
  cl_mem b = nullptr;
  int64_t b_off = 0, ldb = 0, b_stride = 0;
  cl_mem c = nullptr;
  int64_t c_off = 0, ldc = 0, c_stride = 0;
  int64_t batch = 1;
  double beta = 0.0;
};

/// Enqueues the GEMM of d in dt (float32 or float64) on c's queue: clblast::Gemm for one matrix,
/// GemmStridedBatched for more. Does not wait. Throws BackendError naming the routine on failure.
void gemm(Context& c, DType dt, const GemmDesc& d);

}  // namespace tg::opencl
