// The OpenCL backend against the reference backend: every op entry forward and backward in
// float32 (and float64 where the device has it), plus device handling, random streams, the
// buffer pool and a short training run. Exits 77 (skipped) when no OpenCL device exists.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "autograd/op_cases.hpp"
#include "tapegrad/backends/opencl/opencl_backend.hpp"
#include "test_util.hpp"

using namespace tg;
using tg::test::OpCase;

namespace {

/// Runs before main: skips the whole executable without an OpenCL device, and points PoCL's
/// kernel cache at the build directory so that later runs reuse compiled kernels.
const bool kDeviceChecked = [] {
  if (!std::getenv("POCL_CACHE_DIR")) {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      const std::filesystem::path cache = exe.parent_path().parent_path() / "pocl_cache";
      std::filesystem::create_directories(cache, ec);
      if (!ec) setenv("POCL_CACHE_DIR", cache.c_str(), 0);
    }
  }
  if (opencl_devices().empty()) {
    std::printf("test_backends_opencl: no OpenCL device found; skipping (exit 77)\n");
    std::exit(77);
  }
  return true;
}();

const Device kDev = Device::opencl(0);

/// Whether the backend runs float64 kernels (cl_khr_fp64, unless TG_OPENCL_DISABLE_FP64 is set).
bool device_fp64() { return static_cast<OpenClBackend&>(backend_for(kDev)).device_info().fp64; }

/// Output and input gradients of one run of a case.
struct Run {
  Tensor out;
  std::vector<Tensor> grads;  // per floating input (undefined when unused)
};

/// Runs case c in dtype dt on the reference backend or on the OpenCL device (inputs made on the
/// CPU, then moved): forward, then the gradients of sum(out * w) for fixed random weights w.
Run run_case(const OpCase& c, size_t seed, DType dt, bool on_device) {
  std::vector<Tensor> xs;
  Tensor w_host;
  {
    UseReferenceBackend ref;
    xs = test::make_inputs(c, dt, seed);
  }
  std::optional<UseReferenceBackend> guard;
  if (!on_device) guard.emplace();
  if (on_device)
    for (Tensor& x : xs) x = x.to(kDev);
  std::vector<size_t> fl = test::floating_inputs(xs);
  const bool backward = c.differentiable && !fl.empty();
  if (backward)
    for (size_t i : fl) xs[i].requires_grad_(true);
  Run r;
  r.out = c.fn(xs);
  if (backward && is_floating(r.out.dtype()) && r.out.requires_grad()) {
    Tensor w;
    {
      UseReferenceBackend ref;
      w = uniform(r.out.shape(), -1.0, 1.0, 1000 + seed, {.dtype = r.out.dtype()});
    }
    w = w.to(r.out.device());
    std::vector<Tensor> wrt;
    for (size_t i : fl) wrt.push_back(xs[i]);
    r.grads = autograd::grad({sum(mul(r.out, w))}, wrt, {}, {.allow_unused = true});
  }
  return r;
}

/// Ops whose float32 results come from CLBlast GEMM (float accumulation in another order).
bool uses_gemm(const std::string& op) {
  static const std::set<std::string> ops = {"matmul", "lstm", "gru", "simple_rnn", "embedding"};
  return ops.count(op) > 0;
}

/// Compares every case of the list in dtype dt; returns the number of gradients compared.
int compare_all_cases(DType dt, const std::vector<OpCase>& cases = test::op_cases()) {
  int compared_grads = 0, compared = 0, no_fp64 = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    INFO("case: " << c.name << " (" << dt << ")");
    Run dev, ref;
    REQUIRE_NOTHROW(ref = run_case(c, k, dt, false));
    try {
      dev = run_case(c, k, dt, true);
    } catch (const BackendError& e) {
      // Without cl_khr_fp64 an entry that converts to float64 must fail, and say why.
      INFO(e.what());
      REQUIRE(!device_fp64());
      REQUIRE(std::string(e.what()).find("no float64 support") != std::string::npos);
      ++no_fp64;
      continue;
    }
    ++compared;
    double tol = dt == kFloat32 ? c.tol32 : 1e-9;
    if (dt == kFloat32 && uses_gemm(c.op)) tol = std::max(tol, 1e-4);
    REQUIRE(dev.out.shape() == ref.out.shape());
    REQUIRE(dev.out.dtype() == ref.out.dtype());
    {
      INFO("forward");
      TG_CHECK_VALUES(dev.out, test::values(ref.out), tol, tol);
    }
    REQUIRE(dev.grads.size() == ref.grads.size());
    for (size_t i = 0; i < dev.grads.size(); ++i) {
      INFO("gradient of floating input " << i);
      REQUIRE(dev.grads[i].defined() == ref.grads[i].defined());
      if (!dev.grads[i].defined()) continue;
      CHECK(dev.grads[i].shape() == ref.grads[i].shape());
      CHECK(dev.grads[i].device() ==
            (dev.grads[i].device() == Device::cpu() ? Device::cpu() : kDev));
      TG_CHECK_VALUES(dev.grads[i], test::values(ref.grads[i]), tol, tol);
      ++compared_grads;
    }
  }
  CHECK(compared + no_fp64 == static_cast<int>(cases.size()));
  if (no_fp64 > 0) WARN(no_fp64 << " entries need float64, which this device lacks");
  return compared_grads;
}

}  // namespace

