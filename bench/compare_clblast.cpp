// Side by side on Device::opencl(0), in one process: W1 sgemm through tapegrad and through raw
// CLBlast Sgemm on the backend's own context and queue; the W2 MLP and W3 CNN training steps on
// OpenCL and on the CPU; the overhead of a small op on OpenCL. Medians of repeats after a warm-up.
// Exits 77 when no OpenCL device exists.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include <tapegrad/backends/opencl/opencl_backend.hpp>
#include <tapegrad/backends/opencl/opencl_runtime.hpp>
// clblast.h after opencl_runtime.hpp, which fixes the OpenCL target version.
#include <clblast.h>

#include "workloads.hpp"

namespace {

using Clock = std::chrono::steady_clock;
const tg::Device kDev = tg::Device::opencl(0);

/// Median seconds of f over reps runs, after warm runs.
template <class F>
double median_seconds(F&& f, int reps, int warm = 2) {
  for (int i = 0; i < warm; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto s = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

/// Medians of f and g over reps runs each, alternating f and g, after warm runs of both.
template <class F, class G>
std::pair<double, double> paired_medians(F&& f, G&& g, int reps, int warm = 2) {
  for (int i = 0; i < warm; ++i) {
    f();
    g();
  }
  std::vector<double> tf, tg_;
  for (int i = 0; i < reps; ++i) {
    auto s = Clock::now();
    f();
    tf.push_back(std::chrono::duration<double>(Clock::now() - s).count());
    s = Clock::now();
    g();
    tg_.push_back(std::chrono::duration<double>(Clock::now() - s).count());
  }
  std::sort(tf.begin(), tf.end());
  std::sort(tg_.begin(), tg_.end());
  return {tf[tf.size() / 2], tg_[tg_.size() / 2]};
}

void check_cl(cl_int err, const char* what) {
  if (err != CL_SUCCESS) {
    std::fprintf(stderr, "compare_clblast: %s failed: %s (%d)\n", what,
                 tg::opencl::status_name(err), err);
    std::exit(1);
  }
}

/// W1: n×n×n sgemm through tg::matmul on device tensors vs raw CLBlast Sgemm on the same queue.
void sgemm(int64_t n, int reps) {
  auto& be = static_cast<tg::OpenClBackend&>(tg::backend_for(kDev));
  tg::opencl::Context& ctx = be.context();
  const tg::Tensor a = tg::rand({n, n}, {.device = kDev}), b = tg::rand({n, n}, {.device = kDev});

  // Raw: CLBlast on buffers of its own, in the backend's context, on the backend's queue.
  const size_t bytes = static_cast<size_t>(n * n) * sizeof(float);
  std::vector<float> host(static_cast<size_t>(n * n));
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 7919) % 1000) / 1000.f;
  cl_int err = CL_SUCCESS;
  cl_mem ma = clCreateBuffer(ctx.context(), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                             host.data(), &err);
  check_cl(err, "clCreateBuffer");
  cl_mem mb = clCreateBuffer(ctx.context(), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                             host.data(), &err);
  check_cl(err, "clCreateBuffer");
  cl_mem mc = clCreateBuffer(ctx.context(), CL_MEM_READ_WRITE, bytes, nullptr, &err);
  check_cl(err, "clCreateBuffer");
  cl_command_queue q = ctx.queue();
  auto raw_run = [&] {
    const auto s = clblast::Gemm<float>(clblast::Layout::kRowMajor, clblast::Transpose::kNo,
                                        clblast::Transpose::kNo, n, n, n, 1.f, ma, 0, n, mb, 0, n,
                                        0.f, mc, 0, n, &q, nullptr);
    if (s != clblast::StatusCode::kSuccess) {
      std::fprintf(stderr, "compare_clblast: clblast::Gemm failed (%d)\n", static_cast<int>(s));
      std::exit(1);
    }
    check_cl(clFinish(q), "clFinish");
  };
  // tapegrad: the op (shape rule, pooled output, dispatch), then wait for the queue.
  auto ours_run = [&] {
    tg::Tensor c = tg::matmul(a, b);
    tg::opencl_synchronize(0);
  };
  // Alternate the two so that load from elsewhere on the machine hits both alike.
  const auto [raw, ours] = paired_medians(raw_run, ours_run, reps);
  clReleaseMemObject(ma);
  clReleaseMemObject(mb);
  clReleaseMemObject(mc);
  const double flop = 2.0 * n * n * n;
  std::printf(
      "W1 sgemm %4lld^3        tapegrad %8.2f GFLOP/s   raw CLBlast %8.2f GFLOP/s   ratio %.3f\n",
      static_cast<long long>(n), flop / ours * 1e-9, flop / raw * 1e-9, raw / ours);
}

/// W2: 784-512-512-10 relu MLP, softmax cross-entropy from logits, batch 128, plain SGD
/// (lr 0.01): forward, backward, update; the host waits for the loss value every step.
double w2_step_ms(tg::Device dev, int reps) {
  using namespace tg;
  const TensorOptions o{.device = dev, .requires_grad = true};
  auto glorot = [&](int64_t in, int64_t out, uint64_t seed) {
    const double lim = std::sqrt(6.0 / static_cast<double>(in + out));
    return uniform({in, out}, -lim, lim, seed, o);
  };
  std::vector<Tensor> params = {glorot(784, 512, 1), zeros({512}, o),    glorot(512, 512, 2),
                                zeros({512}, o),     glorot(512, 10, 3), zeros({10}, o)};
  const Tensor x = uniform({128, 784}, 0.0, 1.0, 4, {.device = dev});
  const Tensor y = cast(uniform({128}, 0.0, 10.0, 5), kInt64).to(dev);
  float last = 0.f;
  auto step = [&] {
    Tensor h = relu(add(matmul(x, params[0]), params[1]));
    h = relu(add(matmul(h, params[2]), params[3]));
    Tensor logits = add(matmul(h, params[4]), params[5]);
    Tensor loss = mean(nn::losses::sparse_categorical_crossentropy(y, logits, true));
    std::vector<Tensor> grads = autograd::grad({loss}, params);
    {
      NoGrad ng;
      for (size_t i = 0; i < params.size(); ++i) params[i].sub_(mul(grads[i], 0.01));
    }
    last = loss.item<float>();  // the host waits here
  };
  const double s = median_seconds(step, reps, 3);
  if (!std::isfinite(last)) std::printf("  (warning: loss %g on %s)\n", last, dev.str().c_str());
  return s * 1e3;
}

/// W3: 28×28×1, batch 64: Conv2D 32 3×3 relu, MaxPool 2, Conv2D 64 3×3 relu, MaxPool 2, Flatten,
/// Dense 128 relu, Dense 10, cross-entropy from logits, Adam (the model of bench_training.cpp),
/// moved to dev with model.to; train_on_batch waits for the loss.
double w3_step_ms(tg::Device dev, int reps) {
  using namespace tg;
  manual_seed(1);
  nn::Sequential model = bench::w3_cnn();
  model.to(dev);
  const Tensor x = uniform({64, 28, 28, 1}, 0.0, 1.0, 6).to(dev);
  const Tensor y = cast(uniform({64}, 0.0, 10.0, 7), kInt64).to(dev);
  return median_seconds([&] { model.train_on_batch(x, y); }, reps, 3) * 1e3;
}

/// Per-op cost of c = a + b on small device tensors: enqueue rate of a 1,000-add chain (one
/// wait at the end), and one add followed by reading the result (a full round trip).
void small_op(const tg::Shape& shape, const char* label, int reps) {
  using namespace tg;
  Tensor a = rand(shape, {.device = kDev}), b = rand(shape, {.device = kDev});
  std::vector<float> out(static_cast<size_t>(numel(shape)));
  constexpr int kChain = 1000;
  const double chain = median_seconds(
      [&] {
        Tensor c = a;
        for (int i = 0; i < kChain; ++i) c = add(c, b);
        opencl_synchronize(0);
      },
      reps);
  Tensor ag = a.detach().requires_grad_(true);
  const double chain_grad = median_seconds(
      [&] {
        Tensor c = ag;
        for (int i = 0; i < kChain; ++i) c = add(c, b);
        opencl_synchronize(0);
      },
      reps);
  const double round = median_seconds(
      [&] {
        Tensor c = add(a, b);
        backend_for(kDev).copy_to_host(c, out.data());
      },
      reps * 20);
  std::printf(
      "add %-6s on OpenCL   %7.2f us/op enqueued (%7.2f us/op recording grad)   %8.2f us add + "
      "read back\n",
      label, chain / kChain * 1e6, chain_grad / kChain * 1e6, round * 1e6);
}

}  // namespace

