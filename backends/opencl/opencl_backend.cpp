// OpenCL backend: device selection, transfers, and the elementwise, reduction, indexing and
// random kernels (matmul in opencl_matmul.cpp, convolution/pooling/CTC in opencl_conv_pool.cpp).
#include "tapegrad/backends/opencl/opencl_backend.hpp"

#include <clblast.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <vector>

#include "tapegrad/backends/opencl/opencl_runtime.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

using opencl::Geom;
using opencl::make_geom;
using opencl::mem;
using opencl::Real;

namespace {

std::string kname(const char* base, DType t) { return std::string(base) + "_" + opencl::suffix(t); }

/// A shape or strides without one axis (Shape and Strides are one type).
Shape drop_axis(const Shape& s, int64_t axis) {
  Shape r;
  for (size_t d = 0; d < s.size(); ++d)
    if (static_cast<int64_t>(d) != axis) r.push_back(s[d]);
  return r;
}

/// The unary ops each dtype has (the same set as the reference backend).
bool unary_supported(UnaryOp op, DType t) {
  if (is_floating(t)) return true;
  switch (op) {
    case UnaryOp::Abs:
    case UnaryOp::Relu:
    case UnaryOp::Sign:
    case UnaryOp::Square:
    case UnaryOp::Step:
    case UnaryOp::LogicalNot:
      return true;
    case UnaryOp::Neg:
    case UnaryOp::Clip:
      return t != kBool;
    default:
      return false;
  }
}

bool is_comparison(BinaryOp op) {
  return op == BinaryOp::Eq || op == BinaryOp::Ne || op == BinaryOp::Lt || op == BinaryOp::Le ||
         op == BinaryOp::Gt || op == BinaryOp::Ge || op == BinaryOp::LogicalAnd ||
         op == BinaryOp::LogicalOr;
}

/// Whether a floating parameter of a kernel of dtype t is double (REAL in typed.cl).
bool wide_real(const opencl::Context& c, DType t) {
  return t == kFloat32 ? false : t == kFloat64 ? true : c.fp64();
}

/// The dtype whose kernel moves elements of t unchanged: float64 travels as int64 bits on a
/// device without float64 arithmetic.
DType bits_dtype(const opencl::Context& c, DType t) {
  return t == kFloat64 && !c.fp64() ? kInt64 : t;
}

}  // namespace

OpenClBackend::OpenClBackend(int index) {
  auto devices = opencl::enumerate_devices();
  if (index < 0 || index >= static_cast<int>(devices.size()))
    fail<DeviceError>("opencl: device opencl:", index, " does not exist (", devices.size(),
                      " OpenCL devices found)");
  ctx_ = new opencl::Context(index, devices[index].first, devices[index].second);
}

OpenClBackend::~OpenClBackend() { delete ctx_; }

CachingAllocator& OpenClBackend::allocator() { return ctx_->allocator(); }

Support OpenClBackend::supports(Kernel k, DType dt) const {
  if (!kernel_domain_has(k, dt)) return Support::None;
  switch (k) {
    case Kernel::CopyFromHost:
    case Kernel::CopyToHost:
    case Kernel::Fill:
    case Kernel::Copy:
    case Kernel::Where:
    case Kernel::Gather:
      return Support::Native;  // float64 moves as 64-bit integers where the device lacks fp64
    case Kernel::MaxPool2dBackward:  // Backend's default: fill + scatter_add
    case Kernel::RnnForward:         // the op runs matmul + the cell kernel per step
    case Kernel::RnnBackward:
      return dt == kFloat64 && !ctx_->fp64() ? Support::None : Support::Fallback;
    default:
      return dt == kFloat64 && !ctx_->fp64() ? Support::None : Support::Native;
  }
}
const OpenClDeviceInfo& OpenClBackend::device_info() const { return ctx_->info(); }
void OpenClBackend::synchronize() { ctx_->finish(); }

OpenClStats OpenClBackend::stats() const {
  const opencl::ContextStats s = ctx_->stats();
  return {s.programs_built, s.kernels_created, s.launches, s.blas_calls, s.uploads, s.downloads};
}

