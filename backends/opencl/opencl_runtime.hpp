// OpenCL plumbing of the OpenCL backend: status checks, operand geometry, the device context
// (context, in-order queue, the one program and its kernels, the buffer pool, host transfers).
#pragma once
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tapegrad/backends/opencl/opencl_devices.hpp"
#include "tapegrad/core/allocator.hpp"
#include "tapegrad/core/error.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg::opencl {

/// Name of an OpenCL status code ("CL_OUT_OF_RESOURCES"), or "unknown status".
const char* status_name(cl_int status);
/// Throws BackendError "opencl: <routine> failed on <device>: <status name> (<code>)".
[[noreturn]] void fail_status(std::string_view routine, cl_int status, Device device);

/// The (platform, device) pairs of every OpenCL device, in Device::opencl(i) order (empty when
/// no platform exists).
std::vector<std::pair<cl_platform_id, cl_device_id>> enumerate_devices();
/// Description of one device.
OpenClDeviceInfo describe_device(int index, cl_platform_id platform, cl_device_id device);

/// Largest rank the kernels' geometry holds (after merging axes).
inline constexpr int kMaxRank = 8;
/// Most operands one geometry describes.
inline constexpr int kMaxOps = 4;

/// An index space and, per operand, strides and base offset in elements. Same layout as `Geom`
/// in kernels/common.cl.
struct Geom {
  cl_long shape[kMaxRank];
  cl_long stride[kMaxOps][kMaxRank];
  cl_long offset[kMaxOps];
  cl_long numel;
  cl_int rank;
  cl_int pad_;
};

/// Strides and base offset of one operand of a geometry.
struct Operand {
  const Strides* strides;
  int64_t offset;
};

/// Geometry of shape over the operands: size-1 axes dropped, axes merged where every operand
/// allows it. Throws BackendError (naming op) when more than kMaxRank axes remain.
Geom make_geom(std::string_view op, const Shape& shape, std::initializer_list<Operand> ops);

/// Convolution geometry; same layout as `ConvGeom` in kernels/common.cl.
struct ConvGeom {
  cl_long n, h, w, ci, oh, ow, co, kh, kw, cig, cog;
  cl_long sh, sw, dh, dw, pt, pl;
  cl_long x_off, w_off, y_off;
};
/// Pooling geometry; same layout as `PoolGeom` in kernels/common.cl.
struct PoolGeom {
  cl_long n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl;
  cl_long x_off, y_off, i_off, pad_;
};
/// CTC geometry; same layout as `CtcGeom` in kernels/common.cl.
struct CtcGeom {
  cl_long n, tmax, c, smax, blank;
  cl_long lp_off, lp_s0, lp_s1, lp_s2;
  cl_long lab_off, lab_s0, lab_s1;
  cl_long ll_off, ll_s, il_off, il_s;
  cl_long loss_off, loss_s;
  cl_long g_off, g_s0, g_s1, g_s2;
  cl_long has_grad, pad_;
};

/// Batch-norm geometry; same layout as `BnGeom` in kernels/common.cl.
struct BnGeom {
  cl_long m, c, x_off, y_off;
  cl_long v_off[4];
  cl_long v_s[4];
};

/// A floating kernel argument passed as double (wide) or float.
struct Real {
  double value;
  bool wide;
};

/// Kernel-name suffix of a dtype: "f32", "f64", "i32", "i64", "b8".
const char* suffix(DType t);
/// The cl_mem holding a tensor's storage.
inline cl_mem mem(const Tensor& t) { return static_cast<cl_mem>(t.storage()->data()); }

/// Registers, with std::atexit, the handler that finishes and closes every open device
/// (defined with the device registry in opencl_backend.cpp). Called again whenever the host
/// waited for a queue after new kernels were created: exit runs handlers and static destructors
/// in reverse order of registration, and PoCL's compiler (LLVM, clang) makes statics of its own
/// the first time it compiles something; the handler must run before those are destroyed.
void register_exit_handler();

/// Counters of one device context.
struct ContextStats {
  uint64_t programs_built = 0;   ///< OpenCL programs compiled (one per context)
  uint64_t kernels_created = 0;  ///< cl_kernel objects created (one per kernel name)
  uint64_t launches = 0;         ///< kernels enqueued
  uint64_t blas_calls = 0;       ///< CLBlast routines enqueued
  uint64_t uploads = 0;          ///< host-to-device copies
  uint64_t downloads = 0;        ///< device-to-host copies (each waits for the queue)
};

