// The trainer: fit, train_on_batch, evaluate, test_on_batch and predict run the model's
// overridable train_step / test_step / predict_step, as in Keras.
#include "test_util.hpp"

using namespace tg;

namespace {
using tg::test::f32;
using tg::test::values;

/// A functional model whose training step adds 0.5·Σw² over its trainable weights to the
/// compiled loss and logs it as "penalty"; every step counts its calls.
struct PenaltyModel : nn::ModelImpl {
  using ModelImpl::ModelImpl;
  int train_calls = 0, test_calls = 0, predict_calls = 0;

  nn::Logs train_step(const nn::Batch& b) override {
    ++train_calls;
    const std::vector<Tensor> y_pred = forward(b.x, true);
    LossResult loss = compute_loss(b, y_pred);
    Tensor penalty;
    for (const Tensor& w : trainable_weights()) {
      Tensor t = mul(sum(square(w)), 0.5);
      penalty = penalty.defined() ? add(penalty, t) : t;
    }
    loss.total = add(loss.total, penalty);
    minimize(loss.total);
    update_metrics(b, y_pred);
    nn::Logs logs = step_logs(loss);
    logs["penalty"] = penalty.item<double>();
    return logs;
  }
  nn::Logs test_step(const nn::Batch& b) override {
    ++test_calls;
    return ModelImpl::test_step(b);
  }
  std::vector<Tensor> predict_step(const std::vector<Tensor>& x) override {
    ++predict_calls;
    return ModelImpl::predict_step(x);
  }
};

/// y = w·x with w = 1 at the start, in a PenaltyModel compiled with mse and SGD(0.1).
std::shared_ptr<PenaltyModel> penalty_model() {
  nn::Symbol in = nn::Input({1});
  nn::Symbol out = nn::Dense(1, {.use_bias = false, .kernel_initializer = "ones", .name = "w"})(in);
  auto m =
      std::make_shared<PenaltyModel>(std::vector<nn::Symbol>{in}, std::vector<nn::Symbol>{out});
  m->compile({.optimizer = optim::SGD({.learning_rate = 0.1}), .loss = "mse"});
  return m;
}

double kernel_of(nn::ModelImpl& m) { return values(m.trainable_weights()[0])[0]; }
}  // namespace

TEST_CASE("fit and train_on_batch run a user's train_step override", "[trainer][train_step]") {
  auto impl = penalty_model();
  nn::Model model(impl);  // the handle calls through to the override
  const Tensor x = f32({1, 2}, {2, 1}), y = f32({0, 0}, {2, 1});

  // mse = (w² + 4w²)/2 = 2.5w², penalty 0.5w²: total 3w², gradient 6w.
  // w = 1: loss 3, penalty 0.5; w ← 1 − 0.1·6 = 0.4.
  nn::Logs logs = model.train_on_batch(x, y);
  CHECK(impl->train_calls == 1);
  CHECK(logs.at("loss") == Approx(3.0).epsilon(1e-6));
  CHECK(logs.at("penalty") == Approx(0.5).epsilon(1e-6));
  CHECK(kernel_of(*impl) == Approx(0.4).epsilon(1e-6));

  // One batch of both samples: w = 0.4 gives loss 3·0.16 = 0.48, penalty 0.08; w ← 0.16.
  nn::History h = model.fit(x, y, {.batch_size = 2, .epochs = 1, .verbose = 0, .shuffle = false});
  CHECK(impl->train_calls == 2);
  REQUIRE(h["loss"].size() == 1);
  CHECK(h["loss"][0] == Approx(0.48).epsilon(1e-6));
  REQUIRE(h["penalty"].size() == 1);
  CHECK(h["penalty"][0] == Approx(0.08).epsilon(1e-6));
  CHECK(kernel_of(*impl) == Approx(0.16).epsilon(1e-6));

  // Two batches of one sample. x = 1: mse w² = 0.0256, penalty 0.0128, total 1.5w² = 0.0384,
  // gradient 3w = 0.48, w ← 0.112. x = 2: mse 4w² = 0.050176, penalty 0.006272, total 4.5w² =
  // 0.056448, gradient 9w = 1.008, w ← 0.0112. fit averages the loss over the batches,
  // (0.0384 + 0.056448)/2 = 0.047424, and reports the other entry as the last step returned it.
  h = model.fit(x, y, {.batch_size = 1, .epochs = 1, .verbose = 0, .shuffle = false});
  CHECK(impl->train_calls == 4);
  CHECK(h["loss"][0] == Approx(0.047424).epsilon(1e-5));
  CHECK(h["penalty"][0] == Approx(0.006272).epsilon(1e-5));
  CHECK(kernel_of(*impl) == Approx(0.0112).epsilon(1e-5));
  CHECK(impl->test_calls == 0);
}