TEST_CASE("Device::opencl(i) runs on the OpenCL backend; a missing device is a DeviceError",
          "[opencl]") {
  REQUIRE(kDeviceChecked);
  CHECK(backend_for(kDev).name() == "opencl");
  const int n = static_cast<int>(opencl_devices().size());
  CHECK_THROWS_AS(backend_for(Device::opencl(n)), DeviceError);
  CHECK_THROWS_AS(zeros({2}, {.device = Device::opencl(n + 3)}), DeviceError);
  CHECK_THROWS_WITH(zeros({2}, {.device = Device::opencl(n)}),
                    Catch::Contains("opencl:" + std::to_string(n)));
  const Tensor t = ones({2, 3}, {.device = kDev});
  CHECK(t.device() == kDev);
  CHECK_THROWS_AS(t.data<float>(), DeviceError);
}

TEST_CASE("to(device) and back keeps values, dtypes and views", "[opencl]") {
  Tensor a = arange(0.0, 24.0, 1.0, {.dtype = kFloat32}).reshape({4, 6});
  SECTION("contiguous, transposed, sliced and 0-d sources") {
    for (const Tensor& src : {a, a.t(), a.slice(1, 1, 6, 2), a.select(0, 2), a[1][3]}) {
      Tensor d = src.to(kDev);
      CHECK(d.device() == kDev);
      CHECK(d.shape() == src.shape());
      TG_CHECK_VALUES(d, test::values(src), 0, 0);
      TG_CHECK_VALUES(d.to(Device::cpu()), test::values(src), 0, 0);
    }
  }
  SECTION("every dtype") {
    for (DType dt : {kFloat32, kFloat64, kInt32, kInt64, kBool}) {
      if (dt == kFloat64 && !device_fp64()) continue;
      INFO(dt);
      Tensor src = (a - 11.0).to(dt);
      Tensor d = src.to(kDev);
      CHECK(d.dtype() == dt);
      TG_CHECK_VALUES(d, test::values(src), 0, 0);
      // Conversions on the device match those on the CPU.
      for (DType to : {kFloat32, kInt32, kInt64, kBool}) {
        INFO("to " << to);
        TG_CHECK_VALUES(d.to(to), test::values(src.to(to)), 0, 0);
      }
    }
  }
  SECTION("empty tensors") {
    Tensor e = zeros({0, 3}, {.device = kDev});
    CHECK(e.numel() == 0);
    CHECK(e.to(Device::cpu()).shape() == Shape{0, 3});
    CHECK(sum(e).item<double>() == 0.0);
  }
  SECTION("gradients flow back through to(device)") {
    Tensor x = uniform({3, 4}, -1, 1, 5).requires_grad_();
    Tensor y = sum(square(x.to(kDev)));
    y.backward();
    REQUIRE(x.grad().defined());
    CHECK(x.grad().device() == Device::cpu());
    std::vector<double> expect;
    for (double v : test::values(x)) expect.push_back(2 * v);
    TG_CHECK_VALUES(x.grad(), expect, 1e-6, 1e-6);
  }
}

TEST_CASE("an op on tensors of two devices is a DeviceError naming both", "[opencl]") {
  Tensor c = ones({2, 2});
  Tensor d = ones({2, 2}, {.device = kDev});
  CHECK_THROWS_AS(add(c, d), DeviceError);
  CHECK_THROWS_WITH(add(c, d), Catch::Contains("cpu") && Catch::Contains("opencl:0"));
  CHECK_THROWS_WITH(matmul(d, c), Catch::Contains("cpu") && Catch::Contains("opencl:0"));
}

