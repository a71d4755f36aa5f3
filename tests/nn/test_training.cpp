// Training API: compile (optimizer, loss, metrics, loss weights), fit and its options, the
// batch-level methods, progress output, callbacks, and small problems trained to a stated accuracy.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
using tg::test::error_of;
using tg::test::f32;
using tg::test::set_values;
using tg::test::capture_stdout;
using V = std::vector<double>;
namespace fs = std::filesystem;

std::string read_text(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  std::string l;
  while (std::getline(is, l)) out.push_back(l);
  return out;
}

fs::path temp_dir(const std::string& name) { return test::temp_dir("nn_training", name); }

/// y = x·[1, 2] + 0.5 on three samples; predictions 3.5, −1.5, 2.5 against targets 3, 0, 2.5.
struct LinearCase {
  nn::Dense dense{1, {.input_shape = {2}}};
  nn::Sequential model;
  Tensor x = f32({1, 1, 0, -1, 2, 0}, {3, 2});
  Tensor y = f32({3, 0, 2.5}, {3, 1});
  LinearCase() {
    model.add(dense);
    set_values(dense->kernel(), {1, 2});
    set_values(dense->bias(), {0.5});
  }
};

/// One weight w (starting at 1), x = 1, y = 0, mse: the loss is w², the gradient 2w; SGD with lr
/// 1.5 maps w to −2w (loss ×4 per epoch), with lr 0.25 to w/2.
struct ScalarCase {
  nn::Dense dense{1, {.use_bias = false, .kernel_initializer = "ones", .input_shape = {1}}};
  nn::Sequential model;
  Tensor x = ones({1, 1});
  Tensor y = zeros({1, 1});
  explicit ScalarCase(double lr) {
    model.add(dense);
    model.compile({.optimizer = optim::SGD({.learning_rate = lr}), .loss = "mse"});
  }
  double w() const { return dense->kernel().item<double>(); }
};

/// Softmax classifier with identity kernel on three samples (classes 0, 0, 1).
struct SoftmaxCase {
  nn::Dense dense{2, {.activation = "softmax", .input_shape = {2}}};
  nn::Sequential model;
  Tensor x = f32({1, 0, 0, 1, 1, 2}, {3, 2});
  Tensor y = f32({1, 0, 1, 0, 0, 1}, {3, 2});
  // Per-sample crossentropies: logits [1, 0], [0, 1], [1, 2].
  double l1 = std::log(1 + std::exp(-1.0)), l2 = std::log(1 + std::exp(1.0)),
         l3 = std::log(1 + std::exp(-1.0));
  SoftmaxCase() {
    model.add(dense);
    set_values(dense->kernel(), {1, 0, 0, 1});
    set_values(dense->bias(), {0, 0});
    model.compile({.optimizer = optim::SGD({.learning_rate = 0.0}),
                   .loss = "categorical_crossentropy",
                   .metrics = {"accuracy"}});
  }
};
}  // namespace

TEST_CASE("compile takes an optimizer by name or by object", "[training][compile]") {
  LinearCase c;
  const std::vector<std::pair<const char*, const char*>> names = {
      {"rmsprop", "RMSprop"}, {"adam", "Adam"},       {"sgd", "SGD"},
      {"adamw", "AdamW"},     {"adagrad", "Adagrad"}, {"adadelta", "Adadelta"},
      {"adamax", "Adamax"},   {"nadam", "Nadam"},     {"Adam", "Adam"}};
  for (auto [n, cls] : names) {
    c.model.compile({.optimizer = n, .loss = "mse"});
    REQUIRE(c.model->optimizer());
    CHECK(c.model->optimizer()->name() == cls);
  }
  c.model.compile({.optimizer = "rmsprop", .loss = "mse"});
  CHECK(c.model->optimizer()->learning_rate() == Approx(0.001));
  c.model.compile({.optimizer = "sgd", .loss = "mse"});
  CHECK(c.model->optimizer()->learning_rate() == Approx(0.01));

  // An object is copied (with its settings); a shared_ptr is used as is.
  optim::SGD sgd({.learning_rate = 0.5, .momentum = 0.9});
  c.model.compile({.optimizer = sgd, .loss = "mse"});
  CHECK(c.model->optimizer()->name() == "SGD");
  CHECK(c.model->optimizer()->learning_rate() == Approx(0.5));
  CHECK(c.model->optimizer().get() != &sgd);
  std::shared_ptr<optim::Optimizer> adam =
      std::make_shared<optim::Adam>(optim::AdamOptions{.learning_rate = 0.02});
  c.model.compile({.optimizer = adam, .loss = "mse"});
  CHECK(c.model->optimizer().get() == adam.get());
  c.model.train_on_batch(c.x, c.y);
  CHECK(adam->iterations() == 1);

  CHECK_THROWS_AS(c.model.compile({.optimizer = "no_such_optimizer", .loss = "mse"}), ValueError);
  CHECK_THROWS_AS(c.model.compile({.optimizer = "sgd"}), ValueError);  // no loss
  CHECK_THROWS_AS(c.model.compile({.optimizer = "sgd", .loss = "no_such_loss"}), ValueError);
  CHECK_THROWS_AS(c.model.compile({.optimizer = "sgd", .loss = {"mse", "mae"}}),
                  ValueError);  // one output
  CHECK_THROWS_AS(
      c.model.compile({.optimizer = "sgd", .loss = "mse", .metrics = {"no_such_metric"}}),
      ValueError);
}

