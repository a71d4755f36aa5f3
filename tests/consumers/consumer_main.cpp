// A program a user of the installed library writes: includes through <tapegrad/...>, trains a
// one-layer model on y = 2x - 1 and checks the fit. Built by every consumer project here
// (pkg-config Makefile, CMake find_package, meson subproject, static link).
#include <cmath>
#include <cstdio>
#include <tapegrad/nn/layers/dense.hpp>
#include <tapegrad/tapegrad.hpp>

int main() {
  tg::manual_seed(0);
  tg::Tensor x = tg::uniform({64, 1}, -1.0, 1.0, 7);
  tg::Tensor y = x * 2.0 - 1.0;
  tg::nn::Sequential model;
  model.add(tg::nn::Dense(1, {.input_shape = {1}}));
  model.compile({.optimizer = tg::optim::SGD({.learning_rate = 0.5}), .loss = "mse"});
  model.fit(x, y, {.batch_size = 16, .epochs = 40, .verbose = 0});
  const std::vector<float> k = model.trainable_weights()[0].to_vector<float>();
  const std::vector<float> b = model.trainable_weights()[1].to_vector<float>();
  const bool ok = std::abs(k[0] - 2.0f) < 1e-2f && std::abs(b[0] + 1.0f) < 1e-2f;
  std::printf("tapegrad consumer: kernel %.4f bias %.4f: %s\n", k[0], b[0], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