int main() {
  if (tg::opencl_devices().empty()) {
    std::printf("compare_clblast: no OpenCL device found; skipping (exit 77)\n");
    return 77;
  }
  const auto& info = static_cast<tg::OpenClBackend&>(tg::backend_for(kDev)).device_info();
  std::printf("device opencl:0: %s (%s, %u compute units)\n", info.name.c_str(),
              info.platform.c_str(), info.compute_units);
  std::printf("ratio = raw time / tapegrad time (1.0 = parity; target >= 0.95)\n");
  sgemm(256, 41);
  sgemm(1024, 15);

  const double cl_ms = w2_step_ms(kDev, 15);
  const double cpu_ms = w2_step_ms(tg::Device::cpu(), 30);
  std::printf(
      "W2 MLP train step      OpenCL %8.2f ms/step    CPU (oneDNN) %8.2f ms/step   OpenCL/CPU "
      "%.2f\n",
      cl_ms, cpu_ms, cl_ms / cpu_ms);

  const double cl3_ms = w3_step_ms(kDev, 9);
  const double cpu3_ms = w3_step_ms(tg::Device::cpu(), 21);
  std::printf(
      "W3 CNN train step      OpenCL %8.2f ms/step    CPU (oneDNN) %8.2f ms/step   OpenCL/CPU "
      "%.2f\n",
      cl3_ms, cpu3_ms, cl3_ms / cpu3_ms);

  small_op({1}, "[1]", 9);
  small_op({8, 8}, "[8,8]", 9);
  return 0;
}
