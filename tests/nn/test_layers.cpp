// Layers: Dense by hand, shape inference and errors, lazy building, names, trainable flags,
// regularizers, the reshaping/activation/dropout layers and a user-written layer.
#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
using tg::test::f32;
using tg::test::set_values;
using tg::test::error_of;
using V = std::vector<double>;




/// A user layer: y = x·w + b with its own weights, and a non-trainable counter weight.
struct MyLayer : nn::Layer {
  int64_t units;
  Tensor w, b, calls;
  explicit MyLayer(int64_t u, std::string name = "")
      : Layer("MyLayer", std::move(name)), units(u) {}
  void build(const Shape& s) override {
    w = add_weight("w", {s.back(), units}, nn::initializers::random_normal(0.0, 0.3, 11));
    b = add_weight("b", {units}, nn::initializers::zeros());
    calls = add_weight("calls", {}, nn::initializers::zeros(), /*trainable=*/false);
  }
  Tensor call(const Tensor& x, bool) override {
    {
      NoGrad ng;
      calls += 1.0;
    }
    return matmul(x, w) + b;
  }
};

/// A layer type used only by the naming test, so its counter starts at zero.
struct NamingProbeLayer : nn::Layer {
  NamingProbeLayer() : Layer("NamingProbe") {}
  Tensor call(const Tensor& x, bool) override { return x; }
};
}  // namespace

TEST_CASE("Dense computes x·W + b, then the activation", "[layers][dense]") {
  nn::Dense d(2);
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  d(x);  // builds
  REQUIRE(d->kernel().shape() == Shape{3, 2});
  REQUIRE(d->bias().shape() == Shape{2});
  set_values(d->kernel(), {1, 0, 0, 1, 1, -1});
  set_values(d->bias(), {0.5, -1});
  // [1 2 3]·W = [1+3, 2-3] = [4, -1]; [4 5 6]·W = [10, -1]; plus b.
  TG_CHECK_VALUES(d(x), (V{4.5, -2, 10.5, -2}), 1e-6, 0);

  nn::Dense r(2, {.activation = "relu", .kernel_initializer = "ones", .bias_initializer = "zeros"});
  r(x);
  set_values(r->kernel(), {1, 0, 0, 1, 1, -1});
  set_values(r->bias(), {0.5, -1});
  TG_CHECK_VALUES(r(x), (V{4.5, 0, 10.5, 0}), 1e-6, 0);

  // Rank-3 input: applied on the last axis of every row.
  Tensor x3 = f32({1, 2, 3, 4, 5, 6, 0, 0, 1, -1, 0, 0}, {2, 2, 3});
  Tensor y3 = d(x3);
  REQUIRE(y3.shape() == Shape{2, 2, 2});
  TG_CHECK_VALUES(y3, (V{4.5, -2, 10.5, -2, 1.5, -2, -0.5, -1}), 1e-6, 0);

  // use_bias = false: no bias weight.
  nn::Dense nb(3, {.use_bias = false});
  nb(x);
  CHECK_FALSE(nb->bias().defined());
  CHECK(nb->count_params() == 9);
}

TEST_CASE("Dense initializers given by name and by function", "[layers][dense]") {
  nn::Initializer twos = [](const Shape& s, DType dt) { return full(s, 2.0, {.dtype = dt}); };
  nn::Dense d(2, {.kernel_initializer = twos, .bias_initializer = "ones"});
  Tensor y = d(f32({1, 1, 1}, {1, 3}));
  TG_CHECK_VALUES(y, (V{7, 7}), 1e-6, 0);  // 3·2 + 1

  // glorot_uniform stays inside ±sqrt(6 / (fan_in + fan_out)).
  nn::Dense g(50);
  g(zeros({1, 30}));
  const double limit = std::sqrt(6.0 / 80.0);
  auto k = tg::test::values(g->kernel());
  CHECK(*std::max_element(k.begin(), k.end()) <= limit);
  CHECK(*std::min_element(k.begin(), k.end()) >= -limit);
  CHECK(*std::max_element(k.begin(), k.end()) > 0.8 * limit);  // spread over the whole range
  CHECK_THROWS_AS(nn::Dense(2, {.kernel_initializer = "no_such_init"})(zeros({1, 2})), ValueError);
  CHECK_THROWS_AS(nn::Dense(0), ValueError);
}