TEST_CASE("compile takes a loss by name, by object or as a user function", "[training][compile]") {
  LinearCase c;
  // Errors 0.5, −1.5, 0.
  c.model.compile({.optimizer = "sgd", .loss = "mse"});
  CHECK(c.model.test_on_batch(c.x, c.y)["loss"] == Approx((0.25 + 2.25) / 3));
  c.model.compile({.optimizer = "sgd", .loss = "mean_squared_error"});
  CHECK(c.model.test_on_batch(c.x, c.y)["loss"] == Approx((0.25 + 2.25) / 3));
  c.model.compile({.optimizer = "sgd", .loss = nn::Loss("mae")});
  CHECK(c.model.test_on_batch(c.x, c.y)["loss"] == Approx(2.0 / 3));
  c.model.compile({.optimizer = "sgd", .loss = "huber"});
  CHECK(c.model.test_on_batch(c.x, c.y)["loss"] == Approx((0.125 + 1.0) / 3));
  // Any function of (y_true, y_pred).
  c.model.compile({.optimizer = "sgd", .loss = [](const Tensor& t, const Tensor& p) {
                     return mean(abs(p - t) * 3.0, {-1});
                   }});
  CHECK(c.model.test_on_batch(c.x, c.y)["loss"] == Approx(2.0));
  // A Loss object with another reduction.
  c.model.compile({.optimizer = "sgd",
                   .loss = nn::Loss([](const Tensor& t, const Tensor& p) { return square(p - t); },
                                    "sq", nn::Reduction::Sum)});
  CHECK(c.model.test_on_batch(c.x, c.y)["loss"] == Approx(2.5));
  // The user loss trains: one SGD step on the mse lambda follows the hand gradient.
  c.model.compile(
      {.optimizer = optim::SGD({.learning_rate = 0.1}),
       .loss = [](const Tensor& t, const Tensor& p) { return mean(square(p - t), {-1}); }});
  c.model.train_on_batch(c.x, c.y);
  TG_CHECK_VALUES(c.dense->kernel(), (V{1 - 0.1 / 3, 2 - 0.4 / 3}), 1e-6, 0);
}

/// Two Dense heads "o1" (1 unit, weights 1, 1) and "o2" (2 units, identity) on one 2-input:
/// for x = [[1, 2], [−1, 0]] they predict o1 = 3, −1 and o2 = [1, 2], [−1, 0].
struct TwoHeads {
  nn::Model m = build();
  Tensor x = f32({1, 2, -1, 0}, {2, 2});
  static nn::Model build() {
    nn::Symbol in = nn::Input({2});
    nn::Dense d1(1, {.name = "o1"}), d2(2, {.name = "o2"});
    nn::Model m({in}, {d1(in), d2(in)});
    set_values(d1->kernel(), {1, 1});
    set_values(d1->bias(), {0});
    set_values(d2->kernel(), {1, 0, 0, 1});
    set_values(d2->bias(), {0, 0});
    return m;
  }
};

TEST_CASE("per-output losses and loss_weights make a weighted sum", "[training][compile]") {
  TwoHeads heads;
  nn::Model& m = heads.m;
  const Tensor& x = heads.x;
  Tensor y1 = f32({2, 1}, {2, 1});        // predictions 3, −1: mse (1 + 4) / 2 = 2.5
  Tensor y2 = f32({0, 0, 0, 0}, {2, 2});  // predictions [1, 2], [−1, 0]: mae (1.5 + 0.5) / 2 = 1
  m.compile({.optimizer = "sgd", .loss = {"mse", "mae"}, .loss_weights = {0.3, 2.0}});
  nn::Logs l = m->test_on_batch({x}, {y1, y2});
  CHECK(l["o1_loss"] == Approx(2.5));
  CHECK(l["o2_loss"] == Approx(1.0));
  CHECK(l["loss"] == Approx(0.3 * 2.5 + 2.0 * 1.0));
  // One loss for every output, weights 1.
  m.compile({.optimizer = "sgd", .loss = "mse"});
  l = m->test_on_batch({x}, {y1, y2});
  CHECK(l["o2_loss"] == Approx((2.5 + 0.5) / 2));
  CHECK(l["loss"] == Approx(2.5 + 1.5));
  // evaluate and train_on_batch agree with the weighted sum.
  m.compile({.optimizer = optim::SGD({.learning_rate = 0.0}),
             .loss = {"mse", "mae"},
             .loss_weights = {0.3, 2.0}});
  CHECK(m.evaluate({x}, {y1, y2}, {.verbose = 0})["loss"] == Approx(2.75));
  CHECK(m.train_on_batch({x}, {y1, y2})["loss"] == Approx(2.75));
  CHECK_THROWS_AS(m.compile({.optimizer = "sgd", .loss = "mse", .loss_weights = {1.0}}),
                  ValueError);
}

TEST_CASE("per-output metrics by position and by output name", "[training][compile]") {
  TwoHeads heads;
  nn::Model& m = heads.m;
  const Tensor& x = heads.x;
  Tensor y1 = f32({2, 1}, {2, 1});        // predictions 3, −1: mae (1 + 2) / 2 = 1.5
  Tensor y2 = f32({0, 0, 0, 0}, {2, 2});  // predictions [1, 2], [−1, 0]: mse 6 / 4 = 1.5
  m.compile({.optimizer = "sgd",
             .loss = "mse",
             .output_metrics = {{"mae"}, {}},
             .metrics_by_output = {{"o2", {"mse"}}}});
  nn::Logs l = m->test_on_batch({x}, {y1, y2});
  CHECK(l["o1_mae"] == Approx(1.5));
  CHECK(l["o2_mse"] == Approx(1.5));
  CHECK(l.count("o1_mse") == 0);
  CHECK(l.count("o2_mae") == 0);
  // Saved with the model and back.
  fs::path dir = test::temp_dir("nn_training", "output_metrics");
  nn::save_model(m, (dir / "m.tg").string());
  nn::Model loaded = nn::load_model((dir / "m.tg").string());
  nn::Logs l2 = loaded->test_on_batch({x}, {y1, y2});
  CHECK(l2["o1_mae"] == Approx(1.5));
  CHECK(l2["o2_mse"] == Approx(1.5));
  CHECK(l2.count("o1_mse") == 0);
  fs::remove_all(dir);
  // Wrong counts and names are refused, naming the outputs.
  CHECK_THROWS_AS(m.compile({.loss = "mse", .output_metrics = {{"mae"}}}), ValueError);
  std::string err = test::error_of<ValueError>([&] {
    m.compile({.loss = "mse", .metrics_by_output = {{"o3", {"mae"}}}});
  });
  CHECK_THAT(err, Catch::Matchers::Contains("'o3'") && Catch::Matchers::Contains("o1, o2"));
  // A compile that throws leaves the previous one in force.
  nn::Logs after = m->test_on_batch({x}, {y1, y2});
  CHECK(after["o1_mae"] == Approx(1.5));
  CHECK(after["o2_mse"] == Approx(1.5));
}