void OpenClBackend::copy_from_host(const void* src, const Tensor& dst) {
  const size_t es = dtype_size(dst.dtype());
  ctx_->upload(src, mem(dst), static_cast<size_t>(dst.offset()) * es,
               static_cast<size_t>(dst.numel()) * es);
}

void OpenClBackend::copy_to_host(const Tensor& src, void* dst) {
  const size_t es = dtype_size(src.dtype());
  ctx_->download(mem(src), static_cast<size_t>(src.offset()) * es,
                 static_cast<size_t>(src.numel()) * es, dst);
}

void OpenClBackend::fill(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  dispatch_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(value);
    if (dst.is_contiguous()) {
      ctx_->fill(mem(dst), &v, sizeof(T), static_cast<size_t>(dst.offset()) * sizeof(T),
                 static_cast<size_t>(dst.numel()) * sizeof(T));
      return;
    }
    const Geom g = make_geom("fill", dst.shape(), {{&dst.strides(), dst.offset()}});
    if constexpr (std::is_same_v<T, double>) {
      if (!ctx_->fp64()) {  // the same 64 bits through the int64 kernel
        int64_t bits = 0;
        std::memcpy(&bits, &v, sizeof(bits));
        ctx_->launch(kname("fill", kInt64), dst.numel(), mem(dst), g, static_cast<cl_long>(bits));
        return;
      }
    }
    ctx_->launch(kname("fill", dst.dtype()), dst.numel(), mem(dst), g, v);
  });
}

void OpenClBackend::copy(const Tensor& src, const Tensor& dst) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    const size_t es = dtype_size(src.dtype());
    const size_t so = static_cast<size_t>(src.offset()) * es,
                 doff = static_cast<size_t>(dst.offset()) * es;
    const size_t bytes = static_cast<size_t>(n) * es;
    const bool overlap = mem(src) == mem(dst) && so < doff + bytes && doff < so + bytes;
    if (!overlap) {
      ctx_->copy_buffer(mem(src), so, mem(dst), doff, bytes);
      return;
    }
  }
  DType from = src.dtype(), to = dst.dtype();
  if (!ctx_->fp64() && (from == kFloat64 || to == kFloat64)) {
    if (from != to) {
      copy_through_host(src, dst);
      return;
    }
    from = to = kInt64;  // float64 to float64: the same bits through the int64 kernel
  }
  const Geom g = make_geom("copy", dst.shape(),
                           {{&dst.strides(), dst.offset()}, {&src.strides(), src.offset()}});
  ctx_->launch(std::string("copy_") + opencl::suffix(from) + "_" + opencl::suffix(to), n, mem(src),
               mem(dst), g);
}

void OpenClBackend::copy_through_host(const Tensor& src, const Tensor& dst) {
  // A device without float64 arithmetic still holds float64 tensors (factories such as arange
  // and tensor<double> make them): conversions to and from float64 run on the host.
  const Device d = ctx_->device();
  Tensor s = src;
  if (!src.is_contiguous()) {
    s = Tensor::empty(src.shape(), src.dtype(), d);
    copy(src, s);
  }
  const int64_t n = src.numel();
  std::vector<char> in(static_cast<size_t>(n) * dtype_size(src.dtype()));
  std::vector<char> out(static_cast<size_t>(n) * dtype_size(dst.dtype()));
  copy_to_host(s, in.data());
  dispatch_dtype(src.dtype(), [&](auto stag) {
    using S = decltype(stag);
    dispatch_dtype(dst.dtype(), [&](auto dtag) {
      using D = decltype(dtag);
      const S* a = reinterpret_cast<const S*>(in.data());
      D* b = reinterpret_cast<D*>(out.data());
      for (int64_t i = 0; i < n; ++i) b[i] = static_cast<D>(a[i]);
    });
  });
  Tensor t = Tensor::empty(dst.shape(), dst.dtype(), d);
  copy_from_host(out.data(), t);
  copy(t, dst);
}

void OpenClBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  ctx_->require_dtype(unary_op_name(op), x.dtype());
  const Geom g = make_geom(unary_op_name(op), out.shape(),
                           {{&out.strides(), out.offset()}, {&x.strides(), x.offset()}});
  if (op == UnaryOp::LogicalNot && out.dtype() == kBool) {
    ctx_->launch(kname("logical_not", x.dtype()), out.numel(), mem(x), mem(out), g);
    return;
  }
  if (!unary_supported(op, x.dtype()))
    fail<BackendError>("opencl unary: op ", unary_op_name(op), " has no kernel for dtype ",
                       x.dtype());
  const bool wide = wide_real(*ctx_, x.dtype());
  ctx_->launch(kname("unary", x.dtype()), out.numel(), mem(x), mem(out), g, static_cast<cl_int>(op),
               Real{p0, wide}, Real{p1, wide});
}

void OpenClBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  ctx_->require_dtype(binary_op_name(op), a.dtype());
  const Geom g = make_geom(
      binary_op_name(op), out.shape(),
      {{&out.strides(), out.offset()}, {&a.strides(), a.offset()}, {&b.strides(), b.offset()}});
  if (is_comparison(op)) {
    ctx_->launch(kname("compare", a.dtype()), out.numel(), mem(a), mem(b), mem(out), g,
                 static_cast<cl_int>(op));
    return;
  }
  if (a.dtype() == kBool && op != BinaryOp::Add && op != BinaryOp::Mul && op != BinaryOp::Maximum &&
      op != BinaryOp::Minimum)
    fail<BackendError>("opencl binary: op ", binary_op_name(op), " has no kernel for dtype bool");
  // Integer division reports division by zero through a flag, which costs a wait.
  const bool check_zero = op == BinaryOp::Div && (a.dtype() == kInt32 || a.dtype() == kInt64);
  if (out.numel() == 0) return;
  cl_mem flag = ctx_->error_flag(check_zero);
  ctx_->launch(kname("binary", a.dtype()), out.numel(), mem(a), mem(b), mem(out), g,
               static_cast<cl_int>(op), flag);
  if (check_zero && ctx_->take_error_flag()) fail<ValueError>("div: integer division by zero");
}

void OpenClBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const DType kt = bits_dtype(*ctx_, out.dtype());
  ctx_->require_dtype("where", kt);
  const Geom g = make_geom("where", out.shape(),
                           {{&out.strides(), out.offset()},
                            {&cond.strides(), cond.offset()},
                            {&a.strides(), a.offset()},
                            {&b.strides(), b.offset()}});
  ctx_->launch(kname("where", kt), out.numel(), mem(cond), mem(a), mem(b), mem(out), g);
}

void OpenClBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  const std::string_view name = reduce_op_name(op);
  ctx_->require_dtype(name, x.dtype());
  const int64_t n_out = out.numel();
  if (n_out == 0) return;
  const int64_t count = x.numel() / n_out;
  // outer walks the outputs (out, and x at the kept axes); inner the reduced axes of x.
  const Geom outer =
      make_geom(name, out.shape(), {{&out.strides(), out.offset()}, {&x.strides(), x.offset()}});
  Shape inner_shape = x.shape();
  for (size_t d = 0; d < inner_shape.size(); ++d)
    if (!(out.shape()[d] == 1 && x.shape()[d] != 1)) inner_shape[d] = 1;
  const Geom inner = make_geom(name, inner_shape, {{&x.strides(), 0}});
  const int64_t n_in = inner.numel;
  // Few outputs over many elements: split each output's elements into parts reduced in parallel,
  // then combine the parts in order.
  constexpr int64_t kChunk = 4096;
  if (n_in >= 4 * kChunk && n_out < 256) {
    const int64_t parts = std::min<int64_t>(256, (n_in + kChunk - 1) / kChunk);
    const int64_t chunk = (n_in + parts - 1) / parts;
    const DType acc = is_floating(x.dtype()) ? (ctx_->fp64() ? kFloat64 : kFloat32) : kInt64;
    Tensor part = Tensor::empty({n_out * parts}, acc, ctx_->device());
    ctx_->launch(kname("reduce_partial", x.dtype()), n_out * parts, mem(x), mem(part), outer, inner,
                 static_cast<cl_int>(op), static_cast<cl_long>(parts), static_cast<cl_long>(chunk));
    const Geom outer_out = make_geom(name, out.shape(), {{&out.strides(), out.offset()}});
    ctx_->launch(kname("reduce_finish", x.dtype()), n_out, mem(part), mem(out), outer_out,
                 static_cast<cl_int>(op), static_cast<cl_long>(parts), static_cast<cl_long>(count));
    return;
  }
  ctx_->launch(kname("reduce", x.dtype()), n_out, mem(x), mem(out), outer, inner,
               static_cast<cl_int>(op), static_cast<cl_long>(count));
}