TEST_CASE("shape inference: input_shape on the first layer, later layers inferred",
          "[layers][shapes]") {
  nn::Dense first(32, {.input_shape = {784}});
  nn::Dense second(10);
  REQUIRE(first->declared_input_shape().has_value());
  CHECK(*first->declared_input_shape() == Shape{784});
  CHECK_FALSE(second->declared_input_shape().has_value());
  nn::Sequential model;
  model.add(first);
  model.add(second);
  // Both layers are built as soon as they are added: the second infers 32 inputs.
  REQUIRE(first->built());
  REQUIRE(second->built());
  CHECK(first->kernel().shape() == Shape{784, 32});
  CHECK(second->kernel().shape() == Shape{32, 10});
  CHECK(model->outputs()[0].shape() == Shape{-1, 10});
  CHECK(model.predict(zeros({3, 784})).shape() == Shape{3, 10});

  // Symbolic calls give shapes with an unknown batch axis.
  nn::Symbol in = nn::Input({5, 7});
  CHECK(in.shape() == Shape{-1, 5, 7});
  nn::Symbol h = nn::Dense(4)(in);
  CHECK(h.shape() == Shape{-1, 5, 4});
  CHECK(nn::Flatten()(h).shape() == Shape{-1, 20});
  CHECK(nn::Reshape({2, -1})(h).shape() == Shape{-1, 2, 10});
  CHECK(nn::Permute({2, 1})(h).shape() == Shape{-1, 4, 5});
  CHECK_THROWS_AS(nn::Input({0, 3}), ShapeError);
}

TEST_CASE("Dense names the layer and both shapes on a wrong input", "[layers][errors]") {
  nn::Dense d(16);
  d(zeros({4, 256}));
  const std::string msg = error_of<ShapeError>([&] { d(zeros({32, 128})); });
  CHECK_THAT(msg, StartsWith("Dense '" + d->name() + "'"));
  CHECK_THAT(msg, Contains("expected input [*, 256], got [32, 128]"));

  // The same check runs on symbolic calls (a functional model fails at construction).
  nn::Symbol in = nn::Input({128});
  const std::string sym = error_of<ShapeError>([&] { d(in); });
  CHECK_THAT(sym, Contains("Dense '" + d->name() + "'"));
  CHECK_THAT(sym, Contains("expected input [*, 256]"));
  CHECK_THAT(sym, Contains("128]"));

  // The layer is untouched by the failed calls.
  CHECK(d->kernel().shape() == Shape{256, 16});
  CHECK(d(zeros({2, 256})).shape() == Shape{2, 16});
}

TEST_CASE("layers build lazily on their first call", "[layers][build]") {
  nn::Dense d(4);
  CHECK_FALSE(d->built());
  CHECK_FALSE(d->kernel().defined());
  CHECK(d->weights().empty());
  CHECK(d->count_params() == 0);
  Tensor y = d(ones({3, 5}));
  CHECK(d->built());
  CHECK(y.shape() == Shape{3, 4});
  CHECK(d->kernel().shape() == Shape{5, 4});
  CHECK(d->bias().shape() == Shape{4});
  CHECK(d->count_params() == 5 * 4 + 4);
  // Weight names are the Keras ones.
  auto ws = d->weights();
  REQUIRE(ws.size() == 2);
  CHECK(ws[0]->name == "kernel");
  CHECK(ws[1]->name == "bias");
  // Building happens once: a second call reuses the same weights.
  const TensorImpl* k = d->kernel().impl();
  d(ones({7, 5}));
  CHECK(d->kernel().impl() == k);

  // A user layer builds on its first call too.
  auto mine = std::make_shared<MyLayer>(3);
  CHECK_FALSE(mine->built());
  (*mine)(ones({2, 6}));
  CHECK(mine->built());
  CHECK(mine->w.shape() == Shape{6, 3});
}

