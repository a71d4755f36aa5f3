// Two models trained at the same time in two threads (and a third thread predicting under
// NoGrad) end with the weights that training them one after the other gives: the allocator,
// the primitive caches, the op registry and the grad mode (per thread) are safe to share.
#include <catch2/catch.hpp>
#include <thread>

#include "test_util.hpp"

using namespace tg;
using namespace tg::test;

namespace {

struct Job {
  nn::Sequential model;
  Tensor x, y;
};

/// An MLP or a small CNN with weights drawn here (on the calling thread), its data and labels.
Job make_job(bool cnn, uint64_t seed) {
  manual_seed(seed);
  Job j;
  if (cnn) {
    j.model.add(nn::Conv2D(4, {3, 3}, {.activation = "relu", .input_shape = {8, 8, 1}}));
    j.model.add(nn::MaxPooling2D({2, 2}));
    j.model.add(nn::Flatten());
    j.model.add(nn::Dense(3));
    j.model.compile({.optimizer = optim::Adam({.learning_rate = 0.01}), .loss = "mse"});
    j.x = randn({32, 8, 8, 1});
    j.y = randn({32, 3});
  } else {
    j.model.add(nn::Dense(16, {.activation = "tanh", .input_shape = {6}}));
    j.model.add(nn::BatchNormalization());
    j.model.add(nn::Dense(3, {.activation = "softmax"}));
    j.model.compile({.optimizer = optim::RMSprop({.learning_rate = 0.01}),
                     .loss = "sparse_categorical_crossentropy"});
    j.x = randn({64, 6});
    j.y = cast(mul(rand({64}), 3.0), kInt64);
  }
  return j;
}

void train(Job& j) {
  j.model.fit(j.x, j.y, {.batch_size = 8, .epochs = 3, .verbose = 0, .shuffle = false});
}

std::vector<std::vector<double>> weights_of(nn::Sequential& m) {
  std::vector<std::vector<double>> out;
  for (nn::Weight* w : m->weights()) out.push_back(values(w->value));
  return out;
}

}  // namespace

TEST_CASE("two models train in two threads at once as they do one after the other",
          "[threads]") {
  // The reference: each model trained alone.
  Job a_ref = make_job(false, 11), b_ref = make_job(true, 12);
  train(a_ref);
  train(b_ref);
  // The same models (same seeds: the same initial weights and data) trained concurrently, while
  // a third thread predicts with gradients off the whole time.
  Job a = make_job(false, 11), b = make_job(true, 12), c = make_job(false, 13);
  std::atomic<bool> done{false};
  std::atomic<int> predictions{0};
  bool grad_off_in_predictor = false, grad_on_in_trainer = false;
  std::thread ta([&] {
    train(a);
    grad_on_in_trainer = autograd::grad_enabled();
  });
  std::thread tb([&] { train(b); });
  std::thread tc([&] {
    NoGrad ng;  // grad mode is per thread: the trainers still record
    while (!done.load()) {
      (void)c.model.predict(c.x, {.verbose = 0});
      predictions.fetch_add(1);
    }
    grad_off_in_predictor = !autograd::grad_enabled();
  });
  ta.join();
  tb.join();
  done = true;
  tc.join();
  CHECK(grad_on_in_trainer);
  CHECK(grad_off_in_predictor);
  CHECK(predictions.load() >= 1);
  const auto wa = weights_of(a.model), wa_ref = weights_of(a_ref.model);
  const auto wb = weights_of(b.model), wb_ref = weights_of(b_ref.model);
  REQUIRE(wa.size() == wa_ref.size());
  REQUIRE(wb.size() == wb_ref.size());
  for (size_t i = 0; i < wa.size(); ++i) CHECK(compare_values(wa[i], wa_ref[i], 1e-5, 1e-5) == "");
  for (size_t i = 0; i < wb.size(); ++i) CHECK(compare_values(wb[i], wb_ref[i], 1e-5, 1e-5) == "");
  // Training moved the weights (the comparison is not of untouched initial values).
  Job a0 = make_job(false, 11);
  CHECK(compare_values(weights_of(a0.model)[0], wa[0], 1e-3, 1e-3) != "");
}
