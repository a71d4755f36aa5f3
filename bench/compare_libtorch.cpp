// Side by side: the training workloads W2 (MLP step), W3 (CNN step), W4 (LSTM forward +
// backward, and forward alone) and W6 (Fashion-MNIST MLP, 2 epochs) of BENCHMARKS.md through
// tapegrad and through LibTorch (torch::nn modules, torch::optim) in one process, printing
// medians and the ratio tapegrad time / LibTorch time (below 1: tapegrad is faster).
//
// LibTorch is set up as BENCHMARKS.md asks: Debian's libtorch-dev with OpenBLAS
// (libopenblas0-openmp, picked by Debian's alternatives for libblas.so.3), 2 threads, and glibc
// malloc told to keep its buffers. The program re-executes itself with that GLIBC_TUNABLES
// setting when the variable is unset.
//   ./compare_libtorch            (about a minute; W6 is the long part)
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "workloads.hpp"

namespace {

constexpr const char* kMallocTunables =
    "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Times `reps` steps of each side after `warmup` untimed ones, alternating blocks of `block`
/// steps between the two sides so that load from other processes falls on both; prints the
/// medians in ms and the ratio tapegrad / LibTorch.
void compare(const char* name, const std::function<void()>& ours,
             const std::function<void()>& theirs, int reps, int block = 5, int warmup = 3) {
  for (int i = 0; i < warmup; ++i) ours();
  for (int i = 0; i < warmup; ++i) theirs();
  std::vector<double> t_ours, t_theirs;
  while (static_cast<int>(t_ours.size()) < reps) {
    for (int i = 0; i < block; ++i) {
      auto t0 = Clock::now();
      ours();
      t_ours.push_back(seconds_since(t0));
    }
    for (int i = 0; i < block; ++i) {
      auto t0 = Clock::now();
      theirs();
      t_theirs.push_back(seconds_since(t0));
    }
  }
  const double a = median(t_ours) * 1e3, b = median(t_theirs) * 1e3;
  std::printf("%-34s tapegrad %8.2f ms   LibTorch %8.2f ms   ratio %.3f   (%zu steps each)\n", name,
              a, b, a / b, t_ours.size());
  std::fflush(stdout);
}

/// The BLAS library mapped into this process (Debian's alternatives pick it for libblas.so.3).
std::string mapped_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("openblas") != std::string::npos || path.find("/blas/") != std::string::npos ||
        path.find("libmkl") != std::string::npos || path.find("blis") != std::string::npos)
      return path;
  }
  return "(none found)";
}

// --- W2: MLP 784-512-512-10 relu, softmax cross-entropy, batch 128, SGD (lr 0.01) -------------

void w2() {
  tg::manual_seed(1);
  tg::nn::Sequential model = tg::bench::w2_mlp();
  tg::Tensor x = tg::rand({128, 784});
  tg::Tensor y = tg::bench::random_labels(128);

  torch::manual_seed(1);
  torch::nn::Sequential net(torch::nn::Linear(784, 512), torch::nn::ReLU(),
                            torch::nn::Linear(512, 512), torch::nn::ReLU(),
                            torch::nn::Linear(512, 10));
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
  torch::Tensor tx = torch::rand({128, 784});
  torch::Tensor ty = torch::randint(0, 10, {128}, torch::kInt64);

  compare(
      "W2 MLP 784-512-512-10 step (SGD)", [&] { model.train_on_batch(x, y); },
      [&] {
        opt.zero_grad();
        torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(tx), ty);
        loss.backward();
        opt.step();
      },
      100);
}

// --- W3: CNN 28x28x1, batch 64, conv32-pool-conv64-pool-dense128-dense10, Adam ---------------