TEST_CASE("automatic layer names are unique snake_case names", "[layers][names]") {
  // A type nobody else creates: its counter starts here.
  NamingProbeLayer a, b, c;
  CHECK(a.name() == "naming_probe");
  CHECK(b.name() == "naming_probe_1");
  CHECK(c.name() == "naming_probe_2");
  CHECK(a.type() == "NamingProbe");

  nn::Dense d1(1), d2(1);
  CHECK(d1->name() != d2->name());
  CHECK_THAT(d1->name(), StartsWith("dense"));
  CHECK_THAT(d2->name(), StartsWith("dense"));
  CHECK(d1->type() == "Dense");
  nn::Dense named(1, {.name = "my_dense"});
  CHECK(named->name() == "my_dense");

  CHECK(nn::snake_case("Dense") == "dense");
  CHECK(nn::snake_case("Conv2D") == "conv2d");
  CHECK(nn::snake_case("MaxPooling2D") == "max_pooling2d");
  CHECK(nn::snake_case("BatchNormalization") == "batch_normalization");
  CHECK(nn::snake_case("LSTM") == "lstm");
  CHECK(nn::snake_case("GRU") == "gru");
}

TEST_CASE("trainable and non-trainable weights; set_trainable(false) freezes a layer",
          "[layers][trainable]") {
  auto mine = std::make_shared<MyLayer>(2);
  (*mine)(ones({1, 3}));
  CHECK(mine->trainable_weights().size() == 2);
  REQUIRE(mine->non_trainable_weights().size() == 1);
  CHECK(mine->non_trainable_weights()[0].is_same(mine->calls));
  CHECK(mine->count_params() == 3 * 2 + 2 + 1);
  CHECK(mine->calls.item<double>() == 1.0);
  CHECK_FALSE(mine->calls.requires_grad());

  mine->set_trainable(false);
  CHECK(mine->trainable_weights().empty());
  CHECK(mine->non_trainable_weights().size() == 3);

  // In a model: the frozen layer keeps its values through training, the other one learns.
  manual_seed(3);
  nn::Dense frozen(4, {.input_shape = {3}});
  nn::Dense head(1);
  nn::Sequential model;
  model.add(frozen);
  model.add(head);
  frozen->set_trainable(false);
  CHECK(model.trainable_weights().size() == 2);
  CHECK(model->non_trainable_weights().size() == 2);
  model.compile({.optimizer = optim::SGD({.learning_rate = 0.1}), .loss = "mse"});
  std::vector<double> k0 = tg::test::values(frozen->kernel()),
                      h0 = tg::test::values(head->kernel());
  Tensor x = rand({16, 3}), y = rand({16, 1});
  model.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0});
  CHECK(tg::test::values(frozen->kernel()) == k0);
  CHECK(tg::test::values(head->kernel()) != h0);
  // Unfreezing makes it train again.
  frozen->set_trainable(true);
  CHECK(model.trainable_weights().size() == 4);
  model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0});
  CHECK(tg::test::values(frozen->kernel()) != k0);
}

