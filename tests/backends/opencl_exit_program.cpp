// A short training program on the OpenCL device that returns from main with work still queued
// and device tensors in statics of both orders (made before and after the device opened). Run
// by tests/backends/test_opencl_exit.cpp with a fresh PoCL kernel cache each time: it must exit 0.
#include <cstdio>

#include "tapegrad/tapegrad.hpp"

using namespace tg;

namespace {
Tensor g_before;  // constructed before main: destroyed after the device closed at exit
}  // namespace

int main() {
  const Device dev = Device::opencl(0);
  manual_seed(1);
  g_before = ones({16, 16}, {.device = dev});
  static Tensor after = randn({64}, {.device = dev});  // destroyed before the device closes
  nn::Sequential m;
  m.add(nn::Dense(8, {.activation = "relu", .input_shape = {4}}));
  m.add(nn::Dense(3, {.activation = "softmax"}));
  m.compile({.optimizer = optim::RMSprop(), .loss = "sparse_categorical_crossentropy"});
  m.to(dev);
  Tensor x = randn({64, 4}).to(dev);
  Tensor y = cast(mul(rand({64}), 3.0), kInt64).to(dev);
  m.fit(x, y, {.batch_size = 16, .epochs = 1, .verbose = 0});
  // Queue more work and return without reading it back.
  m.train_on_batch(x, y);
  Tensor z = matmul(g_before, g_before) + sum(after);
  // Kernels used for the first time: PoCL compiles them on its worker threads while main
  // returns.
  Tensor img = randn({2, 8, 8, 3}, {.device = dev});
  Tensor q = max_pool2d(tanh(img), {.pool_size = {2, 2}});
  Tensor r = cumsum(exp(after), 0);
  Tensor s = log_softmax(sin(z), -1);
  std::printf("queued\n");
  return 0;
}