/// One OpenCL device in use: context, in-order queue, the program (built lazily, once), its
/// kernels (created once per name) and the caching allocator of cl_mem buffers.
class Context {
 public:
  Context(int index, cl_platform_id platform, cl_device_id device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const { return device_; }
  const OpenClDeviceInfo& info() const { return info_; }
  bool fp64() const { return info_.fp64; }
  cl_context context() const { return context_; }
  cl_command_queue& queue() { return queue_; }
  CachingAllocator& allocator() { return *allocator_; }

  /// Enqueues kernel `name` over n work items (rounded up to the work-group size; kernels check
  /// their bound) with the arguments in order. Does not wait.
  template <class... A>
  void launch(const std::string& name, size_t n, const A&... args) {
    if (n == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    const Kernel& k = kernel_locked(name);
    cl_uint i = 0;
    (set_arg(k.kernel, name, i++, args), ...);
    enqueue_locked(k, name, n);
  }
  /// Throws BackendError when `dt` needs float64 and the device lacks cl_khr_fp64.
  void require_dtype(std::string_view op, DType dt) const;

  /// Copies host bytes to dst (from a staging copy: returns without waiting).
  void upload(const void* src, cl_mem dst, size_t offset, size_t bytes);
  /// Copies device bytes to the host, waiting for the queue.
  void download(cl_mem src, size_t offset, size_t bytes, void* dst);
  /// Fills bytes with a repeated pattern (1, 2, 4 or 8 bytes).
  void fill(cl_mem dst, const void* pattern, size_t pattern_size, size_t offset, size_t bytes);
  /// Device-side copy of bytes between buffers.
  void copy_buffer(cl_mem src, size_t src_offset, cl_mem dst, size_t dst_offset, size_t bytes);
  /// Waits until every queued command has finished.
  void finish();
  /// Waits for the queue without reporting errors (at exit, where nothing can be reported).
  void finish_quietly();
  /// At process exit: waits for the queue, then releases kernels, program, cached buffers,
  /// queue and context. Buffers freed later (by tensors that outlive it) are left to the
  /// operating system; any further use is a BackendError.
  void close();
  /// Whether close() ran.
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  /// The flag buffer kernels raise on a runtime error (integer division by zero); zeroed first
  /// when reset.
  cl_mem error_flag(bool reset);
  /// Reads (waiting for the queue) and clears the error flag.
  int take_error_flag();

  /// Serialises enqueues of library calls (CLBlast) with the kernels.
  std::mutex& mutex() { return mu_; }
  void count_blas_call() { ++stats_.blas_calls; }
  ContextStats stats() const;

 private:
  struct Kernel {
    cl_kernel kernel = nullptr;
    size_t local = 64;
  };
  struct Upload {
    cl_event done;
    std::unique_ptr<char[]> staging;
  };
  template <class A>
  void set_arg(cl_kernel k, const std::string& name, cl_uint i, const A& a) {
    if constexpr (std::is_same_v<A, Real>) {
      if (a.wide) {
        set_arg_bytes(k, name, i, sizeof(double), &a.value);
      } else {
        const float f = static_cast<float>(a.value);
        set_arg_bytes(k, name, i, sizeof(float), &f);
      }
    } else {
      static_assert(std::is_trivially_copyable_v<A>);
      set_arg_bytes(k, name, i, sizeof(A), &a);
    }
  }
  void set_arg_bytes(cl_kernel k, const std::string& name, cl_uint i, size_t size, const void* p);
  const Kernel& kernel_locked(const std::string& name);
  void enqueue_locked(const Kernel& k, const std::string& name, size_t n);
  void build_program_locked();
  void reap_uploads_locked(bool all);
  void after_wait_locked();
  static void* raw_alloc(size_t bytes, void* self);
  static void raw_free(void* p, void* self);

  Device device_;
  OpenClDeviceInfo info_;
  cl_device_id device_id_;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
  std::unique_ptr<CachingAllocator> allocator_;
  std::atomic<uint64_t> live_bytes_{0};  // bytes in cl_mem buffers (allocated or cached)

  mutable std::mutex mu_;
  cl_program program_ = nullptr;
  std::unordered_map<std::string, Kernel> kernels_;
  std::vector<Upload> uploads_;
  cl_mem error_flag_ = nullptr;
  ContextStats stats_;
  std::atomic<bool> closed_{false};
  bool kernels_since_exit_handler_ = false;  // kernels created since register_exit_handler()
};

}  // namespace tg::opencl