TEST_CASE("\"accuracy\" resolves to binary, sparse or categorical accuracy",
          "[training][metrics]") {
  // Direct resolution.
  Tensor yb = f32({1, 1, 0}, {3, 1}), pb = f32({0.6, 0.3, 0.2}, {3, 1});
  for (const char* loss : {"binary_crossentropy", "mse"}) {
    auto m = nn::get_metric("accuracy", loss, Shape{-1, 1});
    m->update(yb, pb);
    CHECK(m->result() == Approx(2.0 / 3));  // categorical accuracy would say 1
    CHECK(m->name() == "accuracy");
  }
  Tensor p3 = f32({0.1, 0.2, 0.7, 0.3, 0.4, 0.3}, {2, 3});
  auto sp = nn::get_metric("acc", "sparse_categorical_crossentropy", Shape{-1, 3});
  sp->update(tensor(std::vector<int64_t>{2, 0}), p3);
  CHECK(sp->result() == Approx(0.5));
  CHECK(sp->name() == "acc");
  auto cat = nn::get_metric("accuracy", "categorical_crossentropy", Shape{-1, 3});
  cat->update(f32({0, 0, 1, 1, 0, 0}, {2, 3}), p3);
  CHECK(cat->result() == Approx(0.5));

  // Through compile. Predictions sigmoid(x) for x = 2, −1, 0.5, −3 against 1, 1, 0, 0: half right.
  Tensor x = f32({2, -1, 0.5, -3}, {4, 1}), y = f32({1, 1, 0, 0}, {4, 1});
  SECTION("a model built at add()") {
    nn::Sequential m;
    nn::Dense d(1, {.activation = "sigmoid", .kernel_initializer = "ones", .input_shape = {1}});
    m.add(d);
    for (const char* loss : {"binary_crossentropy", "mse"}) {
      m.compile({.optimizer = "sgd", .loss = loss, .metrics = {"accuracy"}});
      CHECK(m.test_on_batch(x, y)["accuracy"] == Approx(0.5));
    }
  }
  SECTION("a Sequential model built on its first batch (compiled before its shapes are known)") {
    for (const char* loss : {"binary_crossentropy", "mse"}) {
      nn::Sequential m;
      m.add(nn::Dense(1, {.activation = "sigmoid", .kernel_initializer = "ones"}));
      m.compile({.optimizer = "sgd", .loss = loss, .metrics = {"accuracy"}});
      INFO("loss " << loss);
      CHECK(m.test_on_batch(x, y)["accuracy"] == Approx(0.5));
    }
  }
  SECTION("softmax outputs with sparse and one-hot targets") {
    nn::Sequential m;
    nn::Dense d(3, {.activation = "softmax", .input_shape = {3}});
    m.add(d);
    set_values(d->kernel(), {1, 0, 0, 0, 1, 0, 0, 0, 1});
    set_values(d->bias(), {0, 0, 0});
    Tensor xs = f32({0.1, 0.2, 0.7, 0.3, 0.4, 0.3, 2, 0, 0}, {3, 3});
    m.compile(
        {.optimizer = "sgd", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
    CHECK(m.test_on_batch(xs, tensor(std::vector<int64_t>{2, 0, 0}))["accuracy"] ==
          Approx(2.0 / 3));
    m.compile({.optimizer = "sgd", .loss = "categorical_crossentropy", .metrics = {"accuracy"}});
    CHECK(m.test_on_batch(xs, f32({0, 0, 1, 1, 0, 0, 1, 0, 0}, {3, 3}))["accuracy"] ==
          Approx(2.0 / 3));
  }
}

TEST_CASE("fit returns a History of per-epoch values with val_ entries", "[training][fit]") {
  manual_seed(21);
  nn::Sequential m;
  m.add(nn::Dense(8, {.activation = "relu", .input_shape = {4}}));
  m.add(nn::Dense(3, {.activation = "softmax"}));
  m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
  Tensor x = randn({40, 4}), y = argmax(x.slice(1, 0, 3), 1);
  Tensor vx = randn({12, 4}), vy = argmax(vx.slice(1, 0, 3), 1);
  nn::History h =
      m.fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0, .validation_data = {vx, vy}});
  CHECK(h.epoch == std::vector<int>{0, 1, 2});
  CHECK(h.history.size() == 4);
  for (const char* k : {"loss", "accuracy", "val_loss", "val_accuracy"}) CHECK(h[k].size() == 3);
  CHECK_THROWS_AS(h["no_such_key"], ValueError);
  // The last val_ entry is an evaluation with the final weights.
  nn::Logs ev = m.evaluate(vx, vy, {.verbose = 0});
  CHECK(h["val_loss"].back() == Approx(ev["loss"]).epsilon(1e-5));
  CHECK(h["val_accuracy"].back() == Approx(ev["accuracy"]));
  // Accuracy values are fractions of the samples.
  for (double a : h["accuracy"]) CHECK(std::abs(a * 40 - std::round(a * 40)) < 1e-6);
  CHECK_THROWS_AS(m.fit(x, y, {.epochs = -1, .verbose = 0}), ValueError);
}

