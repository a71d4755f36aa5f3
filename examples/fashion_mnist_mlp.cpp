// Fashion-MNIST with a multilayer perceptron: the seed's Keras workflow in C++.
//   ./fashion_mnist_mlp [epochs] [data folder]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <tapegrad/tapegrad.hpp>

using namespace tg;

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 15;
  const std::string dir = argc > 2 ? argv[2] : nn::data::kFashionMnistDir;
  manual_seed(42);

  // 1. Training data: input tensors and target tensors.
  auto data = nn::data::load_fashion_mnist(dir);
  Tensor x_train = data.x_train.reshape({-1, 784}) / 255.0;
  Tensor x_test = data.x_test.reshape({-1, 784}) / 255.0;
  Tensor y_train = nn::to_categorical(data.y_train, 10);
  Tensor y_test = nn::to_categorical(data.y_test, 10);

  // 2. A network of layers mapping inputs to targets.
  nn::Sequential model;
  model.add(nn::Dense(512, {.activation = "relu", .input_shape = {784}}));
  model.add(nn::Dropout(0.2, {.seed = 5}));
  model.add(nn::Dense(256, {.activation = "relu"}));
  model.add(nn::Dropout(0.2, {.seed = 6}));
  model.add(nn::Dense(10, {.activation = "softmax"}));
  model.summary();

  // 3. The learning process: loss, optimizer and metrics.
  // RMSprop(lr=0.001) as in the seed, halving the rate every 4 epochs (469 batches each).
  model.compile({.optimizer = optim::RMSprop(
                     {.learning_rate = optim::schedules::exponential_decay(0.001, 4 * 469, 0.5)}),
                 .loss = "categorical_crossentropy",
                 .metrics = {"accuracy"}});

  // 4. Iterate over the training data with fit.
  model.fit(x_train, y_train, {.batch_size = 128, .epochs = epochs, .seed = 1});

  nn::Logs test = model.evaluate(x_test, y_test, {.batch_size = 512, .verbose = 0});
  std::printf("test loss %.4f - test accuracy %.4f\n", test["loss"], test["accuracy"]);
  return 0;
}
