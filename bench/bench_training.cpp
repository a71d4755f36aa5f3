// Training-step workloads of BENCHMARKS.md: W2 (MLP), W3 (CNN), W4 (LSTM), as Google Benchmark
// cases (median of repetitions: run with --benchmark_repetitions=5).
#include <benchmark/benchmark.h>

#include "workloads.hpp"

using namespace tg;

namespace {

/// W2: 784-512-512-10 relu MLP, softmax cross-entropy, batch 128, SGD: forward + backward + update.
void BM_W2_MLP_TrainStep(benchmark::State& state) {
  manual_seed(1);
  nn::Sequential model = bench::w2_mlp();
  Tensor x = rand({128, 784});
  Tensor y = bench::random_labels(128);
  for (int i = 0; i < 3; ++i) model.train_on_batch(x, y);
  for (auto _ : state) model.train_on_batch(x, y);
  state.SetLabel("ms/step = Time");
}
BENCHMARK(BM_W2_MLP_TrainStep)->Unit(benchmark::kMillisecond);

/// W3: 28×28×1, batch 64: Conv2D 32 3×3 relu, MaxPool 2, Conv2D 64 3×3 relu, MaxPool 2, Flatten,
/// Dense 128 relu, Dense 10, cross-entropy, Adam.
void BM_W3_CNN_TrainStep(benchmark::State& state) {
  manual_seed(1);
  nn::Sequential model = bench::w3_cnn();
  Tensor x = rand({64, 28, 28, 1});
  Tensor y = bench::random_labels(64);
  for (int i = 0; i < 3; ++i) model.train_on_batch(x, y);
  for (auto _ : state) model.train_on_batch(x, y);
}
BENCHMARK(BM_W3_CNN_TrainStep)->Unit(benchmark::kMillisecond);

/// W4: LSTM, sequence 50, batch 32, input 128, hidden 256, one layer: forward + backward.
void BM_W4_LSTM_ForwardBackward(benchmark::State& state) {
  manual_seed(1);
  nn::LSTM layer(256, {.return_sequences = true});
  Tensor x = randn({32, 50, 128});
  layer(x);  // build
  std::vector<Tensor> params = layer->trainable_weights();
  for (auto _ : state) {
    Tensor loss = sum(layer(x));
    auto grads = autograd::grad({loss}, params);
    benchmark::DoNotOptimize(grads[0].impl());
  }
}
BENCHMARK(BM_W4_LSTM_ForwardBackward)->Unit(benchmark::kMillisecond);

/// W4, forward alone (inference, nothing recorded).
void BM_W4_LSTM_Forward(benchmark::State& state) {
  manual_seed(1);
  nn::LSTM layer(256, {.return_sequences = true});
  Tensor x = randn({32, 50, 128});
  layer(x);
  NoGrad ng;
  for (auto _ : state) {
    Tensor y = layer(x);
    benchmark::DoNotOptimize(y.impl());
  }
}
BENCHMARK(BM_W4_LSTM_Forward)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