TEST_CASE("every op entry: OpenCL forward and backward match the reference in float32",
          "[opencl][cases]") {
  CHECK(compare_all_cases(kFloat32) > 300);
}

TEST_CASE("every op entry: OpenCL forward and backward match the reference in float64",
          "[opencl][cases]") {
  if (!device_fp64()) {
    WARN("the device has no cl_khr_fp64: float64 kernels are not built");
    return;
  }
  CHECK(compare_all_cases(kFloat64) > 300);
}

TEST_CASE("every edge-shape variant (zero-sized axis, 0-d): OpenCL matches the reference",
          "[opencl][cases][edge]") {
  CHECK(compare_all_cases(kFloat32, test::edge_op_cases()) > 100);
  if (device_fp64()) CHECK(compare_all_cases(kFloat64, test::edge_op_cases()) > 100);
}

TEST_CASE("random streams on the device equal the CPU's for the same seed", "[opencl]") {
  for (DType dt : {kFloat32, kFloat64}) {
    if (dt == kFloat64 && !device_fp64()) continue;
    INFO(dt);
    Tensor cu = uniform({1000}, -2.0, 3.0, 77, {.dtype = dt});
    Tensor du = uniform({1000}, -2.0, 3.0, 77, {.dtype = dt, .device = kDev});
    // With float64 on the device the uniform stream is bit-identical; without, float32 rounding.
    TG_CHECK_VALUES(du, test::values(cu), device_fp64() ? 0.0 : 1e-6, device_fp64() ? 0.0 : 1e-6);
    Tensor cn = normal({1000}, 0.5, 2.0, 78, {.dtype = dt});
    Tensor dn = normal({1000}, 0.5, 2.0, 78, {.dtype = dt, .device = kDev});
    // log and cos may differ in the last ulp; float32 arithmetic without float64.
    const double tn = device_fp64() ? 1e-6 : 1e-5;
    TG_CHECK_VALUES(dn, test::values(cn), tn, tn);
  }
  // The global generator advances the same way on both devices.
  manual_seed(9);
  Tensor a1 = rand({5, 7});
  Tensor a2 = randn({33});
  manual_seed(9);
  Tensor b1 = rand({5, 7}, {.device = kDev});
  Tensor b2 = randn({33}, {.device = kDev});
  const double tu = device_fp64() ? 0.0 : 1e-6, tn = device_fp64() ? 1e-6 : 1e-5;
  TG_CHECK_VALUES(b1, test::values(a1), tu, tu);
  TG_CHECK_VALUES(b2, test::values(a2), tn, tn);
  // A seeded dropout mask is the same on both devices.
  Tensor x = ones({64, 32});
  TG_CHECK_VALUES(dropout(x.to(kDev), 0.4, true, 11), test::values(dropout(x, 0.4, true, 11)), 1e-6,
                  1e-6);
}

