// W6 (Fashion-MNIST MLP 784-128-10, RMSprop 1e-3, batch 128, 2 epochs: s/epoch and test accuracy)
// and W7 (peak resident memory of 100 steps of W2 and of W3), each run in a child process so
// that peak memory is measured per workload.
//   ./w6_w7 [w6|w7-w2|w7-w3]   (no argument: all three)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "workloads.hpp"

using namespace tg;

namespace {

double peak_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

int run_w6() {
  manual_seed(42);
  auto data = nn::data::load_fashion_mnist();
  Tensor x_train = data.x_train.reshape({-1, 784}) / 255.0,
         x_test = data.x_test.reshape({-1, 784}) / 255.0;
  nn::Sequential model;
  model.add(nn::Dense(128, {.activation = "relu", .input_shape = {784}}));
  model.add(nn::Dense(10, {.activation = "softmax"}));
  model.compile({.optimizer = optim::RMSprop({.learning_rate = 1e-3}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  double per_epoch[2];
  for (int e = 0; e < 2; ++e) {
    auto t0 = std::chrono::steady_clock::now();
    model.fit(x_train, data.y_train,
              {.batch_size = 128, .epochs = e + 1, .verbose = 0, .initial_epoch = e, .seed = 1});
    per_epoch[e] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  nn::Logs t = model.evaluate(x_test, data.y_test, {.batch_size = 1000, .verbose = 0});
  std::printf(
      "W6 fashion-mnist MLP 784-128-10: epoch 1 %.2f s, epoch 2 %.2f s, test accuracy %.4f\n",
      per_epoch[0], per_epoch[1], t["accuracy"]);
  return 0;
}

int run_w7(bool cnn) {
  manual_seed(1);
  nn::Sequential model;
  Tensor x, y;
  if (cnn) {
    model = bench::w3_cnn();
    x = rand({64, 28, 28, 1});
    y = bench::random_labels(64);
  } else {
    model = bench::w2_mlp();
    x = rand({128, 784});
    y = bench::random_labels(128);
  }
  for (int i = 0; i < 100; ++i) model.train_on_batch(x, y);
  AllocatorStats st = allocator_stats();
  std::printf(
      "W7 %s: peak resident %.1f MiB over 100 steps (tensor memory peak %.1f MiB, %llu device "
      "allocations)\n",
      cnn ? "W3 CNN" : "W2 MLP", peak_mib(), static_cast<double>(st.peak_bytes) / (1 << 20),
      static_cast<unsigned long long>(st.device_allocs));
  return 0;
}

int in_child(const char* what) {
  pid_t pid = fork();
  if (pid == 0) {
    int rc = std::strcmp(what, "w6") == 0 ? run_w6() : run_w7(std::strcmp(what, "w7-w3") == 0);
    std::fflush(stdout);
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) return in_child(argv[1]);
  int rc = in_child("w7-w2");
  rc |= in_child("w7-w3");
  rc |= in_child("w6");
  return rc;
}