TEST_CASE("regularizers add their penalty to the loss", "[layers][regularizers]") {
  // The penalty functions by hand.
  Tensor w = f32({1, -2, 3, -0.5}, {2, 2});
  CHECK(nn::regularizers::l1(0.1)(w).item<double>() == Approx(0.1 * 6.5));
  CHECK(nn::regularizers::l2(0.1)(w).item<double>() == Approx(0.1 * (1 + 4 + 9 + 0.25)));
  CHECK(nn::regularizers::l1_l2(0.1, 0.2)(w).item<double>() == Approx(0.65 + 0.2 * 14.25));
  CHECK(nn::regularizers::l2(0.1).name == "l2");
  CHECK_FALSE(static_cast<bool>(nn::Regularizer{}));

  // In a model: loss = mse + penalties (kernel of ones, bias of twos, targets equal to
  // predictions).
  nn::Dense d(2, {.kernel_initializer = "ones",
                  .bias_initializer = nn::initializers::constant(2.0),
                  .kernel_regularizer = nn::regularizers::l2(0.01),
                  .bias_regularizer = nn::regularizers::l1(0.5),
                  .input_shape = {3}});
  nn::Sequential model;
  model.add(d);
  model.compile({.optimizer = "sgd", .loss = "mse"});
  Tensor x = f32({1, 2, 3, 0, 0, 0}, {2, 3});
  Tensor y_exact = f32({8, 8, 2, 2}, {2, 2});
  const double penalty = 0.01 * 6 + 0.5 * 4;  // l2 on six ones, l1 on two twos
  CHECK(model.test_on_batch(x, y_exact)["loss"] == Approx(penalty).epsilon(1e-6));
  Tensor y_off =
      f32({9, 8, 2, 2}, {2, 2});  // one error of 1 among 4 values: mse 1/4 per sample mean
  CHECK(model.test_on_batch(x, y_off)["loss"] == Approx(0.25 + penalty).epsilon(1e-6));
  // The penalty also drives training: with zero data error, SGD only shrinks the kernel.
  nn::Logs l = model.train_on_batch(x, y_exact);
  CHECK(l["loss"] == Approx(penalty).epsilon(1e-6));
  // d/dk of 0.01·Σk² is 0.02·k: one SGD step with lr 0.01 gives 1 − 0.01·0.02.
  TG_CHECK_VALUES(d->kernel(), V(6, 1.0 - 0.01 * 0.02), 1e-6, 0);
  // d/db of 0.5·Σ|b| is 0.5: b = 2 − 0.01·0.5.
  TG_CHECK_VALUES(d->bias(), (V{2 - 0.005, 2 - 0.005}), 1e-6, 0);

  // Calls outside training (predict, eager calls) leave no penalty behind: the next loss holds
  // the penalty of its own forward pass once.
  const double penalty2 = 0.01 * 6 * std::pow(1.0 - 0.01 * 0.02, 2) + 0.5 * 2 * (2 - 0.005);
  model.predict(x);
  model.predict(x);
  d(x);
  CHECK(model.test_on_batch(x, model.predict(x))["loss"] == Approx(penalty2).epsilon(1e-5));
  CHECK(model.test_on_batch(x, model.predict(x))["loss"] == Approx(penalty2).epsilon(1e-5));
}

TEST_CASE("Flatten, Reshape and Permute rearrange values", "[layers][reshaping]") {
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i;
  Tensor x = f32(v, {2, 3, 4});

  Tensor f = nn::Flatten()(x);
  REQUIRE(f.shape() == Shape{2, 12});
  TG_CHECK_VALUES(f, v, 0, 0);
  CHECK(nn::Flatten()(f32({1, 2}, {2})).shape() == Shape{2, 1});

  Tensor r = nn::Reshape({4, 3})(x);
  REQUIRE(r.shape() == Shape{2, 4, 3});
  TG_CHECK_VALUES(r, v, 0, 0);
  CHECK(nn::Reshape({-1, 2})(x).shape() == Shape{2, 6, 2});
  CHECK_THROWS_AS(nn::Reshape({5, -1})(x), ShapeError);
  CHECK_THROWS_AS(nn::Reshape({5, 5})(x), ShapeError);
  CHECK_THROWS_AS(nn::Reshape({-1, -1}), ValueError);

  Tensor p = nn::Permute({2, 1})(x);
  REQUIRE(p.shape() == Shape{2, 4, 3});
  auto pv = tg::test::values(p);
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) CHECK(pv[b * 12 + j * 3 + i] == v[b * 12 + i * 4 + j]);
  CHECK_THROWS_AS(nn::Permute({1, 3}), ValueError);
  CHECK_THROWS_AS(nn::Permute({2, 1})(f32({1, 2}, {1, 2})), ShapeError);

  // They pass gradients straight through.
  Tensor xg = f32(v, {2, 3, 4}).requires_grad_();
  Tensor w = f32(v, {2, 4, 3});
  sum(nn::Permute({2, 1})(xg) * w).backward();
  auto g = tg::test::values(xg.grad());
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) CHECK(g[b * 12 + i * 4 + j] == v[b * 12 + j * 3 + i]);
}