void w3() {
  tg::manual_seed(1);
  tg::nn::Sequential model = tg::bench::w3_cnn();
  tg::Tensor x = tg::rand({64, 28, 28, 1});
  tg::Tensor y = tg::bench::random_labels(64);

  torch::manual_seed(1);
  torch::nn::Sequential net(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3)), torch::nn::ReLU(),
      torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3)), torch::nn::ReLU(),
      torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)), torch::nn::Flatten(),
      torch::nn::Linear(64 * 5 * 5, 128), torch::nn::ReLU(), torch::nn::Linear(128, 10));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3).eps(1e-7));
  torch::Tensor tx = torch::rand({64, 1, 28, 28});
  torch::Tensor ty = torch::randint(0, 10, {64}, torch::kInt64);

  compare(
      "W3 CNN step (Adam)", [&] { model.train_on_batch(x, y); },
      [&] {
        opt.zero_grad();
        torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(tx), ty);
        loss.backward();
        opt.step();
      },
      40);
}

// --- W4: LSTM seq 50, batch 32, input 128, hidden 256, one layer -----------------------------

void w4() {
  tg::manual_seed(1);
  tg::nn::LSTM layer(256, {.return_sequences = true});
  tg::Tensor x = tg::randn({32, 50, 128});
  layer(x);  // build
  std::vector<tg::Tensor> params = layer->trainable_weights();

  torch::manual_seed(1);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(128, 256).batch_first(true));
  torch::Tensor tx = torch::randn({32, 50, 128});
  std::vector<torch::Tensor> tparams = lstm->parameters();

  compare(
      "W4 LSTM forward + backward",
      [&] {
        tg::Tensor loss = tg::sum(layer(x));
        auto grads = tg::autograd::grad({loss}, params);
        (void)grads;
      },
      [&] {
        torch::Tensor loss = std::get<0>(lstm->forward(tx)).sum();
        auto grads = torch::autograd::grad({loss}, tparams);
        (void)grads;
      },
      20, 2, 2);
  compare(
      "W4 LSTM forward alone (no grad)",
      [&] {
        tg::NoGrad ng;
        tg::Tensor out = layer(x);
        (void)out;
      },
      [&] {
        torch::NoGradGuard ng;
        torch::Tensor out = std::get<0>(lstm->forward(tx));
        (void)out;
      },
      20, 2, 2);
}

// --- W6: Fashion-MNIST MLP 784-128(relu)-10(softmax), RMSprop 1e-3, batch 128, 2 epochs ------