void OpenClBackend::arg_reduce(bool is_max, const Tensor& x, int64_t axis, const Tensor& out) {
  const char* name = is_max ? "argmax" : "argmin";
  ctx_->require_dtype(name, x.dtype());
  if (x.numel() == 0) return;
  const Strides os = drop_axis(out.strides(), axis), xs = drop_axis(x.strides(), axis);
  const Geom lines =
      make_geom(name, drop_axis(x.shape(), axis), {{&os, out.offset()}, {&xs, x.offset()}});
  ctx_->launch(kname("arg_reduce", x.dtype()), lines.numel, mem(x), mem(out), lines,
               static_cast<cl_long>(x.shape()[axis]), static_cast<cl_long>(x.strides()[axis]),
               static_cast<cl_int>(is_max));
}

void OpenClBackend::softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) {
  const char* name = log ? "log_softmax" : "softmax";
  if (!is_floating(x.dtype()))
    fail<BackendError>("opencl ", name, ": needs a floating dtype, got ", x.dtype());
  ctx_->require_dtype(name, x.dtype());
  if (x.numel() == 0) return;
  const Strides os = drop_axis(out.strides(), axis), xs = drop_axis(x.strides(), axis);
  const Geom lines =
      make_geom(name, drop_axis(x.shape(), axis), {{&os, out.offset()}, {&xs, x.offset()}});
  ctx_->launch(kname("softmax", x.dtype()), lines.numel, mem(x), mem(out), lines,
               static_cast<cl_long>(x.shape()[axis]), static_cast<cl_long>(x.strides()[axis]),
               static_cast<cl_long>(out.strides()[axis]), static_cast<cl_int>(log));
}

void OpenClBackend::cumsum(const Tensor& x, int64_t axis, const Tensor& out) {
  ctx_->require_dtype("cumsum", x.dtype());
  if (x.numel() == 0) return;
  const Strides os = drop_axis(out.strides(), axis), xs = drop_axis(x.strides(), axis);
  const Geom lines =
      make_geom("cumsum", drop_axis(x.shape(), axis), {{&os, out.offset()}, {&xs, x.offset()}});
  ctx_->launch(kname("cumsum", x.dtype()), lines.numel, mem(x), mem(out), lines,
               static_cast<cl_long>(x.shape()[axis]), static_cast<cl_long>(x.strides()[axis]),
               static_cast<cl_long>(out.strides()[axis]));
}

void OpenClBackend::gather(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) {
  const DType kt = bits_dtype(*ctx_, x.dtype());
  ctx_->require_dtype("gather", kt);
  Strides xs = x.strides();
  const int64_t step = xs[axis];
  xs[axis] = 0;
  const Geom g = make_geom(
      "gather", out.shape(),
      {{&out.strides(), out.offset()}, {&index.strides(), index.offset()}, {&xs, x.offset()}});
  ctx_->launch(kname("gather", kt), out.numel(), mem(x), mem(index), mem(out), g,
               static_cast<cl_long>(step));
}

