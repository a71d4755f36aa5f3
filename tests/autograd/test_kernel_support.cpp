// The kernel table (TG_KERNELS in core/op_table.hpp) against the backends and the ops: every
// backend declares every kernel native or a fallback on its domain; the ops ask before they
// dispatch; every op names a kernel of the table; every kernel variant is reached by an entry.
#include <atomic>
#include <cstdlib>
#include <set>
#include <sstream>

#include "autograd/op_cases.hpp"
#include "tapegrad/backends/reference/reference_backend.hpp"
#include "tapegrad/backends/opencl/opencl_devices.hpp"
#include "test_util.hpp"

using namespace tg;

namespace {
constexpr DType kAllDTypes[] = {kFloat32, kFloat64, kInt32, kInt64, kBool};

bool moves_data(Kernel k) {
  return k == Kernel::CopyFromHost || k == Kernel::CopyToHost || k == Kernel::Fill ||
         k == Kernel::Copy || k == Kernel::Where || k == Kernel::Gather;
}

/// Checks backend b against the table: Native or Fallback inside each kernel's domain (float64
/// only where the device has it), None outside.
void check_backend(const Backend& b, bool has_fp64) {
  for (int i = 0; i < kKernelCount; ++i) {
    const auto k = static_cast<Kernel>(i);
    for (DType dt : kAllDTypes) {
      INFO(b.name() << " " << kernel_name(k) << " " << dt);
      const Support s = b.supports(k, dt);
      if (!kernel_domain_has(k, dt))
        CHECK(s == Support::None);
      else if (dt == kFloat64 && !has_fp64)  // only data movement: float64 as 64-bit words
        CHECK((s != Support::None) == moves_data(k));
      else
        CHECK(s != Support::None);
    }
  }
}
}  // namespace

TEST_CASE("the kernel table has one distinct name per kernel", "[registry][kernels]") {
  std::set<std::string> names;
  for (int i = 0; i < kKernelCount; ++i)
    CHECK(names.insert(std::string(kernel_name(static_cast<Kernel>(i)))).second);
  CHECK(kernel_name(Kernel::Matmul) == "matmul");
  CHECK(kernel_name(Kernel::NadamUpdate) == "nadam_update");
  CHECK(kernel_domain_has(Kernel::Gather, kBool));
  CHECK_FALSE(kernel_domain_has(Kernel::Conv2d, kInt64));
  CHECK(kernel_domain_has(Kernel::Conv2d, kFloat64));
}

TEST_CASE("every backend runs every kernel natively or by a declared fallback",
          "[registry][kernels]") {
  check_backend(reference_backend(), true);
  // The reference backend is native everywhere but for the compositions it declares.
  CHECK(reference_backend().supports(Kernel::Matmul, kInt64) == Support::Native);
  CHECK(reference_backend().supports(Kernel::RnnForward, kFloat32) == Support::Fallback);
  const Backend& cpu = backend_for(Device::cpu());
  check_backend(cpu, true);
  if (cpu.name() == "cpu") {  // the oneDNN backend: its primitives are float32
    CHECK(cpu.supports(Kernel::Matmul, kFloat32) == Support::Native);
    CHECK(cpu.supports(Kernel::Conv2d, kFloat32) == Support::Native);
    CHECK(cpu.supports(Kernel::Matmul, kFloat64) == Support::Fallback);
    CHECK(cpu.supports(Kernel::AdamUpdate, kFloat32) == Support::Fallback);
  }
  const auto devices = opencl_devices();
  if (has_backend(DeviceType::OpenCL) && !devices.empty()) {
    const Backend& ocl = backend_for(Device::opencl(0));
    check_backend(ocl, devices[0].fp64);
    CHECK(ocl.supports(Kernel::AdamUpdate, kFloat32) == Support::Native);
    CHECK(ocl.supports(Kernel::MaxPool2dBackward, kFloat32) == Support::Fallback);
    CHECK(ocl.supports(Kernel::Copy, kFloat64) == Support::Native);
    if (!devices[0].fp64) CHECK(ocl.supports(Kernel::Matmul, kFloat64) == Support::None);
  }
}

TEST_CASE("every registered op names a kernel of the table", "[registry][kernels]") {
  std::set<std::string> kernels{"composite", "view"};
  for (int i = 0; i < kKernelCount; ++i) kernels.insert(std::string(kernel_name(static_cast<Kernel>(i))));
  std::ostringstream unknown;
  for (const auto& info : autograd::registered_ops())
    if (!kernels.count(info.kernel)) unknown << info.name << " (" << info.kernel << ") ";
  INFO("ops naming no kernel of TG_KERNELS: " << unknown.str());
  CHECK(unknown.str().empty());
}