void w6() {
  tg::nn::data::ImageSplits data;
  try {
    data = tg::nn::data::load_fashion_mnist();
  } catch (const std::exception& e) {
    std::printf("W6 skipped: %s\n", e.what());
    return;
  }
  tg::Tensor x_train = data.x_train.reshape({-1, 784}) / 255.0,
             x_test = data.x_test.reshape({-1, 784}) / 255.0;

  // tapegrad: as bench/w6_w7.cpp (Keras workflow, fit one epoch at a time).
  tg::manual_seed(42);
  tg::nn::Sequential model;
  model.add(tg::nn::Dense(128, {.activation = "relu", .input_shape = {784}}));
  model.add(tg::nn::Dense(10, {.activation = "softmax"}));
  model.compile({.optimizer = tg::optim::RMSprop({.learning_rate = 1e-3}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  double ours[2];
  for (int e = 0; e < 2; ++e) {
    auto t0 = Clock::now();
    model.fit(x_train, data.y_train,
              {.batch_size = 128, .epochs = e + 1, .verbose = 0, .initial_epoch = e, .seed = 1});
    ours[e] = seconds_since(t0);
  }
  tg::nn::Logs logs = model.evaluate(x_test, data.y_test, {.batch_size = 1000, .verbose = 0});
  const double acc_ours = logs["accuracy"];

  // LibTorch: the same tensors copied in, a hand-written loop (shuffle each epoch, batches of
  // 128, cross-entropy on logits = softmax + sparse cross-entropy, running loss and accuracy as
  // fit keeps them), Keras' initialisation (Glorot uniform, zero bias) and RMSprop constants.
  auto to_torch = [](const tg::Tensor& t, torch::Dtype dt) {
    tg::Tensor c = t.contiguous();
    std::vector<int64_t> sizes(c.shape().begin(), c.shape().end());
    void* p = dt == torch::kFloat32 ? static_cast<void*>(c.data<float>())
                                    : static_cast<void*>(c.data<int64_t>());
    return torch::from_blob(p, sizes, dt).clone();
  };
  torch::Tensor tx_train = to_torch(x_train, torch::kFloat32),
                ty_train = to_torch(data.y_train, torch::kInt64),
                tx_test = to_torch(x_test, torch::kFloat32),
                ty_test = to_torch(data.y_test, torch::kInt64);
  torch::manual_seed(42);
  torch::nn::Sequential net(torch::nn::Linear(784, 128), torch::nn::ReLU(),
                            torch::nn::Linear(128, 10));
  {
    torch::NoGradGuard ng;
    for (auto& p : net->named_parameters()) {
      if (p.key().find("weight") != std::string::npos)
        torch::nn::init::xavier_uniform_(p.value());
      else
        torch::nn::init::zeros_(p.value());
    }
  }
  torch::optim::RMSprop opt(net->parameters(),
                            torch::optim::RMSpropOptions(1e-3).alpha(0.9).eps(1e-7));
  const int64_t n = tx_train.size(0), batch = 128;
  double theirs[2];
  for (int e = 0; e < 2; ++e) {
    auto t0 = Clock::now();
    torch::Tensor perm = torch::randperm(n, torch::kInt64);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i += batch) {
      torch::Tensor idx = perm.slice(0, i, std::min(i + batch, n));
      torch::Tensor xb = tx_train.index_select(0, idx), yb = ty_train.index_select(0, idx);
      opt.zero_grad();
      torch::Tensor logits = net->forward(xb);
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, yb);
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(idx.size(0));
      correct += logits.detach().argmax(1).eq(yb).sum().item<int64_t>();
    }
    theirs[e] = seconds_since(t0);
    (void)loss_sum;
    (void)correct;
  }
  double acc_theirs;
  {
    torch::NoGradGuard ng;
    acc_theirs = net->forward(tx_test).argmax(1).eq(ty_test).to(torch::kFloat64).mean().item<double>();
  }

  const double a = 0.5 * (ours[0] + ours[1]), b = 0.5 * (theirs[0] + theirs[1]);
  std::printf("%-34s tapegrad %8.3f s/epoch LibTorch %8.3f s/epoch ratio %.3f\n",
              "W6 Fashion-MNIST MLP 784-128-10", a, b, a / b);
  std::printf("%-34s tapegrad epochs %.3f, %.3f s, test accuracy %.4f;"
              " LibTorch epochs %.3f, %.3f s, test accuracy %.4f\n",
              "", ours[0], ours[1], acc_ours, theirs[0], theirs[1], acc_theirs);
}

}  // namespace

int main(int argc, char** argv) {
  (void)argc;
  const char* tun = std::getenv("GLIBC_TUNABLES");
  if (tun == nullptr) {
    // glibc reads the tunables at start-up only: re-execute with them set.
    setenv("GLIBC_TUNABLES", kMallocTunables, 1);
    execv("/proc/self/exe", argv);
    std::perror("re-exec with GLIBC_TUNABLES failed; continuing without it");
    unsetenv("GLIBC_TUNABLES");
    tun = nullptr;
  }
  at::set_num_threads(2);
  std::printf("LibTorch %s, %d threads (at::get_num_threads); GLIBC_TUNABLES=%s\n", TORCH_VERSION,
              at::get_num_threads(), tun ? tun : "(unset)");
  if (tun == nullptr || std::strstr(tun, "mmap_threshold=33554432") == nullptr)
    std::printf("note: set GLIBC_TUNABLES=%s (BENCHMARKS.md), without it LibTorch loses to page "
                "faults\n",
                kMallocTunables);
  std::printf("BLAS mapped: %s; MKLDNN in LibTorch: %s\n", mapped_blas().c_str(),
              at::hasMKLDNN() ? "yes" : "no");
  std::printf("medians after warm-up, the two sides alternating in blocks; ratio = tapegrad time /"
              " LibTorch time (below 1: tapegrad faster)\n");
  std::fflush(stdout);
  w2();
  w3();
  w4();
  w6();
  return 0;
}