TEST_CASE("Activation applies a named or user function", "[layers][activation]") {
  Tensor x = f32({-2, -0.5, 0, 1.5}, {1, 4});
  TG_CHECK_VALUES(nn::Activation("relu")(x), (V{0, 0, 0, 1.5}), 0, 0);
  TG_CHECK_VALUES(nn::Activation("linear")(x), (V{-2, -0.5, 0, 1.5}), 0, 0);
  TG_CHECK_VALUES(nn::Activation("tanh")(x), (V{std::tanh(-2), std::tanh(-0.5), 0, std::tanh(1.5)}),
                  1e-6, 0);
  V sig, soft;
  double z = 0;
  for (double t : {-2.0, -0.5, 0.0, 1.5}) {
    sig.push_back(1 / (1 + std::exp(-t)));
    z += std::exp(t);
  }
  for (double t : {-2.0, -0.5, 0.0, 1.5}) soft.push_back(std::exp(t) / z);
  TG_CHECK_VALUES(nn::Activation("sigmoid")(x), sig, 1e-6, 0);
  TG_CHECK_VALUES(nn::Activation("softmax")(x), soft, 1e-6, 0);
  // Keras' gelu activation is the exact erf form.
  V gelu;
  for (double t : {-2.0, -0.5, 0.0, 1.5})
    gelu.push_back(0.5 * t * (1 + std::erf(t / std::sqrt(2.0))));
  TG_CHECK_VALUES(nn::Activation("gelu")(x), gelu, 1e-6, 0);
  TG_CHECK_VALUES(nn::Activation("relu6")(f32({-1, 3, 8}, {1, 3})), (V{0, 3, 6}), 0, 0);
  TG_CHECK_VALUES(nn::Activation("hard_sigmoid")(f32({-4, 0, 1.5, 4}, {1, 4})),
                  (V{0, 0.5, 0.75, 1}), 1e-6, 0);

  nn::ActivationFn twice([](const Tensor& t) { return t * 2.0; }, "twice");
  TG_CHECK_VALUES(nn::Activation(twice)(x), (V{-4, -1, 0, 3}), 0, 0);
  CHECK(twice.name() == "twice");
  CHECK_THROWS_AS(nn::Activation("no_such_activation"), ValueError);
}

