// Backend selection by device, with a thread-local switch to the reference backend.
#include "tapegrad/core/registry.hpp"

#include <iterator>
#include <mutex>
#include <unordered_map>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/error.hpp"

namespace tg {

Backend& cpu_backend();                      // defined in backends/cpu
Backend* opencl_backend_factory(int index);  // defined in backends/opencl

namespace {
[[gnu::tls_model("initial-exec")]] thread_local bool t_use_reference = false;
struct Factories {
  std::mutex mu;
  Backend* (*opencl)(int) = opencl_backend_factory;  // register_backend may replace it
};
Factories& factories() {
  static Factories f;
  return f;
}
}  // namespace

Backend& backend_for(Device d) {
  if (d.type == DeviceType::CPU) return t_use_reference ? reference_backend() : cpu_backend();
  Backend* (*f)(int) = nullptr;
  {
    std::lock_guard<std::mutex> lock(factories().mu);
    f = factories().opencl;
  }
  if (!f) fail<DeviceError>("backend_for: no backend serves device ", d, " in this build");
  Backend* b = f(d.index);
  if (!b) fail<DeviceError>("backend_for: device ", d, " does not exist");
  return *b;
}

void register_backend(DeviceType type, Backend* (*factory)(int)) {
  if (type == DeviceType::CPU) fail<ValueError>("register_backend: the CPU backend is built in");
  std::lock_guard<std::mutex> lock(factories().mu);
  factories().opencl = factory;
}

UseReferenceBackend::UseReferenceBackend() : prev_(t_use_reference) { t_use_reference = true; }
UseReferenceBackend::~UseReferenceBackend() { t_use_reference = prev_; }

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
