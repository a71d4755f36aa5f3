// The OpenCL device context: status names, geometry, program assembly and build, kernel cache,
// buffer pool and host transfers.
#include "tapegrad/backends/opencl/opencl_runtime.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backends/opencl/opencl_kernels.hpp"
#include "tapegrad/core/backend.hpp"

namespace tg::opencl {

const char* status_name(cl_int status) {
  switch (status) {
#define TG_CL_STATUS(X) \
  case X:               \
    return #X;
    TG_CL_STATUS(CL_SUCCESS)
    TG_CL_STATUS(CL_DEVICE_NOT_FOUND)
    TG_CL_STATUS(CL_DEVICE_NOT_AVAILABLE)
    TG_CL_STATUS(CL_COMPILER_NOT_AVAILABLE)
    TG_CL_STATUS(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    TG_CL_STATUS(CL_OUT_OF_RESOURCES)
    TG_CL_STATUS(CL_OUT_OF_HOST_MEMORY)
    TG_CL_STATUS(CL_PROFILING_INFO_NOT_AVAILABLE)
    TG_CL_STATUS(CL_MEM_COPY_OVERLAP)
    TG_CL_STATUS(CL_IMAGE_FORMAT_MISMATCH)
    TG_CL_STATUS(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    TG_CL_STATUS(CL_BUILD_PROGRAM_FAILURE)
    TG_CL_STATUS(CL_MAP_FAILURE)
    TG_CL_STATUS(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    TG_CL_STATUS(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    TG_CL_STATUS(CL_COMPILE_PROGRAM_FAILURE)
    TG_CL_STATUS(CL_LINKER_NOT_AVAILABLE)
    TG_CL_STATUS(CL_LINK_PROGRAM_FAILURE)
    TG_CL_STATUS(CL_DEVICE_PARTITION_FAILED)
    TG_CL_STATUS(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    TG_CL_STATUS(CL_INVALID_VALUE)
    TG_CL_STATUS(CL_INVALID_DEVICE_TYPE)
    TG_CL_STATUS(CL_INVALID_PLATFORM)
    TG_CL_STATUS(CL_INVALID_DEVICE)
    TG_CL_STATUS(CL_INVALID_CONTEXT)
    TG_CL_STATUS(CL_INVALID_QUEUE_PROPERTIES)
    TG_CL_STATUS(CL_INVALID_COMMAND_QUEUE)
    TG_CL_STATUS(CL_INVALID_HOST_PTR)
    TG_CL_STATUS(CL_INVALID_MEM_OBJECT)
    TG_CL_STATUS(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    TG_CL_STATUS(CL_INVALID_IMAGE_SIZE)
    TG_CL_STATUS(CL_INVALID_SAMPLER)
    TG_CL_STATUS(CL_INVALID_BINARY)
    TG_CL_STATUS(CL_INVALID_BUILD_OPTIONS)
    TG_CL_STATUS(CL_INVALID_PROGRAM)
    TG_CL_STATUS(CL_INVALID_PROGRAM_EXECUTABLE)
    TG_CL_STATUS(CL_INVALID_KERNEL_NAME)
    TG_CL_STATUS(CL_INVALID_KERNEL_DEFINITION)
    TG_CL_STATUS(CL_INVALID_KERNEL)
    TG_CL_STATUS(CL_INVALID_ARG_INDEX)
    TG_CL_STATUS(CL_INVALID_ARG_VALUE)
    TG_CL_STATUS(CL_INVALID_ARG_SIZE)
    TG_CL_STATUS(CL_INVALID_KERNEL_ARGS)
    TG_CL_STATUS(CL_INVALID_WORK_DIMENSION)
    TG_CL_STATUS(CL_INVALID_WORK_GROUP_SIZE)
    TG_CL_STATUS(CL_INVALID_WORK_ITEM_SIZE)
    TG_CL_STATUS(CL_INVALID_GLOBAL_OFFSET)
    TG_CL_STATUS(CL_INVALID_EVENT_WAIT_LIST)
    TG_CL_STATUS(CL_INVALID_EVENT)
    TG_CL_STATUS(CL_INVALID_OPERATION)
    TG_CL_STATUS(CL_INVALID_GL_OBJECT)
    TG_CL_STATUS(CL_INVALID_BUFFER_SIZE)
    TG_CL_STATUS(CL_INVALID_MIP_LEVEL)
    TG_CL_STATUS(CL_INVALID_GLOBAL_WORK_SIZE)
    TG_CL_STATUS(CL_INVALID_PROPERTY)
    TG_CL_STATUS(CL_INVALID_IMAGE_DESCRIPTOR)
    TG_CL_STATUS(CL_INVALID_COMPILER_OPTIONS)
    TG_CL_STATUS(CL_INVALID_LINKER_OPTIONS)
    TG_CL_STATUS(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef TG_CL_STATUS
    case -1001:
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      return "unknown status";
  }
}

void fail_status(std::string_view routine, cl_int status, Device device) {
  const bool oom = status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES ||
                   status == CL_OUT_OF_HOST_MEMORY;
  fail<BackendError>("opencl: ", routine, " failed on ", device, ": ", status_name(status), " (",
                     status, ")", oom ? " (the device is out of memory or resources)" : "");
}

std::vector<std::pair<cl_platform_id, cl_device_id>> enumerate_devices() {
  std::vector<std::pair<cl_platform_id, cl_device_id>> out;
  cl_uint np = 0;
  if (clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) return out;
  std::vector<cl_platform_id> platforms(np);
  if (clGetPlatformIDs(np, platforms.data(), nullptr) != CL_SUCCESS) return out;
  for (cl_platform_id p : platforms) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
    std::vector<cl_device_id> devices(nd);
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, devices.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_device_id d : devices) out.emplace_back(p, d);
  }
  return out;
}

namespace {
std::string platform_string(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetPlatformInfo(p, what, n, s.data(), nullptr);
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}
std::string device_string(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetDeviceInfo(d, what, n, s.data(), nullptr);
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}
template <class V>
V device_value(cl_device_id d, cl_device_info what) {
  V v{};
  clGetDeviceInfo(d, what, sizeof(V), &v, nullptr);
  return v;
}
}  // namespace

OpenClDeviceInfo describe_device(int index, cl_platform_id platform, cl_device_id device) {
  OpenClDeviceInfo i;
  i.index = index;
  i.platform = platform_string(platform, CL_PLATFORM_NAME);
  i.platform_version = platform_string(platform, CL_PLATFORM_VERSION);
  i.name = device_string(device, CL_DEVICE_NAME);
  i.vendor = device_string(device, CL_DEVICE_VENDOR);
  i.version = device_string(device, CL_DEVICE_VERSION);
  i.driver_version = device_string(device, CL_DRIVER_VERSION);
  const auto type = device_value<cl_device_type>(device, CL_DEVICE_TYPE);
  i.type = (type & CL_DEVICE_TYPE_GPU)           ? "GPU"
           : (type & CL_DEVICE_TYPE_CPU)         ? "CPU"
           : (type & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator"
                                                 : "other";
  i.global_memory = device_value<cl_ulong>(device, CL_DEVICE_GLOBAL_MEM_SIZE);
  i.max_allocation = device_value<cl_ulong>(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  i.local_memory = device_value<cl_ulong>(device, CL_DEVICE_LOCAL_MEM_SIZE);
  i.compute_units = device_value<cl_uint>(device, CL_DEVICE_MAX_COMPUTE_UNITS);
  i.max_clock_mhz = device_value<cl_uint>(device, CL_DEVICE_MAX_CLOCK_FREQUENCY);
  i.max_work_group = device_value<size_t>(device, CL_DEVICE_MAX_WORK_GROUP_SIZE);
  bool has_fp64 = false;  // cl_khr_fp64 as a whole word of the extension list
  const std::string ext = device_string(device, CL_DEVICE_EXTENSIONS);
  const std::string_view word = "cl_khr_fp64";
  for (size_t pos = ext.find(word); pos != std::string::npos; pos = ext.find(word, pos + 1)) {
    const size_t end = pos + word.size();
    if ((pos == 0 || ext[pos - 1] == ' ') && (end == ext.size() || ext[end] == ' '))
      has_fp64 = true;
  }
  i.fp64 = has_fp64 && device_value<cl_device_fp_config>(device, CL_DEVICE_DOUBLE_FP_CONFIG) != 0;
  return i;
}

Geom make_geom(std::string_view op, const Shape& shape, std::initializer_list<Operand> ops) {
  const size_t k = ops.size();
  // Axes of size 1 carry no offset; drop them.
  struct Axis {
    int64_t size;
    int64_t stride[kMaxOps];
  };
  std::vector<Axis> axes;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    Axis a{shape[d], {}};
    size_t j = 0;
    for (const Operand& o : ops) a.stride[j++] = (*o.strides)[d];
    axes.push_back(a);
  }
  // Merge an axis into the one before it when every operand steps over both as one axis.
  std::vector<Axis> merged;
  for (const Axis& a : axes) {
    if (!merged.empty()) {
      Axis& b = merged.back();
      bool ok = true;
      for (size_t j = 0; j < k; ++j) ok = ok && b.stride[j] == a.stride[j] * a.size;
      if (ok) {
        b.size *= a.size;
        for (size_t j = 0; j < k; ++j) b.stride[j] = a.stride[j];
        continue;
      }
    }
    merged.push_back(a);
  }
  if (merged.size() > static_cast<size_t>(kMaxRank))
    fail<BackendError>("opencl ", op, ": ", merged.size(), " axes remain after merging shape ",
                       shape, " (the kernels take at most ", kMaxRank, ")");
  Geom g{};
  g.rank = static_cast<cl_int>(merged.size());
  g.numel = tg::numel(shape);
  for (size_t d = 0; d < merged.size(); ++d) {
    g.shape[d] = merged[d].size;
    for (size_t j = 0; j < k; ++j) g.stride[j][d] = merged[d].stride[j];
  }
  size_t j = 0;
  for (const Operand& o : ops) g.offset[j++] = o.offset;
  return g;
}

const char* suffix(DType t) {
  switch (t) {
    case DType::Float32:
      return "f32";
    case DType::Float64:
      return "f64";
    case DType::Int32:
      return "i32";
    case DType::Int64:
      return "i64";
    case DType::Bool:
      return "b8";
  }
  return "b8";
}

namespace {
/// The element types the program is instantiated for.
struct TypeDef {
  const char* t;
  const char* suf;
  int kind;  // 0 floating, 1 integer, 2 bool
  const char* acc;
  const char* real;
  const char* lowest;
};
constexpr TypeDef kTypes[] = {
    {"float", "f32", 0, "hireal", "float", "(-FLT_MAX)"},
    {"double", "f64", 0, "double", "double", "(-DBL_MAX)"},
    {"int", "i32", 1, "long", "hireal", "INT_MIN"},
    {"long", "i64", 1, "long", "hireal", "LONG_MIN"},
    {"uchar", "b8", 2, "long", "hireal", "((uchar)0)"},
};

std::string to_expr(const TypeDef& t, const char* v) {
  return t.kind == 2 ? std::string("((uchar)((") + v + ") != 0))"
                     : std::string("((") + t.t + ")(" + v + "))";
}

/// The whole program: common.cl, typed.cl per dtype, copy.cl per dtype pair.
std::string program_source(bool fp64) {
  // The kernel codes of core/op_table.hpp as macros, so the switches in typed.cl use the
  // enums' numbers.
  std::string s = op_table_defines() + source::kCommon;
  for (const TypeDef& t : kTypes) {
    if (!fp64 && std::strcmp(t.suf, "f64") == 0) continue;
    s += std::string("\n#define T ") + t.t + "\n#define SUF " + t.suf + "\n#define TG_KIND " +
         std::to_string(t.kind) + "\n#define ACC " + t.acc + "\n#define REAL " + t.real +
         "\n#define T_LOWEST " + t.lowest + "\n#define TO_T(v) " + to_expr(t, "v") + "\n";
    s += source::kTyped;
    if (t.kind == 0) s += source::kOptimizer;
    s += "\n#undef T\n#undef SUF\n#undef TG_KIND\n#undef ACC\n#undef REAL\n#undef T_LOWEST\n#undef "
         "TO_T\n";
  }
  for (const TypeDef& a : kTypes)
    for (const TypeDef& b : kTypes) {
      if (!fp64 && (std::strcmp(a.suf, "f64") == 0 || std::strcmp(b.suf, "f64") == 0)) continue;
      s += std::string("\n#define TS ") + a.t + "\n#define SUFS " + a.suf + "\n#define TD " + b.t +
           "\n#define SUFD " + b.suf + "\n#define TO_TD(v) " + to_expr(b, "v") + "\n";
      s += source::kCopy;
      s += "\n#undef TS\n#undef SUFS\n#undef TD\n#undef SUFD\n#undef TO_TD\n";
    }
  return s;
}
}  // namespace

Context::Context(int index, cl_platform_id platform, cl_device_id device)
    : device_(Device::opencl(index)),
      info_(describe_device(index, platform, device)),
      device_id_(device) {
  // TG_OPENCL_DISABLE_FP64=1 builds the program as for a device without cl_khr_fp64 (tests).
  if (const char* v = std::getenv("TG_OPENCL_DISABLE_FP64"); v && *v && std::string_view(v) != "0")
    info_.fp64 = false;
  cl_int err = CL_SUCCESS;
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                         reinterpret_cast<cl_context_properties>(platform), 0};
  context_ = clCreateContext(props, 1, &device, nullptr, nullptr, &err);
  if (err != CL_SUCCESS) fail_status("clCreateContext", err, device_);
  queue_ = clCreateCommandQueue(context_, device, 0, &err);  // in order
  if (err != CL_SUCCESS) fail_status("clCreateCommandQueue", err, device_);
  allocator_ =
      std::make_unique<CachingAllocator>(device_, CachingAllocator::Raw{raw_alloc, raw_free, this});
}

Context::~Context() {
  // Contexts live for the whole process (tensors may outlive main); this runs only when a
  // constructor above failed part-way.
  if (queue_) clReleaseCommandQueue(queue_);
  if (context_) clReleaseContext(context_);
}

void* Context::raw_alloc(size_t bytes, void* self) {
  auto* c = static_cast<Context*>(self);
  if (c->closed())
    fail<BackendError>("opencl: allocation on ", c->device_,
                       " after the device was closed at process exit");
  if (bytes > c->info_.max_allocation)
    fail<BackendError>("opencl: allocation of ", bytes, " bytes on ", c->device_,
                       " exceeds the device's largest buffer (", c->info_.max_allocation,
                       " bytes)");
  // Drivers often allocate lazily; keep the total within the device's memory so that running out
  // is a clear error here, not a failure in some later kernel.
  if (c->live_bytes_.load() + bytes > c->info_.global_memory) return nullptr;
  cl_int err = CL_SUCCESS;
  cl_mem m = clCreateBuffer(c->context_, CL_MEM_READ_WRITE, bytes, nullptr, &err);
  if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
      err == CL_OUT_OF_HOST_MEMORY || err == CL_INVALID_BUFFER_SIZE)
    return nullptr;  // the allocator frees its cache, retries, then reports out of memory
  if (err != CL_SUCCESS) fail_status("clCreateBuffer", err, c->device_);
  c->live_bytes_ += bytes;
  return m;
}

void Context::raw_free(void* p, void* self) {
  auto* c = static_cast<Context*>(self);
  if (c->closed()) return;  // after close(): the process is exiting
  size_t bytes = 0;
  clGetMemObjectInfo(static_cast<cl_mem>(p), CL_MEM_SIZE, sizeof(bytes), &bytes, nullptr);
  c->live_bytes_ -= bytes;
  clReleaseMemObject(static_cast<cl_mem>(p));
}

void Context::require_dtype(std::string_view op, DType dt) const {
  if (dt == kFloat64 && !info_.fp64)
    fail<BackendError>("opencl ", op, ": device ", device_, " (", info_.name,
                       ") has no float64 support (cl_khr_fp64)");
}

void Context::build_program_locked() {
  const std::string src = program_source(info_.fp64);
  const char* text = src.c_str();
  const size_t len = src.size();
  cl_int err = CL_SUCCESS;
  cl_program p = clCreateProgramWithSource(context_, 1, &text, &len, &err);
  if (err != CL_SUCCESS) fail_status("clCreateProgramWithSource", err, device_);
  std::string options;
  if (info_.fp64) options += " -DTG_FP64";
  cl_device_fp_config single = 0;
  clGetDeviceInfo(device_id_, CL_DEVICE_SINGLE_FP_CONFIG, sizeof(single), &single, nullptr);
  if (single & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT)
    options += " -cl-fp32-correctly-rounded-divide-sqrt";
  err = clBuildProgram(p, 1, &device_id_, options.c_str(), nullptr, nullptr);
  if (err != CL_SUCCESS) {
    size_t n = 0;
    clGetProgramBuildInfo(p, device_id_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    clGetProgramBuildInfo(p, device_id_, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    clReleaseProgram(p);
    if (log.size() > 4000) log = log.substr(0, 4000) + "\n...";
    fail<BackendError>("opencl: clBuildProgram failed on ", device_, ": ", status_name(err), " (",
                       err, "); build log:\n", log);
  }
  if (const char* v = std::getenv("TG_OPENCL_BUILD_LOG"); v && *v && std::string_view(v) != "0") {
    size_t n = 0;
    clGetProgramBuildInfo(p, device_id_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    clGetProgramBuildInfo(p, device_id_, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    std::fprintf(stderr, "tapegrad opencl: program built for %s with options '%s'; log:\n%s\n",
                 info_.name.c_str(), options.c_str(), log.c_str());
  }
  program_ = p;
  ++stats_.programs_built;
}

const Context::Kernel& Context::kernel_locked(const std::string& name) {
  auto it = kernels_.find(name);
  if (it != kernels_.end()) return it->second;
  if (!program_) build_program_locked();
  cl_int err = CL_SUCCESS;
  Kernel k;
  k.kernel = clCreateKernel(program_, name.c_str(), &err);
  if (err != CL_SUCCESS) fail_status("clCreateKernel(" + name + ")", err, device_);
  size_t wg = 0;
  clGetKernelWorkGroupInfo(k.kernel, device_id_, CL_KERNEL_WORK_GROUP_SIZE, sizeof(wg), &wg,
                           nullptr);
  // A fixed work-group size: PoCL compiles a kernel once per local size.
  k.local = std::max<size_t>(1, std::min<size_t>(64, wg ? wg : 64));
  ++stats_.kernels_created;
  kernels_since_exit_handler_ = true;
  return kernels_.emplace(name, k).first->second;
}

void Context::set_arg_bytes(cl_kernel k, const std::string& name, cl_uint i, size_t size,
                            const void* p) {
  const cl_int err = clSetKernelArg(k, i, size, p);
  if (err != CL_SUCCESS)
    fail_status("clSetKernelArg(" + name + ", " + std::to_string(i) + ")", err, device_);
}

void Context::enqueue_locked(const Kernel& k, const std::string& name, size_t n) {
  if (closed())
    fail<BackendError>("opencl: kernel ", name, " launched on ", device_,
                       " after the device was closed at process exit");
  const size_t local = k.local;
  const size_t global = (n + local - 1) / local * local;
  const cl_int err =
      clEnqueueNDRangeKernel(queue_, k.kernel, 1, nullptr, &global, &local, 0, nullptr, nullptr);
  if (err != CL_SUCCESS) fail_status("clEnqueueNDRangeKernel(" + name + ")", err, device_);
  ++stats_.launches;
}

void Context::reap_uploads_locked(bool all) {
  auto done = [&](Upload& u) {
    if (!all) {
      cl_int st = CL_QUEUED;
      clGetEventInfo(u.done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof(st), &st, nullptr);
      if (st > CL_COMPLETE) return false;  // queued, submitted or running (errors are < 0)
    }
    clReleaseEvent(u.done);
    return true;
  };
  uploads_.erase(std::remove_if(uploads_.begin(), uploads_.end(), done), uploads_.end());
}

void Context::upload(const void* src, cl_mem dst, size_t offset, size_t bytes) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.uploads;
  constexpr size_t kStagingLimit = size_t{64} << 20;
  if (bytes > kStagingLimit) {  // large: write in place and wait rather than double the memory
    const cl_int err =
        clEnqueueWriteBuffer(queue_, dst, CL_TRUE, offset, bytes, src, 0, nullptr, nullptr);
    if (err != CL_SUCCESS) fail_status("clEnqueueWriteBuffer", err, device_);
    return;
  }
  // The caller may free src at once: write from a staging copy, released once the write is done.
  Upload u{nullptr, std::make_unique<char[]>(bytes)};
  std::memcpy(u.staging.get(), src, bytes);
  const cl_int err = clEnqueueWriteBuffer(queue_, dst, CL_FALSE, offset, bytes, u.staging.get(), 0,
                                          nullptr, &u.done);
  if (err != CL_SUCCESS) fail_status("clEnqueueWriteBuffer", err, device_);
  uploads_.push_back(std::move(u));
  reap_uploads_locked(false);
}

void Context::download(cl_mem src, size_t offset, size_t bytes, void* dst) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.downloads;
  const cl_int err =
      clEnqueueReadBuffer(queue_, src, CL_TRUE, offset, bytes, dst, 0, nullptr, nullptr);
  if (err != CL_SUCCESS) fail_status("clEnqueueReadBuffer", err, device_);
  reap_uploads_locked(true);  // the in-order queue has run every earlier write
  after_wait_locked();
}

void Context::after_wait_locked() {
  // Every kernel enqueued so far has run, so PoCL compiled it: the compiler's statics exist.
  if (!kernels_since_exit_handler_) return;
  kernels_since_exit_handler_ = false;
  register_exit_handler();
}

void Context::fill(cl_mem dst, const void* pattern, size_t pattern_size, size_t offset,
                   size_t bytes) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  const cl_int err =
      clEnqueueFillBuffer(queue_, dst, pattern, pattern_size, offset, bytes, 0, nullptr, nullptr);
  if (err != CL_SUCCESS) fail_status("clEnqueueFillBuffer", err, device_);
}

void Context::copy_buffer(cl_mem src, size_t src_offset, cl_mem dst, size_t dst_offset,
                          size_t bytes) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  const cl_int err =
      clEnqueueCopyBuffer(queue_, src, dst, src_offset, dst_offset, bytes, 0, nullptr, nullptr);
  if (err != CL_SUCCESS) fail_status("clEnqueueCopyBuffer", err, device_);
}

void Context::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  const cl_int err = clFinish(queue_);
  if (err != CL_SUCCESS) fail_status("clFinish", err, device_);
  reap_uploads_locked(true);
  after_wait_locked();
}

void Context::finish_quietly() {
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_) clFinish(queue_);
}

void Context::close() {
  if (closed()) return;
  allocator_->release_cache();  // cached buffers go back while the context is alive
  std::lock_guard<std::mutex> lock(mu_);
  // Errors are ignored from here: nothing can be reported at exit.
  clFinish(queue_);
  reap_uploads_locked(true);
  for (auto& [name, k] : kernels_) clReleaseKernel(k.kernel);
  kernels_.clear();
  if (program_) clReleaseProgram(std::exchange(program_, nullptr));
  if (error_flag_) clReleaseMemObject(std::exchange(error_flag_, nullptr));
  closed_.store(true, std::memory_order_release);
  clReleaseCommandQueue(std::exchange(queue_, nullptr));
  clReleaseContext(std::exchange(context_, nullptr));
}

cl_mem Context::error_flag(bool reset) {
  std::lock_guard<std::mutex> lock(mu_);
  cl_int err = CL_SUCCESS;
  if (!error_flag_) {
    error_flag_ = clCreateBuffer(context_, CL_MEM_READ_WRITE, sizeof(cl_int), nullptr, &err);
    if (err != CL_SUCCESS) fail_status("clCreateBuffer(error flag)", err, device_);
  }
  if (!reset) return error_flag_;
  const cl_int zero = 0;
  err = clEnqueueFillBuffer(queue_, error_flag_, &zero, sizeof(zero), 0, sizeof(zero), 0, nullptr,
                            nullptr);
  if (err != CL_SUCCESS) fail_status("clEnqueueFillBuffer(error flag)", err, device_);
  return error_flag_;
}

int Context::take_error_flag() {
  cl_int v = 0;
  download(error_flag_, 0, sizeof(v), &v);
  return v;
}

ContextStats Context::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace tg::opencl