TEST_CASE("Dropout: identity at inference, inverted dropout in training, seeded",
          "[layers][dropout]") {
  Tensor x = ones({200, 500});
  nn::Dropout d(0.3, {.seed = 7});
  // Inference: the identity.
  TG_CHECK_VALUES(d(x, false), V(100000, 1.0), 0, 0);
  // Training: a fraction ≈ rate is zeroed, the rest scaled by 1 / (1 − rate).
  auto y = tg::test::values(d(x, true));
  int64_t zeros_n = 0, scaled = 0;
  for (double v : y) {
    if (v == 0)
      ++zeros_n;
    else if (std::abs(v - 1.0 / 0.7) < 1e-5)
      ++scaled;
  }
  CHECK(zeros_n + scaled == 100000);
  CHECK(static_cast<double>(zeros_n) / 100000.0 == Approx(0.3).margin(0.01));
  // The expected value is preserved.
  double s = 0;
  for (double v : y) s += v;
  CHECK(s / 100000.0 == Approx(1.0).margin(0.02));

  // Seeded: another layer with the same seed draws the same masks in the same order; each call
  // of one layer draws a new mask.
  nn::Dropout d2(0.3, {.seed = 7});
  auto a1 = tg::test::values(d2(x, true));
  auto a2 = tg::test::values(d2(x, true));
  CHECK(a1 == y);
  CHECK(a1 != a2);
  nn::Dropout d3(0.3, {.seed = 8});
  CHECK(tg::test::values(d3(x, true)) != y);
  // Unseeded dropout follows the global generator.
  nn::Dropout u(0.5);
  manual_seed(123);
  auto u1 = tg::test::values(u(x, true));
  manual_seed(123);
  auto u2 = tg::test::values(u(x, true));
  CHECK(u1 == u2);

  // The gradient is the mask times the scale.
  Tensor xg = ones({4, 50}).requires_grad_();
  Tensor out = nn::Dropout(0.5, {.seed = 1})(xg, true);
  sum(out).backward();
  TG_CHECK_VALUES(xg.grad(), tg::test::values(out), 1e-6, 0);

  CHECK_THROWS_AS(nn::Dropout(1.0), ValueError);
  CHECK_THROWS_AS(nn::Dropout(-0.1), ValueError);
  // In a model: fit uses training mode, predict does not.
  nn::Sequential m;
  m.add(nn::Dropout(0.5, {.input_shape = {10}}));
  TG_CHECK_VALUES(m.predict(ones({3, 10})), V(30, 1.0), 0, 0);
}

TEST_CASE("a user-written layer works in Sequential and functional models and trains",
          "[layers][custom]") {
  manual_seed(5);
  // Targets from a fixed linear map.
  Tensor x = randn({64, 3});
  Tensor a = f32({1, -2, 0.5, 0.5, 0, 1}, {3, 2});
  Tensor y = matmul(x, a) + 0.25;

  // Sequential.
  auto seq_layer = std::make_shared<MyLayer>(2);
  nn::Sequential seq;
  seq.add(seq_layer);
  seq.compile({.optimizer = optim::SGD({.learning_rate = 0.1}), .loss = "mse"});
  nn::History h = seq.fit(x, y, {.batch_size = 16, .epochs = 60, .verbose = 0, .seed = 1});
  CHECK(seq_layer->built());
  CHECK(seq_layer->w.shape() == Shape{3, 2});
  CHECK(h["loss"].back() < 0.01 * h["loss"].front());
  CHECK(h["loss"].back() < 1e-6);
  TG_CHECK_VALUES(seq_layer->w, (V{1, -2, 0.5, 0.5, 0, 1}), 1e-3, 0);
  TG_CHECK_VALUES(seq_layer->b, (V{0.25, 0.25}), 1e-3, 0);
  // The non-trainable counter counted the calls and was not touched by the optimizer.
  CHECK(seq_layer->calls.item<double>() >= 60 * 4);

  // Functional, through a handle made by the user.
  nn::LayerHandle<MyLayer> mine(std::make_shared<MyLayer>(2));
  nn::Symbol in = nn::Input({3});
  nn::Symbol out = mine(in);
  CHECK(out.shape() == Shape{-1, 2});
  nn::Model model(in, out);
  CHECK(model.layers().size() == 1);
  model.compile({.optimizer = optim::SGD({.learning_rate = 0.1}), .loss = "mse"});
  nn::History hf = model.fit(x, y, {.batch_size = 16, .epochs = 60, .verbose = 0, .seed = 1});
  CHECK(hf["loss"].back() < 1e-6);
  // Predictions are x·w + b with the learned weights.
  Tensor manual = matmul(x, mine->w.detach()) + mine->b.detach();
  TG_CHECK_VALUES(model.predict(x), tg::test::values(manual), 1e-5, 1e-5);
}