TEST_CASE("evaluate, test_on_batch, fit's validation and predict run the step overrides",
          "[trainer][test_step]") {
  auto impl = penalty_model();
  nn::Model model(impl);
  const Tensor x = f32({1, 2}, {2, 1}), y = f32({0, 0}, {2, 1});

  // The default test_step has no penalty: at w = 1, mse = 2.5.
  nn::Logs e = model.evaluate(x, y, {.batch_size = 1, .verbose = 0});
  CHECK(impl->test_calls == 2);                      // one per batch
  CHECK(e.at("loss") == Approx(2.5).epsilon(1e-6));  // (1 + 4)/2, batch-size weighted
  CHECK(e.count("penalty") == 0);
  nn::Logs t = model.test_on_batch(x, y);
  CHECK(impl->test_calls == 3);
  CHECK(t.at("loss") == Approx(2.5).epsilon(1e-6));
  CHECK(kernel_of(*impl) == 1.0);  // evaluation changes no weight

  // Validation runs test_step after the epoch's training: w = 0.4 then, mse 2.5·0.16 = 0.4.
  nn::History h = model.fit(x, y,
                            {.batch_size = 2,
                             .epochs = 1,
                             .verbose = 0,
                             .validation_data = nn::Data(x, y),
                             .shuffle = false});
  CHECK(impl->train_calls == 1);
  CHECK(impl->test_calls == 4);
  CHECK(h["val_loss"][0] == Approx(0.4).epsilon(1e-6));

  // predict runs predict_step on each batch: y = 0.4·x.
  Tensor p = model.predict(x, {.batch_size = 1});
  CHECK(impl->predict_calls == 2);
  CHECK(values(p)[0] == Approx(0.4).epsilon(1e-6));
  CHECK(values(p)[1] == Approx(0.8).epsilon(1e-6));
  model.predict_on_batch(x);
  CHECK(impl->predict_calls == 3);
}

TEST_CASE("the default train_step gives the losses and metrics fit reported before",
          "[trainer][train_step]") {
  // Two outputs with loss weights, a regularized kernel and a metric: train_on_batch's logs are
  // the weighted total with the regularization term, each output's loss and the metric.
  nn::Symbol in = nn::Input({1});
  nn::Dense shared(1, {.use_bias = false,
                       .kernel_initializer = "ones",
                       .kernel_regularizer = nn::regularizers::l2(0.5),
                       .name = "shared"});
  nn::Symbol h = shared(in);
  nn::Symbol a = nn::Dense(1, {.use_bias = false, .kernel_initializer = "ones", .name = "a"})(h);
  nn::Symbol b = nn::Dense(1, {.use_bias = false, .kernel_initializer = "ones", .name = "b"})(h);
  nn::Model m(in, {a, b});
  m.compile({.optimizer = optim::SGD({.learning_rate = 0.0}),
             .loss = {"mse", "mae"},
             .metrics = {"mae"},
             .loss_weights = {1.0, 2.0}});
  const Tensor x = f32({1, 2}, {2, 1});
  const Tensor ya = f32({0, 0}, {2, 1}), yb = f32({1, 1}, {2, 1});
  // Outputs are x: mse vs 0 = (1 + 4)/2 = 2.5; mae vs 1 = (0 + 1)/2 = 0.5; l2 term 0.5·1² = 0.5.
  // total = 2.5 + 2·0.5 + 0.5 = 4.
  nn::Logs logs = m.train_on_batch(std::vector<Tensor>{x}, std::vector<Tensor>{ya, yb});
  CHECK(logs.at("loss") == Approx(4.0).epsilon(1e-6));
  CHECK(logs.at("a_loss") == Approx(2.5).epsilon(1e-6));
  CHECK(logs.at("b_loss") == Approx(0.5).epsilon(1e-6));
  CHECK(logs.at("a_mae") == Approx(1.5).epsilon(1e-6));  // (1 + 2)/2
  CHECK(logs.at("b_mae") == Approx(0.5).epsilon(1e-6));
  // fit over two batches of one (learning rate 0, so the weights stay): totals 1 + 2·0 + 0.5 =
  // 1.5 (x = 1) and 4 + 2·1 + 0.5 = 6.5 (x = 2), mean 4; each output's loss is averaged too, and
  // the metric runs over both samples.
  nn::History hist =
      m.fit(x, std::vector<Tensor>{ya, yb}, {.batch_size = 1, .verbose = 0, .shuffle = false});
  CHECK(hist["loss"][0] == Approx(4.0).epsilon(1e-6));
  CHECK(hist["a_loss"][0] == Approx(2.5).epsilon(1e-6));
  CHECK(hist["b_loss"][0] == Approx(0.5).epsilon(1e-6));
  CHECK(hist["a_mae"][0] == Approx(1.5).epsilon(1e-6));
}
