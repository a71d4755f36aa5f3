// Fashion-MNIST with a small convolutional network: two Conv2D + pooling blocks.
//   ./fashion_mnist_cnn [epochs] [data folder]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <tapegrad/tapegrad.hpp>

using namespace tg;

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 12;
  const std::string dir = argc > 2 ? argv[2] : nn::data::kFashionMnistDir;
  manual_seed(7);

  auto data = nn::data::load_fashion_mnist(dir);
  Tensor x_train = data.x_train.reshape({-1, 28, 28, 1}) / 255.0;
  Tensor x_test = data.x_test.reshape({-1, 28, 28, 1}) / 255.0;

  nn::Sequential model;
  model.add(nn::Conv2D(32, {3, 3}, {.activation = "relu", .input_shape = {28, 28, 1}}));
  model.add(nn::MaxPooling2D({2, 2}));
  model.add(nn::Conv2D(64, {3, 3}, {.activation = "relu"}));
  model.add(nn::MaxPooling2D({2, 2}));
  model.add(nn::Flatten());
  model.add(nn::Dropout(0.3, {.seed = 11}));
  model.add(nn::Dense(128, {.activation = "relu"}));
  model.add(nn::Dense(10, {.activation = "softmax"}));
  model.summary();

  model.compile({.optimizer = optim::Adam(),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  model.fit(x_train, data.y_train,
            {.batch_size = 64, .epochs = epochs, .validation_split = 0.1, .seed = 3});

  nn::Logs test = model.evaluate(x_test, data.y_test, {.batch_size = 500, .verbose = 0});
  std::printf("test loss %.4f - test accuracy %.4f\n", test["loss"], test["accuracy"]);
  return 0;
}
