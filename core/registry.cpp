// Backend selection by device, with a thread-local switch to the reference backend.
#include "tapegrad/core/registry.hpp"

#include <array>
#include <iterator>
#include <mutex>
#include <unordered_map>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/error.hpp"

namespace tg {

// Defined in the generated backends/builtin_backends.cpp: registers the backends this build
// has (meson options onednn and opencl), each through its backends/<name>/register.cpp.
void register_builtin_backends();

namespace {
// Thread-local switches of backend_for, read together on every op: bit 0 UseReferenceBackend,
// bit 1 MetaScope.
constexpr uint8_t kReferenceBit = 1, kMetaBit = 2;
[[gnu::tls_model("initial-exec")]] thread_local uint8_t t_mode = 0;
bool set_mode_bit(uint8_t bit, bool on) {
  const bool prev = t_mode & bit;
  t_mode = on ? (t_mode | bit) : (t_mode & ~bit);
  return prev;
}
using Factory = Backend* (*)(int);
struct Factories {
  std::mutex mu;
  std::array<Factory, kDeviceTypeCount> by_type{};
};
Factories& factories() {
  static Factories f;
  return f;
}
thread_local bool t_registering_builtins = false;
/// The factories after the built-in backends registered (once, before any lookup and before a
/// user's register_backend, so that a user's registration replaces a built-in one).
Factories& registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    t_registering_builtins = true;
    register_builtin_backends();
    t_registering_builtins = false;
  });
  return factories();
}
}  // namespace

Backend& backend_for(Device d) {
  if (t_mode) [[unlikely]] {
    if (t_mode & kMetaBit) return meta_backend();
    if (d.type == DeviceType::CPU) return reference_backend();
  }
  return device_backend(d);
}

Backend& device_backend(Device d) {
  if (d.type == DeviceType::CPU) {
    // The CPU factory's result, cached: backend_for(cpu) is on every op.
    static Backend* const cpu = [] {
      Factories& f = registered();
      std::lock_guard<std::mutex> lock(f.mu);
      return f.by_type[0] ? f.by_type[0](0) : nullptr;
    }();
    if (cpu) return *cpu;
    fail<DeviceError>("backend_for: no backend serves the CPU in this build");
  }
  Factory f = nullptr;
  {
    Factories& fs = registered();
    std::lock_guard<std::mutex> lock(fs.mu);
    f = fs.by_type[static_cast<size_t>(d.type)];
  }
  if (!f)
    fail<DeviceError>("backend_for: no backend serves device ", d,
                      " in this build (built without it: see the meson options in docs/backends.md)");
  Backend* b = f(d.index);
  if (!b) fail<DeviceError>("backend_for: device ", d, " does not exist");
  return *b;
}

bool has_backend(DeviceType type) {
  Factories& f = registered();
  std::lock_guard<std::mutex> lock(f.mu);
  return f.by_type[static_cast<size_t>(type)] != nullptr;
}

void register_backend(DeviceType type, Backend* (*factory)(int)) {
  const auto i = static_cast<size_t>(type);
  if (i >= kDeviceTypeCount) fail<ValueError>("register_backend: unknown device type ", i);
  Factories& f = t_registering_builtins ? factories() : registered();
  std::lock_guard<std::mutex> lock(f.mu);
  if (type == DeviceType::CPU && f.by_type[i])
    fail<ValueError>("register_backend: the CPU backend is registered once, at start-up");
  f.by_type[i] = factory;
}

UseReferenceBackend::UseReferenceBackend() : prev_(set_mode_bit(kReferenceBit, true)) {}
UseReferenceBackend::~UseReferenceBackend() { set_mode_bit(kReferenceBit, prev_); }

MetaScope::MetaScope() : prev_(set_mode_bit(kMetaBit, true)) {}
MetaScope::~MetaScope() { set_mode_bit(kMetaBit, prev_); }
NoMetaScope::NoMetaScope() : prev_(set_mode_bit(kMetaBit, false)) {}
NoMetaScope::~NoMetaScope() { set_mode_bit(kMetaBit, prev_); }
bool in_meta_scope() { return t_mode & kMetaBit; }

void Backend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices,
                                  const Tensor& grad_in, const Pool2dParams&) {
  fill(grad_in, 0.0);
  scatter_add(grad_in.view({grad_in.numel()}), 0, indices.view({indices.numel()}),
              grad_out.view({grad_out.numel()}));
}

std::shared_ptr<RnnWorkspace> Backend::rnn_forward(RnnCell, bool, bool, const RnnOperands&,
                                                   const Tensor&, const Tensor&, const Tensor&) {
  return nullptr;  // no whole-sequence kernel: the op runs the steps one by one
}

void Backend::rnn_backward(RnnCell, bool, const RnnOperands&, const Tensor&, const Tensor&,
                           const Tensor&, RnnWorkspace&, const Tensor&, const Tensor&,
                           const Tensor&, const RnnOperands&) {
  // Reached only if a backend returns a workspace from rnn_forward without overriding this.
  fail<BackendError>("rnn_backward: backend '", name(),
                     "' returned a workspace from rnn_forward but has no rnn_backward");
}

#define TG_OP_NAME_(name, str, ocl) str,
std::string_view unary_op_name(UnaryOp op) {
  static constexpr std::string_view names[] = {TG_UNARY_OPS(TG_OP_NAME_)};
  static_assert(std::size(names) == kUnaryOpCount);
  return names[static_cast<int>(op)];
}
std::string_view binary_op_name(BinaryOp op) {
  static constexpr std::string_view names[] = {TG_BINARY_OPS(TG_OP_NAME_)};
  static_assert(std::size(names) == kBinaryOpCount);
  return names[static_cast<int>(op)];
}
std::string_view reduce_op_name(ReduceOp op) {
  static constexpr std::string_view names[] = {TG_REDUCE_OPS(TG_OP_NAME_)};
  static_assert(std::size(names) == kReduceOpCount);
  return names[static_cast<int>(op)];
}
#undef TG_OP_NAME_

#define TG_KERNEL_NAME_(name, str, domain) str,
std::string_view kernel_name(Kernel k) {
  static constexpr std::string_view names[] = {TG_KERNELS(TG_KERNEL_NAME_)};
  static_assert(std::size(names) == kKernelCount);
  return names[static_cast<int>(k)];
}
#undef TG_KERNEL_NAME_

bool kernel_domain_has(Kernel k, DType dt) {
  enum Domain : uint8_t { All, Floating };
#define TG_KERNEL_DOMAIN_(name, str, domain) domain,
  static constexpr Domain domains[] = {TG_KERNELS(TG_KERNEL_DOMAIN_)};
#undef TG_KERNEL_DOMAIN_
  static_assert(std::size(domains) == kKernelCount);
  return domains[static_cast<int>(k)] == All || is_floating(dt);
}

std::string_view support_name(Support s) {
  switch (s) {
    case Support::None:
      return "none";
    case Support::Native:
      return "native";
    case Support::Fallback:
      return "fallback";
  }
  return "?";
}

std::string op_table_defines() {
  std::string s;
  int i = 0;
  auto add = [&](const char* macro) { s += std::string("#define ") + macro + " " + std::to_string(i++) + "\n"; };
#define TG_OP_DEFINE_(name, str, ocl) add(#ocl);
  TG_UNARY_OPS(TG_OP_DEFINE_)
  i = 0;
  TG_BINARY_OPS(TG_OP_DEFINE_)
  i = 0;
  TG_REDUCE_OPS(TG_OP_DEFINE_)
#undef TG_OP_DEFINE_
  return s;
}

}  // namespace tg