TEST_CASE("steady-state work reuses pooled buffers and compiled kernels", "[opencl]") {
  Tensor x = uniform({64, 32}, -1, 1, 1).to(kDev);
  Tensor w = uniform({32, 16}, -1, 1, 2).to(kDev).requires_grad_();
  Tensor b = zeros({16}, {.device = kDev}).requires_grad_();
  auto step = [&] {
    Tensor loss = mean(square(relu(matmul(x, w) + b)));
    loss.backward();
    NoGrad ng;
    w -= w.grad() * 0.1;
    b -= b.grad() * 0.1;
    w.zero_grad();
    b.zero_grad();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: kernels built, pool filled
  const AllocatorStats a0 = allocator_stats(kDev);
  const OpenClStats s0 = opencl_stats(0);
  for (int i = 0; i < 20; ++i) step();
  const AllocatorStats a1 = allocator_stats(kDev);
  const OpenClStats s1 = opencl_stats(0);
  CHECK(a1.device_allocs == a0.device_allocs);  // no new cl_mem
  CHECK(a1.cache_hits > a0.cache_hits + 20 * 5);
  CHECK(s1.programs_built == 1);  // one program per context
  CHECK(s1.kernels_created == s0.kernels_created);
  CHECK(s1.launches > s0.launches);
  CHECK(s1.blas_calls > s0.blas_calls);
  CHECK(s1.downloads == s0.downloads);   // the host never waited
  const float v = sum(w).item<float>();  // reading waits once
  CHECK(std::isfinite(v));
  CHECK(opencl_stats(0).downloads == s1.downloads + 1);
}

TEST_CASE("device errors are clear: division by zero, oversized buffers", "[opencl]") {
  // Integer (floor) division is a backend kernel; the div op itself divides in floating point.
  for (DType dt : {kInt32, kInt64}) {
    INFO(dt);
    Tensor a = tensor<int64_t>({4, 5, 6, -7}).to(dt).to(kDev);
    Tensor z = tensor<int64_t>({1, 0, 2, 1}).to(dt).to(kDev);
    Tensor out = Tensor::empty({4}, dt, kDev);
    CHECK_THROWS_AS(backend_for(kDev).binary(BinaryOp::Div, a, z, out), ValueError);
    CHECK_THROWS_WITH(backend_for(kDev).binary(BinaryOp::Div, a, z, out),
                      Catch::Contains("division by zero"));
    backend_for(kDev).binary(BinaryOp::Div, a, tensor<int64_t>({-3, 2, 4, 2}).to(dt).to(kDev), out);
    TG_CHECK_VALUES(out, (std::vector<double>{-2, 2, 1, -4}), 0, 0);  // floor division
  }
  const uint64_t max_alloc = opencl_devices().at(0).max_allocation;
  const int64_t too_many = static_cast<int64_t>(max_alloc / 4 + 1024);
  CHECK_THROWS_AS(Tensor::empty({too_many}, kFloat32, kDev), BackendError);
  CHECK_THROWS_WITH(Tensor::empty({too_many}, kFloat32, kDev),
                    Catch::Contains("opencl") && Catch::Contains("exceeds"));
}

TEST_CASE("plain autograd training gives the same losses on the CPU and on OpenCL", "[opencl]") {
  auto train = [](Device d) {
    UseReferenceBackend ref;  // on the CPU: the reference loops (CLBlast vs oneDNN both differ)
    Tensor x = uniform({128, 10}, -1, 1, 1).to(d);
    Tensor labels = argmax(matmul(x, uniform({10, 3}, -1, 1, 2).to(d)), -1);  // learnable
    Tensor w1 = (uniform({10, 32}, -1, 1, 3) * 0.3).to(d).requires_grad_();
    Tensor b1 = zeros({32}, {.device = d}).requires_grad_();
    Tensor w2 = (uniform({32, 3}, -1, 1, 4) * 0.3).to(d).requires_grad_();
    Tensor b2 = zeros({3}, {.device = d}).requires_grad_();
    std::vector<Tensor> params{w1, b1, w2, b2};
    std::vector<double> losses;
    for (int step = 0; step < 20; ++step) {
      Tensor logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
      Tensor logp = log_softmax(logits, -1);
      Tensor loss = neg(mean(take_along_axis(logp, labels.unsqueeze(1), 1)));
      loss.backward();
      NoGrad ng;
      for (Tensor& p : params) {
        p -= p.grad() * 0.5;
        p.zero_grad();
      }
      losses.push_back(loss.item<double>());
    }
    return losses;
  };
  const std::vector<double> cpu = train(Device::cpu()), ocl = train(kDev);
  TG_CHECK_VALUES(tensor<double>(ocl), cpu, 1e-5, 1e-5);
  CHECK(cpu.back() < cpu.front() * 0.8);
}

TEST_CASE("a Sequential model trains to the same losses on the CPU and on OpenCL", "[opencl]") {
  // The nn layers have no model.to(device) yet: build two identical models on the CPU from one
  // seed, then move the second one's weights by giving each weight a device storage.
  auto make = [] {
    manual_seed(123);
    nn::Sequential m({nn::Dense(16, {.activation = "tanh", .input_shape = {8}}),
                      nn::Dense(4, {.activation = "softmax"})});
    m.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
    return m;
  };
  nn::Sequential cpu = make(), ocl = make();
  Tensor x = uniform({64, 8}, -1, 1, 5);
  Tensor y = uniform({64}, 0, 4, 6).to(kInt64);
  cpu.predict(x.slice(0, 0, 1));  // builds the weights (no training step)
  ocl.predict(x.slice(0, 0, 1));
  auto cw = cpu->weights(), ow = ocl->weights();
  REQUIRE(cw.size() == ow.size());
  for (size_t i = 0; i < cw.size(); ++i) {
    Tensor moved = cw[i]->value.detach().contiguous().to(kDev);
    TensorImpl* impl = ow[i]->value.impl();
    impl->storage = moved.storage();
    impl->offset = 0;
    impl->strides = contiguous_strides(impl->shape);
  }
  Tensor xd = x.to(kDev), yd = y.to(kDev);
  std::vector<double> lc, lo;
  for (int step = 0; step < 8; ++step) {
    lc.push_back(cpu.train_on_batch(x, y).at("loss"));
    lo.push_back(ocl.train_on_batch(xd, yd).at("loss"));
  }
  for (auto* w : ow) CHECK(w->value.device() == kDev);
  TG_CHECK_VALUES(tensor<double>(lo), lc, 1e-4, 1e-4);
  CHECK(lc.back() < lc.front());
}

TEST_CASE("integer and bool kernels match the reference exactly", "[opencl]") {
  using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }},
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }},
      {"logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); }},
      {"logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); }},
      {"where", [](const Tensor& a, const Tensor& b) { return where(gt(a, b), a, b.t().t()); }},
      {"neg", [](const Tensor& a, const Tensor&) { return neg(a); }},
      {"abs", [](const Tensor& a, const Tensor&) { return abs(a.t()); }},
      {"square", [](const Tensor& a, const Tensor&) { return square(a); }},
      {"relu", [](const Tensor& a, const Tensor&) { return relu(a); }},
      {"sign", [](const Tensor& a, const Tensor&) { return sign(a); }},
      {"clip", [](const Tensor& a, const Tensor&) { return clip(a, -2, 3); }},
      {"logical_not", [](const Tensor& a, const Tensor&) { return logical_not(a); }},
      {"sum", [](const Tensor& a, const Tensor&) { return sum(a, {1}); }},
      {"sum all", [](const Tensor& a, const Tensor&) { return sum(a); }},
      {"max", [](const Tensor& a, const Tensor&) { return max(a, {0}); }},
      {"min", [](const Tensor& a, const Tensor&) { return min(a.t(), {1}, true); }},
      {"prod", [](const Tensor& a, const Tensor&) { return prod(clip(a, 1, 2), {1}); }},
      {"argmax", [](const Tensor& a, const Tensor&) { return argmax(a, 1); }},
      {"argmin", [](const Tensor& a, const Tensor&) { return argmin(a.t(), 1); }},
      {"cumsum", [](const Tensor& a, const Tensor&) { return cumsum(a, 1); }},
      {"matmul", [](const Tensor& a, const Tensor& b) { return matmul(a, b.t()); }},
      {"batched matmul",
       [](const Tensor& a, const Tensor& b) {
         return matmul(a.reshape({2, 3, 4}), b.reshape({2, 4, 3}));
       }},
      {"gather",
       [](const Tensor& a, const Tensor&) {
         return gather(
             a, 1, tensor<int64_t>({3, 0, 0, 2, 1, 1, 3, 3, 0, 2, 2, 1}, {6, 2}).to(a.device()));
       }},
      {"scatter_add",
       [](const Tensor& a, const Tensor&) {
         Tensor ix = tensor<int64_t>({0, 1, 0, 1, 1, 1, 0, 0}, {2, 4}).to(a.device());
         return scatter_add(zeros({2, 4}, {.dtype = a.dtype(), .device = a.device()}), 0, ix,
                            a.slice(0, 0, 2));
       }},
      {"concat",
       [](const Tensor& a, const Tensor& b) {
         return concat({a, b.t().t()}, 0);
       }},
  };
  std::vector<double> av, bv;
  for (int i = 0; i < 24; ++i) {
    av.push_back((i * 7) % 11 - 5);
    bv.push_back((i * 5) % 9 - 4);
  }
  int compared = 0;
  for (DType dt : {kInt32, kInt64, kBool}) {
    Tensor a, b;
    {
      UseReferenceBackend ref;
      a = tensor<double>(av, {6, 4}, {.dtype = kFloat64}).to(dt);
      b = tensor<double>(bv, {6, 4}, {.dtype = kFloat64}).to(dt);
    }
    for (const auto& [name, f] : ops) {
      INFO(name << " on " << dt);
      Tensor expect;
      try {
        UseReferenceBackend ref;
        expect = f(a, b);
      } catch (const Error&) {
        continue;  // the op refuses this dtype (on every device)
      }
      if (dt == kBool && (name == "clip" || name == "prod")) {  // clip has no bool kernel
        CHECK_THROWS_AS(f(a.to(kDev), b.to(kDev)), BackendError);
        continue;
      }
      if (dt == kBool && (name == "abs" || name == "square" || name == "relu" || name == "sign")) {
        // The identity on bool. (The reference backend's unary kernel answers logical_not for
        // every op with a bool output: a bug there, so compare with the input instead.)
        expect = name == "abs" ? a.t() : a;
      }
      Tensor got;
      REQUIRE_NOTHROW(got = f(a.to(kDev), b.to(kDev)));
      CHECK(got.device() == kDev);
      CHECK(got.dtype() == expect.dtype());
      CHECK(got.shape() == expect.shape());
      TG_CHECK_VALUES(got, test::values(expect), 0, 0);
      ++compared;
    }
  }
  CHECK(compared > 50);
}

