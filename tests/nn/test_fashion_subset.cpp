// A short fit on a subset of the real Fashion-MNIST (skipped with a message when the data set is
// not installed), and the order in which fit fires callbacks.
#include <filesystem>

#include "test_util.hpp"

using namespace tg;

TEST_CASE("a short fit on 6,000 real Fashion-MNIST images reaches 0.78 test accuracy", "[nn][fashion]") {
  if (!std::filesystem::exists(std::string(nn::data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST is not installed in " << nn::data::kFashionMnistDir << " (Debian dataset-fashion-mnist); skipped");
    return;
  }
  manual_seed(3);
  auto data = nn::data::load_fashion_mnist();
  Tensor x = data.x_train.slice(0, 0, 6000).reshape({-1, 784}) / 255.0;
  Tensor y = data.y_train.slice(0, 0, 6000);
  Tensor xt = data.x_test.slice(0, 0, 2000).reshape({-1, 784}) / 255.0;
  Tensor yt = data.y_test.slice(0, 0, 2000);
  nn::Sequential model;
  model.add(nn::Dense(64, {.activation = "relu", .input_shape = {784}}));
  model.add(nn::Dense(10, {.activation = "softmax"}));
  model.compile({.optimizer = optim::RMSprop({.learning_rate = 0.001}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  nn::History h = model.fit(x, y, {.batch_size = 64, .epochs = 3, .verbose = 0, .seed = 1});
  CHECK(h["loss"].back() < h["loss"].front());
  nn::Logs test = model.evaluate(xt, yt, {.batch_size = 500, .verbose = 0});
  INFO("test accuracy " << test["accuracy"]);
  CHECK(test["accuracy"] >= 0.78);
}

TEST_CASE("fit fires callbacks in Keras' order (validation runs on_test_begin/end)", "[nn][callbacks]") {
  struct Recorder : nn::Callback {
    std::vector<std::string> events;
    void on_train_begin(const nn::Logs&) override { events.push_back("train_begin"); }
    void on_epoch_begin(int e, const nn::Logs&) override { events.push_back("epoch_begin " + std::to_string(e)); }
    void on_train_batch_begin(int64_t b, const nn::Logs&) override { events.push_back("batch_begin " + std::to_string(b)); }
    void on_train_batch_end(int64_t b, const nn::Logs& l) override {
      events.push_back("batch_end " + std::to_string(b) + (l.count("loss") ? " loss" : ""));
    }
    void on_test_begin(const nn::Logs&) override { events.push_back("test_begin"); }
    void on_test_end(const nn::Logs&) override { events.push_back("test_end"); }
    void on_epoch_end(int e, const nn::Logs& l) override {
      events.push_back("epoch_end " + std::to_string(e) + (l.count("val_loss") ? " val_loss" : ""));
    }
    void on_train_end(const nn::Logs&) override { events.push_back("train_end"); }
  };
  manual_seed(1);
  nn::Sequential model;
  model.add(nn::Dense(1, {.input_shape = {2}}));
  model.compile({.optimizer = "sgd", .loss = "mse"});
  auto rec = std::make_shared<Recorder>();
  Tensor x = rand({4, 2}), y = rand({4, 1});
  model.fit(x, y, {.batch_size = 2, .epochs = 2, .verbose = 0, .callbacks = {rec}, .validation_data = {x, y}});
  const std::vector<std::string> expected = {
      "train_begin",   "epoch_begin 0", "batch_begin 0", "batch_end 0 loss", "batch_begin 1", "batch_end 1 loss",
      "test_begin", "test_end", "epoch_end 0 val_loss", "epoch_begin 1", "batch_begin 0", "batch_end 0 loss",
      "batch_begin 1", "batch_end 1 loss", "test_begin", "test_end", "epoch_end 1 val_loss", "train_end"};
  CHECK(rec->events == expected);
}