TEST_CASE("validation_split holds out the last fraction of the samples", "[training][fit]") {
  // y = x for the first 8 samples and x + 10 for the last 2: the model y = x fits the training
  // part exactly and misses the held-out part by 10.
  nn::Sequential m;
  nn::Dense d(1, {.kernel_initializer = "ones", .input_shape = {1}});
  m.add(d);
  m.compile({.optimizer = optim::SGD({.learning_rate = 0.0}), .loss = "mse"});
  V xv, yv;
  for (int i = 0; i < 10; ++i) {
    xv.push_back(i);
    yv.push_back(i < 8 ? i : i + 10);
  }
  Tensor x = f32(xv, {10, 1}), y = f32(yv, {10, 1});
  int batches = 0;
  auto counter = std::make_shared<nn::LambdaCallback>();
  counter->batch_end = [&](int64_t, const nn::Logs&) { ++batches; };
  nn::History h = m.fit(x, y,
                        {.batch_size = 3,
                         .epochs = 1,
                         .verbose = 0,
                         .callbacks = {counter},
                         .validation_split = 0.2});
  CHECK(h["loss"][0] == Approx(0.0).margin(1e-12));
  CHECK(h["val_loss"][0] == Approx(100.0));
  CHECK(batches == 3);  // 8 training samples in batches of 3
  // The held-out samples keep their sample weights for the validation loss (Keras: the
  // weighted sum over the batch size): (0.5·100 + 2·100) / 2.
  Tensor sw = f32({1, 1, 1, 1, 1, 1, 1, 1, 0.5, 2}, {10});
  nn::History hw = m.fit(
      x, y,
      {.batch_size = 3, .epochs = 1, .verbose = 0, .validation_split = 0.2, .sample_weight = sw});
  CHECK(hw["loss"][0] == Approx(0.0).margin(1e-12));
  CHECK(hw["val_loss"][0] == Approx(125.0));
  CHECK_THROWS_AS(m.fit(x, y, {.verbose = 0, .validation_split = 1.0}), ValueError);
  CHECK_THROWS_AS(m.fit(x, y, {.verbose = 0, .validation_split = 0.2, .validation_data = {x, y}}),
                  ValueError);
}

TEST_CASE("shuffling is seeded: the same seed gives the same losses", "[training][fit]") {
  Tensor x, y;
  {
    manual_seed(30);
    x = randn({64, 3});
    y = sum(x, {1}, true) * 0.5;
  }
  auto run = [&](uint64_t seed, bool shuffle) {
    manual_seed(31);  // same initial weights every time
    nn::Sequential m;
    m.add(nn::Dense(4, {.activation = "tanh", .input_shape = {3}}));
    m.add(nn::Dense(1));
    m.compile({.optimizer = optim::SGD({.learning_rate = 0.05}), .loss = "mse"});
    return m.fit(
        x, y,
        {.batch_size = 8, .epochs = 4, .verbose = 0, .shuffle = shuffle, .seed = seed})["loss"];
  };
  const V a = run(1, true), b = run(1, true), c = run(2, true);
  CHECK(a == b);
  CHECK(a != c);
  // Without shuffling the seed does not matter.
  CHECK(run(1, false) == run(2, false));
  CHECK(run(1, false) != a);
}

TEST_CASE("class_weight and sample_weight weight the per-sample losses", "[training][fit]") {
  SoftmaxCase c;
  const double l1 = c.l1, l2 = c.l2, l3 = c.l3;
  auto fit_loss = [&](nn::FitOptions o) {
    o.batch_size = 3;
    o.epochs = 1;
    o.verbose = 0;
    o.shuffle = false;
    return c.model.fit(c.x, c.y, o);
  };
  nn::History plain = fit_loss({});
  CHECK(plain["loss"][0] == Approx((l1 + l2 + l3) / 3));
  CHECK(plain["accuracy"][0] == Approx(2.0 / 3));  // the second sample is wrong

  // Keras divides the weighted sum by the batch size.
  nn::History cw = fit_loss({.class_weight = {{1, 3.0}}});
  CHECK(cw["loss"][0] == Approx((l1 + l2 + 3 * l3) / 3));
  CHECK(cw["accuracy"][0] == Approx((1 + 0 + 3) / 5.0));  // metrics are weighted too

  Tensor sw = f32({2, 1, 0}, {3});
  nn::History sh = fit_loss({.sample_weight = sw});
  CHECK(sh["loss"][0] == Approx((2 * l1 + l2) / 3));
  CHECK(sh["accuracy"][0] == Approx(2.0 / 3));

  nn::History both = fit_loss({.class_weight = {{0, 0.5}, {1, 3.0}}, .sample_weight = sw});
  CHECK(both["loss"][0] == Approx((2 * 0.5 * l1 + 0.5 * l2) / 3));

  // evaluate takes sample weights as well; class weights also work with integer labels.
  CHECK(c.model.evaluate(c.x, c.y, {.verbose = 0, .sample_weight = sw})["loss"] ==
        Approx((2 * l1 + l2) / 3));
  c.model.compile(
      {.optimizer = optim::SGD({.learning_rate = 0.0}), .loss = "sparse_categorical_crossentropy"});
  nn::History sparse =
      c.model.fit(c.x, tensor(std::vector<int64_t>{0, 0, 1}),
                  {.batch_size = 3, .verbose = 0, .shuffle = false, .class_weight = {{1, 3.0}}});
  CHECK(sparse["loss"][0] == Approx((l1 + l2 + 3 * l3) / 3));
}

TEST_CASE("initial_epoch starts the epoch count later", "[training][fit]") {
  ScalarCase c(0.25);
  std::vector<int> begun;
  auto cb = std::make_shared<nn::LambdaCallback>();
  cb->epoch_begin = [&](int e, const nn::Logs&) { begun.push_back(e); };
  nn::History h =
      c.model.fit(c.x, c.y, {.epochs = 5, .verbose = 0, .callbacks = {cb}, .initial_epoch = 3});
  CHECK(h.epoch == std::vector<int>{3, 4});
  CHECK(begun == std::vector<int>{3, 4});
  CHECK(h["loss"].size() == 2);
  CHECK(c.w() == Approx(0.25));  // two updates of w/2
}