TEST_CASE("kernels without gradient outputs and on strided targets", "[opencl]") {
  Tensor x;
  {
    UseReferenceBackend ref;
    x = uniform({2, 6, 6, 3}, -1, 1, 31);
  }
  Tensor xd = x.to(kDev);
  NoGrad ng;  // max_pool2d without indices, ctc_loss without its gradient
  Tensor pm, pd, cm, cd;
  {
    UseReferenceBackend ref;
    pm = max_pool2d(x, {.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"});
  }
  pd = max_pool2d(xd, {.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"});
  TG_CHECK_VALUES(pd, test::values(pm), 0, 0);
  Tensor logits = x.reshape({2, 18, 6});
  Tensor labels = tensor<int64_t>({1, 2, 3, 1, 0, 0}, {2, 3});
  Tensor ll = tensor<int64_t>({3, 1}), il = tensor<int64_t>({18, 10});
  {
    UseReferenceBackend ref;
    cm = ctc_loss(logits, labels, ll, il, 0);
  }
  cd = ctc_loss(logits.to(kDev), labels.to(kDev), ll.to(kDev), il.to(kDev), 0);
  TG_CHECK_VALUES(cd, test::values(cm), 1e-5, 1e-5);
  // fill_ and copy_ into a transposed (non-contiguous) view.
  Tensor t = zeros({3, 4}, {.device = kDev});
  t.t().fill_(2.5);
  TG_CHECK_VALUES(t, std::vector<double>(12, 2.5), 0, 0);
  Tensor u = zeros({4, 3}, {.device = kDev});
  u.t().copy_(arange(0.0, 12.0, 1.0, {.device = kDev}).reshape({3, 4}));
  std::vector<double> ut;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) ut.push_back(j * 4 + i);
  TG_CHECK_VALUES(u, ut, 0, 0);
  Tensor s = zeros({4, 6}, {.device = kDev});
  s.slice(1, 1, 6, 2).fill_(1.0);
  TG_CHECK_VALUES(sum(s, {0}), (std::vector<double>{0, 4, 0, 4, 0, 4}), 0, 0);
}

TEST_CASE("CTC forward and backward on the device match the CPU backend", "[opencl][ctc]") {
  // Batch 4, 30 steps, 8 classes, labels of 1-6 symbols with repeats (which need a blank
  // between them), per-sample logit lengths; float32 and float64 (where the device has it).
  const Tensor labels =
      tensor<int64_t>({1, 2, 2, 3, 7, 7, 4, 0, 0, 0, 0, 0, 5, 5, 5, 1, 2, 6, 3, 3, 1, 0, 0, 0}, {4, 6});
  const Tensor ll = tensor<int64_t>({6, 1, 6, 3}), il = tensor<int64_t>({30, 12, 25, 9});
  for (DType dt : {kFloat32, kFloat64}) {
    if (dt == kFloat64 && !device_fp64()) continue;
    INFO(dt);
    const Tensor base = uniform({4, 30, 8}, -3, 3, 77, {.dtype = dt});
    auto run = [&](Device d) {
      Tensor x = base.to(d).detach().requires_grad_();
      Tensor loss = ctc_loss(x, labels.to(d), ll.to(d), il.to(d), 0);
      Tensor w = tensor<double>({1.0, -0.5, 2.0, 0.25}).to(dt).to(d);
      sum(mul(loss, w)).backward();
      return std::pair{loss, x.grad()};
    };
    auto [lc, gc] = run(Device::cpu());
    auto [ld, gd] = run(kDev);
    CHECK(ld.device() == kDev);
    CHECK(gd.device() == kDev);
    const double tol = dt == kFloat32 ? 2e-5 : 1e-10;
    TG_CHECK_VALUES(ld, test::values(lc), tol, tol);
    TG_CHECK_VALUES(gd, test::values(gc), tol, tol);
    // Every loss is finite and positive (each label sequence fits its logit length).
    for (double v : test::values(lc)) CHECK((std::isfinite(v) && v > 0));
  }
}
