// The models of BENCHMARKS.md's training workloads, defined once for every benchmark program.
#pragma once
#include <tapegrad/tapegrad.hpp>

namespace tg::bench {

/// Softmax cross-entropy on logits with integer labels (the loss of W2 and W3).
inline nn::Loss logits_xent() {
  return nn::Loss(
      [](const Tensor& t, const Tensor& p) {
        return nn::losses::sparse_categorical_crossentropy(t, p, true);
      },
      "sparse_categorical_crossentropy_logits");
}

/// W2: 784-512(relu)-512(relu)-10 MLP, compiled with SGD (Keras' default learning rate 0.01)
/// and logits_xent.
inline nn::Sequential w2_mlp() {
  nn::Sequential model;
  model.add(nn::Dense(512, {.activation = "relu", .input_shape = {784}}));
  model.add(nn::Dense(512, {.activation = "relu"}));
  model.add(nn::Dense(10));
  model.compile({.optimizer = optim::SGD(), .loss = logits_xent()});
  return model;
}

/// W3: input 28×28×1; Conv2D 32 3×3 relu, MaxPool 2, Conv2D 64 3×3 relu, MaxPool 2, Flatten,
/// Dense 128 relu, Dense 10; compiled with Adam and logits_xent.
inline nn::Sequential w3_cnn() {
  nn::Sequential model;
  model.add(nn::Conv2D(32, {3, 3}, {.activation = "relu", .input_shape = {28, 28, 1}}));
  model.add(nn::MaxPooling2D({2, 2}));
  model.add(nn::Conv2D(64, {3, 3}, {.activation = "relu"}));
  model.add(nn::MaxPooling2D({2, 2}));
  model.add(nn::Flatten());
  model.add(nn::Dense(128, {.activation = "relu"}));
  model.add(nn::Dense(10));
  model.compile({.optimizer = optim::Adam(), .loss = logits_xent()});
  return model;
}

/// Integer labels in [0, 10) for a batch of n (from the global generator).
inline Tensor random_labels(int64_t n) { return cast(mul(rand({n}), 10.0), kInt64); }

}  // namespace tg::bench