TEST_CASE("fit prints per verbose: nothing, a plain progress line, one line per epoch",
          "[training][verbose]") {
  ScalarCase c(0.25);
  Tensor x = ones({40, 1}), y = zeros({40, 1});
  const std::string quiet =
      capture_stdout([&] { c.model.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0}); });
  CHECK(quiet.empty());

  const std::string two =
      capture_stdout([&] { c.model.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 2}); });
  auto l2 = lines_of(two);
  REQUIRE(l2.size() == 4);
  CHECK(l2[0] == "Epoch 1/2");
  CHECK_THAT(l2[1], StartsWith("10/10 - "));
  CHECK_THAT(l2[1], Contains("/step - loss: "));
  CHECK(l2[2] == "Epoch 2/2");
  CHECK(two.find('\r') == std::string::npos);
  CHECK(two.find('[') == std::string::npos);

  // verbose 1 on a file: plain lines (no carriage returns) with the bar, about every 10%.
  const std::string one =
      capture_stdout([&] { c.model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 1}); });
  CHECK(one.find('\r') == std::string::npos);
  auto l1 = lines_of(one);
  REQUIRE(l1.size() == 11);  // "Epoch 1/1", steps 1..9, the final line
  CHECK(l1[0] == "Epoch 1/1");
  CHECK_THAT(l1[1], StartsWith(" 1/10 [==>"));
  CHECK_THAT(l1[1], Contains("ETA: "));
  CHECK_THAT(l1[10], StartsWith("10/10 [==============================] - "));
  CHECK_THAT(l1[10], Contains(" - loss: "));

  // evaluate and predict print only when asked.
  c.model.compile({.optimizer = "sgd", .loss = "mse"});
  CHECK(capture_stdout([&] { c.model.evaluate(x, y, {.verbose = 0}); }).empty());
  CHECK(capture_stdout([&] { c.model.predict(x); }).empty());
  CHECK_THAT(capture_stdout([&] { c.model.evaluate(x, y, {.batch_size = 40, .verbose = 1}); }),
             Contains("1/1 ["));
}

TEST_CASE("ProgressBar writes Keras-style lines to any FILE*", "[training][verbose]") {
  SECTION("verbose 1 on a file: a line about every 10%, then the final one") {
    std::FILE* f = std::tmpfile();
    nn::ProgressBar bar(20, 1, f);
    for (int s = 1; s < 20; ++s) bar.update(s, {{"loss", 0.5}, {"accuracy", 0.25}});
    bar.update(20, {{"loss", 0.5}, {"accuracy", 0.25}}, true);
    const std::string text = read_text(f);
    std::fclose(f);
    auto l = lines_of(text);
    REQUIRE(l.size() == 10);  // steps 2, 4, ..., 18 and 20
    CHECK_THAT(l[0], StartsWith(" 2/20 [==>"));
    CHECK_THAT(l[4], StartsWith("10/20 [==============>...............]"));
    CHECK_THAT(l[0], Contains(" - ETA: "));
    CHECK_THAT(l[0], Contains(" - loss: 0.5000 - accuracy: 0.2500"));
    CHECK_THAT(l[9], StartsWith("20/20 [==============================] - "));
    CHECK_THAT(l[9], Contains("/step - loss: 0.5000"));
    CHECK(text.find('\r') == std::string::npos);
  }
  SECTION("verbose 2: one line at the end, without a bar; small values in e-notation") {
    std::FILE* f = std::tmpfile();
    nn::ProgressBar bar(20, 2, f);
    for (int s = 1; s < 20; ++s) bar.update(s, {{"loss", 1e-4}});
    bar.update(20, {{"loss", 1e-4}}, true);
    auto l = lines_of(read_text(f));
    std::fclose(f);
    REQUIRE(l.size() == 1);
    CHECK_THAT(l[0], StartsWith("20/20 - "));
    CHECK_THAT(l[0], Contains("loss: 1.0000e-04"));
    CHECK(l[0].find('[') == std::string::npos);
  }
  SECTION("verbose 0 writes nothing; an unknown target counts up") {
    std::FILE* f = std::tmpfile();
    nn::ProgressBar quiet(5, 0, f);
    for (int s = 1; s <= 5; ++s) quiet.update(s, {{"loss", 1}}, s == 5);
    CHECK(read_text(f).empty());
    std::fclose(f);
    std::FILE* g = std::tmpfile();
    nn::ProgressBar open(-1, 1, g);
    for (int s = 1; s <= 100; ++s) open.update(s, {});
    CHECK_THAT(read_text(g), StartsWith("100/Unknown"));
    std::fclose(g);
  }
  CHECK(nn::format_duration(0.035) == "35ms");
  CHECK(nn::format_duration(2.4) == "2s");
  CHECK(nn::format_duration(62) == "1:02");
  CHECK(nn::format_duration(3725) == "1:02:05");
}

TEST_CASE("evaluate, predict and the batch methods agree with hand values", "[training][batch]") {
  LinearCase c;
  c.model.compile(
      {.optimizer = optim::SGD({.learning_rate = 0.1}), .loss = "mse", .metrics = {"mae"}});
  const double mse = (0.25 + 2.25) / 3;
  TG_CHECK_VALUES(c.model.predict(c.x), (V{3.5, -1.5, 2.5}), 1e-6, 0);
  TG_CHECK_VALUES(c.model.predict(c.x, {.batch_size = 2}), (V{3.5, -1.5, 2.5}), 1e-6, 0);
  TG_CHECK_VALUES(c.model.predict_on_batch(c.x), (V{3.5, -1.5, 2.5}), 1e-6, 0);
  nn::Logs t = c.model.test_on_batch(c.x, c.y);
  CHECK(t["loss"] == Approx(mse));
  CHECK(t["mae"] == Approx(2.0 / 3));
  // Batches of 2 and 1 are averaged by their sizes: the same mean.
  nn::Logs e = c.model.evaluate(c.x, c.y, {.batch_size = 2, .verbose = 0});
  CHECK(e["loss"] == Approx(mse));
  CHECK(e["mae"] == Approx(2.0 / 3));

  // train_on_batch reports the loss before its update, then applies one SGD step:
  // dW = (2/3)·Σ e·x = [1/3, 4/3], db = (2/3)·Σ e = −2/3 for errors e = [0.5, −1.5, 0].
  CHECK(c.model.train_on_batch(c.x, c.y)["loss"] == Approx(mse));
  TG_CHECK_VALUES(c.dense->kernel(), (V{1 - 0.1 / 3, 2 - 0.4 / 3}), 1e-6, 0);
  TG_CHECK_VALUES(c.dense->bias(), (V{0.5 + 0.2 / 3}), 1e-6, 0);
  // The new loss, by hand from the new weights.
  const double w0 = 1 - 0.1 / 3, w1 = 2 - 0.4 / 3, b = 0.5 + 0.2 / 3;
  const double e0 = w0 + w1 + b - 3, e1 = -w1 + b, e2 = 2 * w0 + b - 2.5;
  CHECK(c.model.test_on_batch(c.x, c.y)["loss"] == Approx((e0 * e0 + e1 * e1 + e2 * e2) / 3));
  // Not compiled: refused.
  nn::Sequential fresh;
  fresh.add(nn::Dense(1, {.input_shape = {2}}));
  CHECK_THAT(error_of<ValueError>([&] { fresh.evaluate(c.x, c.y); }), Contains("compile"));
  CHECK_THROWS_AS(fresh.train_on_batch(c.x, c.y), ValueError);
}