void OpenClBackend::scatter_add(const Tensor& dst, int64_t axis, const Tensor& index,
                                const Tensor& src) {
  ctx_->require_dtype("scatter_add", dst.dtype());
  if (src.numel() == 0) return;
  const Strides ss = drop_axis(src.strides(), axis), is = drop_axis(index.strides(), axis),
                ds = drop_axis(dst.strides(), axis);
  const Geom lines = make_geom("scatter_add", drop_axis(src.shape(), axis),
                               {{&ss, src.offset()}, {&is, index.offset()}, {&ds, dst.offset()}});
  ctx_->launch(
      kname("scatter_add", dst.dtype()), lines.numel, mem(dst), mem(index), mem(src), lines,
      static_cast<cl_long>(src.shape()[axis]), static_cast<cl_long>(src.strides()[axis]),
      static_cast<cl_long>(index.strides()[axis]), static_cast<cl_long>(dst.strides()[axis]));
}

void OpenClBackend::random(const Tensor& out, Distribution dist, double a, double b, uint64_t seed,
                           uint64_t offset) {
  ctx_->require_dtype("random", out.dtype());
  const int64_t n = out.numel();
  ctx_->launch(kname("random", out.dtype()), n, mem(out), static_cast<cl_long>(out.offset()),
               static_cast<cl_long>(n), static_cast<cl_ulong>(seed), static_cast<cl_ulong>(offset),
               static_cast<cl_int>(dist == Distribution::Uniform ? 0 : 1), Real{a, ctx_->fp64()},
               Real{b, ctx_->fp64()});
}

// ---- the backends of every device, opened on first use ----

namespace {
constexpr int kMaxDevices = 64;
struct Registry {
  std::mutex mu;
  bool enumerated = false;
  int count = 0;
  std::array<std::atomic<OpenClBackend*>, kMaxDevices> backends{};
};
Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: tensors may outlive main
  return *r;
}

void close_all_devices();

OpenClBackend& backend_or_throw(int index) {
  Backend* b = opencl_backend_factory(index);
  if (!b) fail<DeviceError>("opencl: device opencl:", index, " does not exist");
  return static_cast<OpenClBackend&>(*b);
}
}  // namespace

Backend* opencl_backend_factory(int index) {
  Registry& r = registry();
  if (index >= 0 && index < kMaxDevices) {
    if (OpenClBackend* b = r.backends[index].load(std::memory_order_acquire)) return b;
  }
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.enumerated) {
    r.count = static_cast<int>(opencl::enumerate_devices().size());
    r.enumerated = true;
  }
  if (index < 0 || index >= r.count || index >= kMaxDevices) return nullptr;
  OpenClBackend* b = r.backends[index].load(std::memory_order_acquire);
  if (!b) {
    opencl::register_exit_handler();
    b = new OpenClBackend(index);  // never destroyed: tensors may outlive main (closed at exit)
    r.backends[index].store(b, std::memory_order_release);
  }
  return b;
}

namespace {
/// Runs at exit (registered when the first device opens, so before the static destructors of
/// anything made later, and after PoCL's own handlers were registered): finishes every queue,
/// empties CLBlast's program cache, then releases each context. Queued kernels and PoCL's
/// compiler threads are done before the OpenCL runtime tears itself down.
void close_all_devices() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (auto& slot : r.backends)
    if (OpenClBackend* b = slot.load(std::memory_order_acquire)) b->context().finish_quietly();
  clblast::ClearCache();
  for (auto& slot : r.backends)
    if (OpenClBackend* b = slot.load(std::memory_order_acquire)) b->context().close();
}
}  // namespace

namespace opencl {
void register_exit_handler() {
  // Each registration runs once at exit; the latest runs first and closes the devices, the
  // others find them closed. A failed registration leaves the earlier ones in place.
  (void)std::atexit(close_all_devices);
}
}  // namespace opencl

OpenClStats opencl_stats(int index) { return backend_or_throw(index).stats(); }
void opencl_synchronize(int index) { backend_or_throw(index).synchronize(); }

}  // namespace tg
