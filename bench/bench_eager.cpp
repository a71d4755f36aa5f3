// W5 (eager overhead) and small-op costs as Google Benchmark cases.
#include <benchmark/benchmark.h>

#include <tapegrad/tapegrad.hpp>

namespace {

void BM_Add1Elem_NoGrad(benchmark::State& state) {
  tg::Tensor a = tg::ones({1}), b = tg::ones({1});
  for (auto _ : state) {
    tg::Tensor c = a + b;
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_Add1Elem_NoGrad);

void BM_Add1Elem_Recorded(benchmark::State& state) {
  tg::Tensor a = tg::ones({1}).requires_grad_(), b = tg::ones({1});
  for (auto _ : state) {
    tg::Tensor c = a + b;  // records a tape node (released with c)
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_Add1Elem_Recorded);

void BM_Add1Elem_InsideNoGrad(benchmark::State& state) {
  tg::Tensor a = tg::ones({1}).requires_grad_(), b = tg::ones({1});
  tg::NoGrad ng;
  for (auto _ : state) {
    tg::Tensor c = a + b;
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_Add1Elem_InsideNoGrad);

/// A chain of 1,000 recorded adds, then backward: time per op (forward + backward).
void BM_Chain1000_ForwardBackward(benchmark::State& state) {
  tg::Tensor x = tg::ones({1}).requires_grad_(), b = tg::ones({1});
  for (auto _ : state) {
    tg::Tensor y = x;
    for (int i = 0; i < 1000; ++i) y = y + b;
    tg::sum(y).backward();
    x.zero_grad();
  }
  state.counters["us_per_op"] = benchmark::Counter(
      1000.0 * state.iterations(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert,
      benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Chain1000_ForwardBackward)->Unit(benchmark::kMillisecond);

void BM_AddLarge(benchmark::State& state) {
  const int64_t n = state.range(0);
  tg::Tensor a = tg::rand({n}), b = tg::rand({n});
  for (auto _ : state) {
    tg::Tensor c = a + b;
    benchmark::DoNotOptimize(c.impl());
  }
  state.SetBytesProcessed(state.iterations() * n * 12);
}
BENCHMARK(BM_AddLarge)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

void BM_Matmul(benchmark::State& state) {
  const int64_t n = state.range(0);
  tg::Tensor a = tg::rand({n, n}), b = tg::rand({n, n});
  for (auto _ : state) {
    tg::Tensor c = tg::matmul(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(2e-9 * n * n * n * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Matmul)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

// A symbolic Conv2D call at 224x224x3 (shape inference of the functional API): the shape-only
// path (MetaScope) against the eager call on a batch of one that symbolic calls used to run.
void BM_Conv2D224_Symbolic(benchmark::State& state) {
  tg::nn::Conv2D conv(64, {3, 3}, {.padding = "same"});
  tg::nn::Symbol in = tg::nn::Input({224, 224, 3});
  conv(in);  // build
  for (auto _ : state) benchmark::DoNotOptimize(conv(in).shape());
}
BENCHMARK(BM_Conv2D224_Symbolic)->Unit(benchmark::kMicrosecond);

void BM_Conv2D224_EagerBatch1(benchmark::State& state) {
  tg::nn::Conv2D conv(64, {3, 3}, {.padding = "same"});
  tg::Tensor x = tg::zeros({1, 224, 224, 3});
  tg::NoGrad ng;
  for (auto _ : state) benchmark::DoNotOptimize(conv(x).impl());
}
BENCHMARK(BM_Conv2D224_EagerBatch1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