TEST_CASE("EarlyStopping stops after patience epochs and restores the best weights",
          "[training][callbacks]") {
  // Losses 1, 4, 16, ...: only epoch 0 improves; after it w = −2.
  SECTION("restore_best_weights") {
    ScalarCase c(1.5);
    auto es = std::make_shared<nn::EarlyStopping>(
        nn::EarlyStoppingOptions{.monitor = "loss", .patience = 2, .restore_best_weights = true});
    nn::History h = c.model.fit(c.x, c.y, {.epochs = 10, .verbose = 0, .callbacks = {es}});
    CHECK(h["loss"] == V{1, 4, 16});
    CHECK(es->stopped_epoch() == 2);
    CHECK(es->best_epoch() == 0);
    CHECK(c.w() == -2.0);  // not −8, the weight after epoch 2
  }
  SECTION("restore_best_weights also when patience never runs out (Keras 3)") {
    ScalarCase c(1.5);
    auto es = std::make_shared<nn::EarlyStopping>(
        nn::EarlyStoppingOptions{.monitor = "loss", .patience = 5, .restore_best_weights = true});
    nn::History h = c.model.fit(c.x, c.y, {.epochs = 3, .verbose = 0, .callbacks = {es}});
    CHECK(h["loss"] == V{1, 4, 16});
    CHECK(es->stopped_epoch() == -1);
    CHECK(es->best_epoch() == 0);
    CHECK(c.w() == -2.0);  // epoch 0's weight, not −8 after the last epoch
  }
  SECTION("without restoring, patience 0") {
    ScalarCase c(1.5);
    auto es = std::make_shared<nn::EarlyStopping>(nn::EarlyStoppingOptions{.monitor = "loss"});
    nn::History h = c.model.fit(c.x, c.y, {.epochs = 10, .verbose = 0, .callbacks = {es}});
    CHECK(h["loss"].size() == 2);
    CHECK(c.w() == 4.0);
  }
  SECTION("an improving run is not stopped") {
    ScalarCase c(0.25);
    auto es = std::make_shared<nn::EarlyStopping>(
        nn::EarlyStoppingOptions{.monitor = "loss", .patience = 1});
    nn::History h = c.model.fit(c.x, c.y, {.epochs = 5, .verbose = 0, .callbacks = {es}});
    CHECK(h["loss"].size() == 5);
    CHECK(es->stopped_epoch() == -1);
  }
  SECTION("accuracy-like names are maximised") {
    CHECK(nn::monitor_maximizes("val_accuracy", "auto"));
    CHECK(nn::monitor_maximizes("auc", "auto"));
    CHECK_FALSE(nn::monitor_maximizes("val_loss", "auto"));
    CHECK(nn::monitor_maximizes("val_loss", "max"));
    CHECK_THROWS_AS(nn::monitor_maximizes("loss", "sideways"), ValueError);
  }
}

TEST_CASE("ModelCheckpoint with save_best_only writes only on improvement",
          "[training][callbacks]") {
  fs::path dir = temp_dir("ckpt");
  SECTION("a worsening loss: only the first epoch is saved") {
    ScalarCase c(1.5);
    auto ck = std::make_shared<nn::ModelCheckpoint>(
        (dir / "ckpt_{epoch}.tg").string(),
        nn::ModelCheckpointOptions{.monitor = "loss", .save_best_only = true});
    auto best = std::make_shared<nn::ModelCheckpoint>(
        (dir / "best.tg").string(),
        nn::ModelCheckpointOptions{.monitor = "loss", .save_best_only = true});
    c.model.fit(c.x, c.y, {.epochs = 3, .verbose = 0, .callbacks = {ck, best}});
    CHECK(fs::exists(dir / "ckpt_1.tg"));
    CHECK_FALSE(fs::exists(dir / "ckpt_2.tg"));
    CHECK_FALSE(fs::exists(dir / "ckpt_3.tg"));
    // The file holds the weights of the best epoch.
    nn::Model loaded = nn::load_model((dir / "best.tg").string());
    CHECK(loaded.trainable_weights()[0].item<double>() == -2.0);
  }
  SECTION("an improving loss: every epoch is saved; weights only when asked") {
    ScalarCase c(0.25);
    auto ck = std::make_shared<nn::ModelCheckpoint>(
        (dir / "w_{epoch}.tg").string(),
        nn::ModelCheckpointOptions{
            .monitor = "loss", .save_best_only = true, .save_weights_only = true});
    c.model.fit(c.x, c.y, {.epochs = 3, .verbose = 0, .callbacks = {ck}});
    for (int e = 1; e <= 3; ++e) CHECK(fs::exists(dir / ("w_" + std::to_string(e) + ".tg")));
    nn::load_weights(c.model, (dir / "w_2.tg").string());
    CHECK(c.w() == 0.25);                                                 // 1 → 0.5 → 0.25
    CHECK_THROWS_AS(nn::load_model((dir / "w_2.tg").string()), IOError);  // weights, not a model
  }
  fs::remove_all(dir);
}