TEST_CASE("every kernel variant of the op table is reached by an op entry", "[registry][kernels]") {
  // Every small entry forward and, where differentiable, backward (grad mode off in backward:
  // the path that uses variants such as relu_backward).
  const auto& cases = test::op_cases();
  for (size_t k = 0; k < cases.size(); ++k) {
    const test::OpCase& c = cases[k];
    if (c.large) continue;
    UseReferenceBackend ref;
    std::vector<Tensor> xs = test::make_inputs(c, kFloat64, k);
    if (c.differentiable)
      for (size_t i : test::floating_inputs(xs)) xs[i].requires_grad_(true);
    Tensor y = c.fn(xs);
    if (c.differentiable && y.requires_grad()) sum(y).backward();
  }
  std::ostringstream missing;
  for (int i = 0; i < kUnaryOpCount; ++i)
    if (autograd::dispatch_count(static_cast<UnaryOp>(i)) == 0)
      missing << "unary " << unary_op_name(static_cast<UnaryOp>(i)) << "; ";
  for (int i = 0; i < kBinaryOpCount; ++i)
    if (autograd::dispatch_count(static_cast<BinaryOp>(i)) == 0)
      missing << "binary " << binary_op_name(static_cast<BinaryOp>(i)) << "; ";
  for (int i = 0; i < kReduceOpCount; ++i)
    if (autograd::dispatch_count(static_cast<ReduceOp>(i)) == 0)
      missing << "reduce " << reduce_op_name(static_cast<ReduceOp>(i)) << "; ";
  INFO("variants no entry reaches: " << missing.str());
  CHECK(missing.str().empty());
}

namespace {
/// A device whose backend lacks float64 matmul and every softmax: the reference loops on host
/// memory otherwise, counting the matmul calls that reach it.
class LimitedBackend : public ReferenceBackend {
 public:
  std::string_view name() const override { return "limited"; }
  CachingAllocator& allocator() override { return allocator_; }
  Support supports(Kernel k, DType dt) const override {
    if ((k == Kernel::Matmul && dt == kFloat64) || k == Kernel::Softmax) return Support::None;
    return ReferenceBackend::supports(k, dt);
  }
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override {
    ++matmul_calls;
    ReferenceBackend::matmul(a, b, out);
  }
  std::atomic<int> matmul_calls{0};

 private:
  // Host memory, labelled device opencl:0 (storages report their allocator's device).
  CachingAllocator allocator_{
      Device::opencl(0),
      {[](size_t bytes, void*) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); },
       [](void* p, void*) { std::free(p); }, nullptr}};
};
LimitedBackend& limited() {
  static LimitedBackend* b = new LimitedBackend();
  return *b;
}
}  // namespace

TEST_CASE("ops refuse a kernel the device's backend lacks, before dispatch",
          "[registry][kernels][errors]") {
  // This suite never uses OpenCL: the limited backend stands in for device opencl:0 here.
  register_backend(DeviceType::OpenCL, [](int i) -> Backend* { return i == 0 ? &limited() : nullptr; });
  const Device dev = Device::opencl(0);
  const Tensor a64 = ones({2, 3}, {.dtype = kFloat64, .device = dev});
  const Tensor b64 = ones({3, 2}, {.dtype = kFloat64, .device = dev});
  CHECK_THROWS_AS(matmul(a64, b64), BackendError);
  CHECK_THROWS_WITH(matmul(a64, b64),
                    Catch::Contains("matmul: backend 'limited' of device opencl:0 has no float64 "
                                    "kernel for matmul"));
  CHECK(limited().matmul_calls == 0);
  CHECK_THROWS_WITH(softmax(ones({4}, {.device = dev})),
                    Catch::Contains("softmax: backend 'limited' of device opencl:0 has no float32 "
                                    "kernel for softmax"));
  // What the backend has still runs: float32 matmul, 1·1·3 = 3 everywhere.
  const Tensor y = matmul(a64.to(kFloat32), b64.to(kFloat32));
  CHECK(limited().matmul_calls == 1);
  TG_CHECK_VALUES(y.to(Device::cpu()), (std::vector<double>{3, 3, 3, 3}), 0, 0);
}