TEST_CASE("LearningRateScheduler sets the learning rate each epoch", "[training][callbacks]") {
  ScalarCase c(0.1);
  std::vector<double> seen;
  auto sched = std::make_shared<nn::LearningRateScheduler>(
      [](int epoch, double) { return 0.1 / (epoch + 1); });
  auto rec = std::make_shared<nn::LambdaCallback>();
  rec->epoch_begin = [&](int, const nn::Logs&) {
    seen.push_back(c.model->optimizer()->learning_rate());
  };
  c.model.fit(c.x, c.y, {.epochs = 3, .verbose = 0, .callbacks = {sched, rec}});
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == Approx(0.1));
  CHECK(seen[1] == Approx(0.05));
  CHECK(seen[2] == Approx(0.1 / 3));
  // The updates used them: w ← w·(1 − 2·lr).
  CHECK(c.w() == Approx(1.0 * 0.8 * 0.9 * (1 - 0.2 / 3)).epsilon(1e-6));
  // The schedule receives the current rate.
  ScalarCase d(0.2);
  auto halve = std::make_shared<nn::LearningRateScheduler>([](int, double lr) { return lr / 2; });
  d.model.fit(d.x, d.y, {.epochs = 3, .verbose = 0, .callbacks = {halve}});
  CHECK(d.model->optimizer()->learning_rate() == Approx(0.025));
}

TEST_CASE("ReduceLROnPlateau lowers the rate on a plateau, down to min_lr, with cooldown",
          "[training][callbacks]") {
  // A learning rate of 1e-12 keeps the loss at 1 (within min_delta): a plateau.
  auto run = [](nn::ReduceLROnPlateauOptions o, int epochs) {
    ScalarCase c(1e-12);
    std::vector<double> seen;
    auto rl = std::make_shared<nn::ReduceLROnPlateau>(o);
    auto rec = std::make_shared<nn::LambdaCallback>();
    rec->epoch_begin = [&](int, const nn::Logs&) {
      seen.push_back(c.model->optimizer()->learning_rate());
    };
    c.model.fit(c.x, c.y, {.epochs = epochs, .verbose = 0, .callbacks = {rl, rec}});
    return seen;
  };
  auto near = [](const V& a, const V& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (std::abs(a[i] - b[i]) > 1e-6 * b[i]) return false;
    return true;
  };
  V a = run({.monitor = "loss", .factor = 0.5, .patience = 1, .min_lr = 4e-13}, 5);
  CHECK(near(a, {1e-12, 1e-12, 5e-13, 4e-13, 4e-13}));
  V b = run({.monitor = "loss", .factor = 0.5, .patience = 2}, 6);
  CHECK(near(b, {1e-12, 1e-12, 1e-12, 5e-13, 5e-13, 2.5e-13}));
  V cd = run({.monitor = "loss", .factor = 0.5, .patience = 1, .cooldown = 2}, 5);
  CHECK(near(cd, {1e-12, 1e-12, 5e-13, 5e-13, 2.5e-13}));
  CHECK_THROWS_AS(nn::ReduceLROnPlateau({.factor = 1.0}), ValueError);
}

TEST_CASE("CSVLogger writes one row per epoch", "[training][callbacks]") {
  fs::path dir = temp_dir("csv");
  const std::string path = (dir / "log.csv").string();
  manual_seed(40);
  nn::Sequential m;
  m.add(nn::Dense(3, {.activation = "softmax", .input_shape = {2}}));
  m.compile(
      {.optimizer = "adam", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  Tensor x = randn({12, 2}), y = tensor(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
  nn::History h = m.fit(x, y,
                        {.batch_size = 4,
                         .epochs = 2,
                         .verbose = 0,
                         .callbacks = {std::make_shared<nn::CSVLogger>(path)}});
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto rows = lines_of(ss.str());
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == "epoch,accuracy,loss");
  for (int e = 0; e < 2; ++e) {
    std::istringstream r(rows[e + 1]);
    std::string f0, f1, f2;
    std::getline(r, f0, ',');
    std::getline(r, f1, ',');
    std::getline(r, f2, ',');
    CHECK(f0 == std::to_string(e));
    CHECK(std::stod(f1) == h["accuracy"][e]);  // written with full precision
    CHECK(std::stod(f2) == h["loss"][e]);
  }
  // Appending to an existing log adds rows under the same header (written once, as Keras).
  m.fit(x, y,
        {.batch_size = 4,
         .epochs = 1,
         .verbose = 0,
         .callbacks = {std::make_shared<nn::CSVLogger>(path, ',', true)}});
  std::ifstream in2(path);
  std::stringstream ss2;
  ss2 << in2.rdbuf();
  auto rows2 = lines_of(ss2.str());
  REQUIRE(rows2.size() == 4);
  CHECK(rows2[0] == "epoch,accuracy,loss");
  CHECK_THAT(rows2[3], StartsWith("0,"));
  // Another separator.
  const std::string path2 = (dir / "log2.csv").string();
  m.fit(x, y,
        {.batch_size = 4,
         .epochs = 1,
         .verbose = 0,
         .callbacks = {std::make_shared<nn::CSVLogger>(path2, ';')}});
  std::ifstream in3(path2);
  std::string header;
  std::getline(in3, header);
  CHECK(header == "epoch;accuracy;loss");
  // An unwritable path fails with IOError when training starts.
  auto bad = std::make_shared<nn::CSVLogger>((dir / "missing_dir" / "log.csv").string());
  CHECK_THROWS_AS(m.fit(x, y, {.epochs = 1, .verbose = 0, .callbacks = {bad}}), IOError);
  fs::remove_all(dir);
}

TEST_CASE("TerminateOnNaN stops at the first non-finite loss", "[training][callbacks]") {
  nn::Sequential m;
  m.add(nn::Dense(1, {.input_shape = {2}}));
  m.compile({.optimizer = "sgd", .loss = "mse"});
  Tensor x = ones({8, 2});
  {
    NoGrad ng;
    x.select(0, 0).fill_(NAN);
  }
  int batches = 0;
  auto counter = std::make_shared<nn::LambdaCallback>();
  counter->batch_end = [&](int64_t, const nn::Logs&) { ++batches; };
  nn::History h;
  const std::string out = capture_stdout([&] {
    h = m.fit(x, zeros({8, 1}),
              {.batch_size = 2,
               .epochs = 3,
               .verbose = 0,
               .callbacks = {std::make_shared<nn::TerminateOnNaN>(), counter},
               .shuffle = false});
  });
  CHECK(batches == 1);
  CHECK(h["loss"].size() == 1);
  CHECK(std::isnan(h["loss"][0]));
  CHECK_THAT(out, Contains("invalid loss"));
}

TEST_CASE("LambdaCallback sees every batch and epoch, with logs", "[training][callbacks]") {
  ScalarCase c(0.25);
  Tensor x = ones({10, 1}), y = zeros({10, 1});
  int train_begin = 0, train_end = 0, epoch_begin = 0, epoch_end = 0, batch_begin = 0;
  std::vector<int64_t> batch_ids;
  std::vector<double> epoch_losses;
  bool batch_logs_have_loss = true;
  auto cb = std::make_shared<nn::LambdaCallback>();
  cb->train_begin = [&](const nn::Logs&) { ++train_begin; };
  cb->train_end = [&](const nn::Logs& l) { train_end += l.count("loss") ? 1 : 100; };
  cb->epoch_begin = [&](int, const nn::Logs&) { ++epoch_begin; };
  cb->epoch_end = [&](int, const nn::Logs& l) {
    ++epoch_end;
    epoch_losses.push_back(l.at("loss"));
    CHECK(l.count("val_loss") == 1);
  };
  cb->batch_begin = [&](int64_t, const nn::Logs&) { ++batch_begin; };
  cb->batch_end = [&](int64_t b, const nn::Logs& l) {
    batch_ids.push_back(b);
    batch_logs_have_loss = batch_logs_have_loss && l.count("loss");
  };
  nn::History h = c.model.fit(
      x, y,
      {.batch_size = 4, .epochs = 3, .verbose = 0, .callbacks = {cb}, .validation_data = {x, y}});
  CHECK(train_begin == 1);
  CHECK(train_end == 1);
  CHECK(epoch_begin == 3);
  CHECK(epoch_end == 3);
  CHECK(batch_begin == 9);
  CHECK(batch_ids == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2});
  CHECK(batch_logs_have_loss);
  CHECK(epoch_losses == h["loss"]);
  // A callback can stop training through the model.
  ScalarCase d(0.25);
  auto stopper = std::make_shared<nn::LambdaCallback>();
  stopper->epoch_end = [&](int e, const nn::Logs&) {
    if (e == 1) d.model->stop_training = true;
  };
  CHECK(
      d.model.fit(d.x, d.y, {.epochs = 10, .verbose = 0, .callbacks = {stopper}})["loss"].size() ==
      2);
}

TEST_CASE("a two-class problem is learned to at least 90% test accuracy", "[training][accuracy]") {
  manual_seed(50);
  // Two Gaussian blobs at (1, 1) and (−1, −1), stddev 0.6.
  auto blobs = [](int64_t n, Tensor& x, Tensor& y) {
    Tensor labels = gt(rand({n}), 0.5).to(kFloat32);
    Tensor centre = (labels * 2.0 - 1.0).unsqueeze(1);
    x = normal({n, 2}, 0.0, 0.6) + centre;
    y = labels.unsqueeze(1);
  };
  Tensor x, y, xt, yt;
  blobs(400, x, y);
  blobs(200, xt, yt);
  nn::Sequential m;
  m.add(nn::Dense(8, {.activation = "relu", .input_shape = {2}}));
  m.add(nn::Dense(1, {.activation = "sigmoid"}));
  m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
             .loss = "binary_crossentropy",
             .metrics = {"accuracy"}});
  nn::History h = m.fit(x, y, {.batch_size = 32, .epochs = 20, .verbose = 0, .seed = 1});
  CHECK(h["loss"].back() < h["loss"].front());
  nn::Logs test = m.evaluate(xt, yt, {.verbose = 0});
  INFO("test accuracy " << test["accuracy"]);
  CHECK(test["accuracy"] >= 0.9);
  // The reported accuracy is what the predictions say.
  auto p = tg::test::values(m.predict(xt));
  auto t = tg::test::values(yt);
  double right = 0;
  for (size_t i = 0; i < p.size(); ++i) right += ((p[i] > 0.5) == (t[i] > 0.5));
  CHECK(test["accuracy"] == Approx(right / p.size()));
}

TEST_CASE("a four-class problem is learned to at least 90% test accuracy", "[training][accuracy]") {
  manual_seed(51);
  auto quadrants = [](int64_t n, Tensor& x, Tensor& y) {
    x = uniform({n, 2}, -1.0, 1.0);
    Tensor q = gt(x.select(1, 0), 0.0).to(kInt64) * 2 + gt(x.select(1, 1), 0.0).to(kInt64);
    y = nn::to_categorical(q.to(kInt64), 4);
  };
  Tensor x, y, xt, yt;
  quadrants(800, x, y);
  quadrants(400, xt, yt);
  nn::Sequential m;
  m.add(nn::Dense(32, {.activation = "relu", .input_shape = {2}}));
  m.add(nn::Dense(4, {.activation = "softmax"}));
  m.compile({.optimizer = optim::Adam({.learning_rate = 0.02}),
             .loss = "categorical_crossentropy",
             .metrics = {"accuracy"}});
  nn::TensorDataset data({x}, {y}, {.batch_size = 32, .shuffle = true, .seed = 3});
  nn::History h = m.fit(data, {.epochs = 25, .verbose = 0});
  CHECK(h["loss"].back() < 0.5 * h["loss"].front());
  nn::Logs test = m.evaluate(xt, yt, {.batch_size = 128, .verbose = 0});
  INFO("test accuracy " << test["accuracy"]);
  CHECK(test["accuracy"] >= 0.9);
}
