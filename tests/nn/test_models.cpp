// Models: Sequential (eager and lazy building), functional graphs with several inputs and
// outputs, shared layers, nested models, branch/head/Inception topologies, errors, summary().
#include <cmath>
#include <sstream>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
using tg::test::f32;
using tg::test::set_values;
using tg::test::error_of;
using V = std::vector<double>;




/// A user merge layer (there is no Concatenate layer yet): joins its inputs on the last axis.
struct ConcatMerge : nn::Layer {
  explicit ConcatMerge(std::string name = "") : Layer("ConcatMerge", std::move(name)) {}
  std::vector<Tensor> call_multi(const std::vector<Tensor>& xs, bool) override {
    return {tg::concat(xs, -1)};
  }
};
nn::Symbol concat_sym(const std::vector<nn::Symbol>& xs) {
  nn::LayerHandle<ConcatMerge> merge(std::make_shared<ConcatMerge>());
  return merge(xs)[0];
}

/// Row-major dense layer in double: x [n, in] · w [in, out] + b, then act.
V dense_ref(const V& x, const V& w, const V& b, int64_t n, int64_t in, int64_t out,
            const std::string& act) {
  V y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < out; ++j) {
      double s = b.empty() ? 0.0 : b[j];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[i * out + j];
      y[r * out + j] = act == "relu" ? std::max(s, 0.0) : (act == "tanh" ? std::tanh(s) : s);
    }
    if (act == "softmax") {
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j < out; ++j) mx = std::max(mx, y[r * out + j]);
      for (int64_t j = 0; j < out; ++j) z += std::exp(y[r * out + j] - mx);
      for (int64_t j = 0; j < out; ++j) y[r * out + j] = std::exp(y[r * out + j] - mx) / z;
    }
  }
  return y;
}
using tg::test::values;

/// A four-class problem: the quadrant of (x0, x1); the other features are noise.
void quadrants(int64_t n, int64_t features, Tensor& x, Tensor& labels) {
  x = uniform({n, features}, -1.0, 1.0);
  Tensor q = (gt(x.select(1, 0), 0.0).to(kInt64) * 2) + gt(x.select(1, 1), 0.0).to(kInt64);
  labels = q.to(kInt64);
}
}  // namespace

TEST_CASE("Sequential with input_shape builds at add(); bad layers are refused there",
          "[models][sequential]") {
  nn::Sequential m;
  nn::Dense d1(32, {.input_shape = {784}});
  m.add(d1);
  CHECK(m->built_graph());
  CHECK(d1->built());
  CHECK(m->outputs()[0].shape() == Shape{-1, 32});

  // 32 values cannot become 7×7: the error comes at add time and the model is unchanged.
  CHECK_THROWS_AS(m.add(nn::Reshape({7, 7})), ShapeError);
  CHECK(m.layers().size() == 1);
  CHECK(m->sublayers().size() == 1);
  CHECK(m->outputs()[0].shape() == Shape{-1, 32});
  // A Dense already built for 16 inputs cannot follow a 32-wide layer.
  nn::Dense pre(4);
  pre(zeros({1, 16}));
  CHECK_THAT(error_of<ShapeError>([&] { m.add(pre); }), Contains("expected input [*, 16]"));
  CHECK(m.layers().size() == 1);
  CHECK(m.predict(zeros({2, 784})).shape() == Shape{2, 32});
  // A layer cannot be added twice.
  CHECK_THROWS_AS(m.add(d1), ValueError);
  // Compatible layers still go in.
  m.add(nn::Dense(10));
  CHECK(m.layers().size() == 2);
  CHECK(m.predict(zeros({2, 784})).shape() == Shape{2, 10});
  CHECK(m.count_params() == 784 * 32 + 32 + 32 * 10 + 10);

  // The list constructor and pop().
  nn::Sequential s2{nn::Dense(8, {.input_shape = {4}}), nn::Dense(2)};
  CHECK(s2.layers().size() == 2);
  CHECK(s2.predict(zeros({3, 4})).shape() == Shape{3, 2});
  s2.pop();
  CHECK(s2.layers().size() == 1);
  CHECK(s2.predict(zeros({3, 4})).shape() == Shape{3, 8});
  // Popping the last layer leaves an empty model, not the old graph.
  s2.pop();
  CHECK(s2.layers().empty());
  CHECK_FALSE(s2->built_graph());
  CHECK_THROWS_AS(s2.pop(), ValueError);
  CHECK_THROWS_AS(s2.predict(zeros({3, 4})), ValueError);
  s2.add(nn::Dense(5, {.input_shape = {6}}));
  CHECK(s2.predict(zeros({2, 6})).shape() == Shape{2, 5});
  // Data of the wrong width is refused with both shapes.
  CHECK_THAT(error_of<ShapeError>([&] { s2.predict(zeros({3, 5})); }), Contains("[3, 5]"));
}

TEST_CASE("Sequential without input_shape builds on the first batch", "[models][sequential]") {
  nn::Dense a(8, {.activation = "relu"}), b(3);
  nn::Sequential m;
  m.add(a);
  m.add(b);
  CHECK_FALSE(m->built_graph());
  CHECK_FALSE(a->built());
  CHECK(m.count_params() == 0);
  Tensor x = rand({5, 6});
  Tensor y = m.predict(x);
  CHECK(m->built_graph());
  CHECK(a->kernel().shape() == Shape{6, 8});
  CHECK(b->kernel().shape() == Shape{8, 3});
  CHECK(y.shape() == Shape{5, 3});
  CHECK(m.count_params() == 6 * 8 + 8 + 8 * 3 + 3);
  // The result is the two layers applied in order.
  V h = dense_ref(values(x), values(a->kernel()), values(a->bias()), 5, 6, 8, "relu");
  TG_CHECK_VALUES(y, dense_ref(h, values(b->kernel()), values(b->bias()), 5, 8, 3, ""), 1e-5, 1e-5);
  // Another width afterwards is an error, not a rebuild.
  CHECK_THROWS_AS(m.predict(rand({5, 7})), ShapeError);

  // fit builds a lazy model as well.
  nn::Sequential lazy;
  lazy.add(nn::Dense(4, {.activation = "relu"}));
  lazy.add(nn::Dense(1));
  lazy.compile({.optimizer = "adam", .loss = "mse"});
  CHECK_FALSE(lazy->built_graph());
  lazy.fit(rand({8, 3}), rand({8, 1}), {.batch_size = 4, .epochs = 1, .verbose = 0});
  CHECK(lazy->built_graph());
  CHECK(lazy.count_params() == 3 * 4 + 4 + 4 + 1);
}

TEST_CASE("the functional model of In[6] computes relu then softmax", "[models][functional]") {
  manual_seed(6);
  nn::Symbol input_tensor = nn::Input({784});
  nn::Dense hidden(32, {.activation = "relu"});
  nn::Dense top(10, {.activation = "softmax"});
  nn::Symbol x = hidden(input_tensor);
  nn::Symbol output_tensor = top(x);
  nn::Model model(input_tensor, output_tensor);
  REQUIRE(model.layers().size() == 2);
  CHECK(model.layers()[0] == hidden.ptr());
  CHECK(model.layers()[1] == top.ptr());
  CHECK(model->get_layer(hidden->name()) == hidden.ptr());
  CHECK_THROWS_AS(model->get_layer("no_such_layer"), ValueError);
  CHECK(model->inputs().size() == 1);
  CHECK(model->outputs()[0].shape() == Shape{-1, 10});

  Tensor xin = rand({4, 784});
  Tensor y = model.predict(xin);
  REQUIRE(y.shape() == Shape{4, 10});
  V h =
      dense_ref(values(xin), values(hidden->kernel()), values(hidden->bias()), 4, 784, 32, "relu");
  V expect = dense_ref(h, values(top->kernel()), values(top->bias()), 4, 32, 10, "softmax");
  TG_CHECK_VALUES(y, expect, 1e-6, 1e-4);
  // Eager call and predict_on_batch agree with predict.
  TG_CHECK_VALUES(model(xin), expect, 1e-6, 1e-4);
  TG_CHECK_VALUES(model.predict_on_batch(xin), expect, 1e-6, 1e-4);
  // Batch sizes that do not divide the data give the same rows.
  TG_CHECK_VALUES(model.predict(xin, {.batch_size = 3}), expect, 1e-6, 1e-4);
  // A wrong number of inputs is refused.
  CHECK_THROWS_AS(model.predict(std::vector<Tensor>{xin, xin}), ValueError);
}

TEST_CASE("multi-input, multi-output models predict and train", "[models][functional]") {
  manual_seed(7);
  nn::Symbol a = nn::Input({3}, {.name = "a"}), b = nn::Input({2}, {.name = "b"});
  nn::Symbol merged = concat_sym(
      {nn::Dense(8, {.activation = "relu"})(a), nn::Dense(8, {.activation = "relu"})(b)});
  CHECK(merged.shape() == Shape{-1, 16});
  nn::Symbol reg = nn::Dense(1, {.name = "reg"})(merged);
  nn::Symbol cls = nn::Dense(3, {.activation = "softmax", .name = "cls"})(merged);
  nn::Model m({a, b}, {reg, cls});
  CHECK(m->inputs().size() == 2);
  CHECK(m->outputs().size() == 2);

  const int64_t n = 96;
  Tensor xa = randn({n, 3}), xb = randn({n, 2});
  Tensor y_reg = sum(xa, {1}, true) - xb.select(1, 0).unsqueeze(1);
  Tensor y_cls = argmax(xa, 1);
  std::vector<Tensor> p = m.predict({xa, xb});
  REQUIRE(p.size() == 2);
  CHECK(p[0].shape() == Shape{n, 1});
  CHECK(p[1].shape() == Shape{n, 3});

  m.compile({.optimizer = optim::Adam({.learning_rate = 0.02}),
             .loss = {"mse", "sparse_categorical_crossentropy"},
             .metrics = {"accuracy"}});
  nn::History h =
      m.fit({xa, xb}, {y_reg, y_cls}, {.batch_size = 16, .epochs = 25, .verbose = 0, .seed = 2});
  for (const char* k : {"loss", "reg_loss", "cls_loss", "cls_accuracy", "reg_accuracy"})
    CHECK(h.history.count(k) == 1);
  CHECK(h["reg_loss"].back() < 0.3 * h["reg_loss"].front());
  CHECK(h["cls_loss"].back() < 0.6 * h["cls_loss"].front());
  CHECK(h["cls_accuracy"].back() > 0.75);
  // The total is the sum of the per-output losses (weights 1).
  for (size_t e = 0; e < h["loss"].size(); ++e)
    CHECK(h["loss"][e] == Approx(h["reg_loss"][e] + h["cls_loss"][e]).epsilon(1e-5));
  // One target per output.
  CHECK_THROWS_AS(m.fit({xa, xb}, {y_reg}, {.verbose = 0}), ValueError);
  CHECK_THROWS_AS(m.predict(xa), ValueError);
}

TEST_CASE("a layer shared by two branches has one set of weights and both gradients",
          "[models][shared]") {
  nn::Symbol a = nn::Input({3}), b = nn::Input({3});
  nn::Dense shared(2);
  nn::Symbol out = concat_sym({shared(a), shared(b)});
  nn::Model m({a, b}, {out});
  CHECK(m.layers().size() == 2);  // the shared Dense once, and the merge
  CHECK(m.count_params() == 3 * 2 + 2);
  CHECK(m.trainable_weights().size() == 2);

  const V W{0.5, -1.0, 0.25, 2.0, -0.75, 0.1}, B{0.2, -0.3};
  set_values(shared->kernel(), W);
  set_values(shared->bias(), B);
  const V xa{1, 2, 3, -1, 0, 0.5}, xb{0.5, -0.5, 1, 2, 1, -2};
  auto loss_of = [&]() {
    std::vector<Tensor> o = m(std::vector<Tensor>{f32(xa, {2, 3}), f32(xb, {2, 3})}, true);
    return sum(square(o[0]));
  };
  Tensor L = loss_of();
  std::vector<Tensor> g = autograd::grad({L}, {shared->kernel(), shared->bias()});

  // By hand: L = Σ sa² + Σ sb² with s = x·W + b, so dL/dW = 2·xaᵀ·sa + 2·xbᵀ·sb and
  // dL/db = 2·Σ_rows (sa + sb).
  V sa = dense_ref(xa, W, B, 2, 3, 2, ""), sb = dense_ref(xb, W, B, 2, 3, 2, "");
  V gw(6, 0.0), gb(2, 0.0);
  double l = 0;
  for (int r = 0; r < 2; ++r)
    for (int j = 0; j < 2; ++j) {
      l += sa[r * 2 + j] * sa[r * 2 + j] + sb[r * 2 + j] * sb[r * 2 + j];
      gb[j] += 2 * (sa[r * 2 + j] + sb[r * 2 + j]);
      for (int i = 0; i < 3; ++i)
        gw[i * 2 + j] += 2 * (xa[r * 3 + i] * sa[r * 2 + j] + xb[r * 3 + i] * sb[r * 2 + j]);
    }
  CHECK(L.item<double>() == Approx(l).epsilon(1e-6));
  TG_CHECK_VALUES(g[0], gw, 1e-5, 1e-5);
  TG_CHECK_VALUES(g[1], gb, 1e-5, 1e-5);

  // And by central differences (L is quadratic in W, so they are exact up to rounding).
  const double hstep = 0.01;
  for (int k = 0; k < 6; ++k) {
    V wp = W, wm = W;
    wp[k] += hstep;
    wm[k] -= hstep;
    set_values(shared->kernel(), wp);
    const double lp = loss_of().item<double>();
    set_values(shared->kernel(), wm);
    const double lm = loss_of().item<double>();
    CHECK((lp - lm) / (2 * hstep) == Approx(gw[k]).epsilon(1e-3).margin(1e-3));
  }
  set_values(shared->kernel(), W);

  // Training moves the one kernel that both branches read.
  m.compile({.optimizer = optim::SGD({.learning_rate = 0.01}), .loss = "mse"});
  m.train_on_batch({f32(xa, {2, 3}), f32(xb, {2, 3})}, {zeros({2, 4})});
  // mse over the 4 outputs of each row: gradient = (2/4)·(x·s terms)/2 rows = gw / 8 here.
  V expect(6);
  for (int k = 0; k < 6; ++k) expect[k] = W[k] - 0.01 * gw[k] / 8.0;
  TG_CHECK_VALUES(shared->kernel(), expect, 1e-6, 1e-5);
}

TEST_CASE("a model is a layer: nested functional and Sequential models", "[models][nested]") {
  manual_seed(8);
  nn::Symbol ii = nn::Input({4});
  nn::Dense inner_dense(3, {.activation = "tanh"});
  nn::Model inner(ii, inner_dense(ii), "inner_block");
  CHECK(inner->name() == "inner_block");

  nn::Symbol oi = nn::Input({4});
  nn::Dense head(2);
  nn::Model outer(oi, head(inner(oi)));
  REQUIRE(outer.layers().size() == 2);
  CHECK(outer.layers()[0] == inner.ptr());
  CHECK(outer.count_params() == (4 * 3 + 3) + (3 * 2 + 2));
  CHECK(outer.trainable_weights().size() == 4);
  // Freezing the nested model freezes everything in it.
  inner->set_trainable(false);
  CHECK(outer.trainable_weights().size() == 2);
  CHECK(outer->non_trainable_weights().size() == 2);
  inner->set_trainable(true);

  Tensor x = randn({5, 4});
  V h = dense_ref(values(x), values(inner_dense->kernel()), values(inner_dense->bias()), 5, 4, 3,
                  "tanh");
  TG_CHECK_VALUES(outer.predict(x),
                  dense_ref(h, values(head->kernel()), values(head->bias()), 5, 3, 2, ""), 1e-5,
                  1e-5);

  // Training the outer model trains the inner one.
  V k0 = values(inner_dense->kernel());
  outer.compile({.optimizer = optim::Adam({.learning_rate = 0.05}), .loss = "mse"});
  Tensor y = randn({32, 2});
  Tensor xt = randn({32, 4});
  nn::History hist = outer.fit(xt, y, {.batch_size = 8, .epochs = 10, .verbose = 0});
  CHECK(values(inner_dense->kernel()) != k0);
  CHECK(hist["loss"].back() < hist["loss"].front());

  // Sequential inside Sequential.
  nn::Sequential block{nn::Dense(5, {.activation = "relu", .input_shape = {4}}), nn::Dense(3)};
  nn::Sequential top;
  top.add(block);
  top.add(nn::Dense(1));
  CHECK(top.predict(randn({2, 4})).shape() == Shape{2, 1});
  CHECK(top.count_params() == (4 * 5 + 5) + (5 * 3 + 3) + (3 + 1));
  // A functional model inside a Sequential.
  nn::Sequential wrap;
  wrap.add(inner);
  wrap.add(nn::Dense(2));
  CHECK(wrap.predict(randn({3, 4})).shape() == Shape{3, 2});
}

TEST_CASE("two-branch, multi-head and Inception-style models build and train",
          "[models][topologies]") {
  manual_seed(9);
  const int64_t n = 256;

  SECTION("two branches merged into one binary output") {
    nn::Symbol in = nn::Input({8});
    nn::Symbol b1 = nn::Dense(16, {.activation = "relu"})(in);
    nn::Symbol b2 = nn::Dense(16, {.activation = "tanh"})(in);
    nn::Symbol out = nn::Dense(1, {.activation = "sigmoid"})(concat_sym({b1, b2}));
    nn::Model m(in, out);
    Tensor x = randn({n, 8});
    Tensor y = gt(x.select(1, 0) + x.select(1, 1), 0.0).to(kFloat32).unsqueeze(1);
    m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
               .loss = "binary_crossentropy",
               .metrics = {"accuracy"}});
    nn::History h = m.fit(x, y, {.batch_size = 32, .epochs = 15, .verbose = 0, .seed = 3});
    CHECK(h["loss"].back() < 0.6 * h["loss"].front());
    CHECK(h["accuracy"].back() > 0.9);
  }

  SECTION("a trunk with two heads and loss weights") {
    nn::Symbol in = nn::Input({6});
    nn::Symbol trunk = nn::Dense(32, {.activation = "relu"})(in);
    nn::Symbol ra = nn::Dense(1, {.name = "sum_head"})(trunk);
    nn::Symbol rb = nn::Dense(3, {.activation = "softmax", .name = "class_head"})(trunk);
    nn::Model m({in}, {ra, rb});
    Tensor x = randn({n, 6});
    Tensor ya = sum(x, {1}, true);
    Tensor yb = nn::to_categorical(argmax(x.slice(1, 0, 3), 1), 3);
    m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
               .loss = {"mse", "categorical_crossentropy"},
               .loss_weights = {1.0, 0.5}});
    nn::History h = m.fit({x}, {ya, yb}, {.batch_size = 32, .epochs = 15, .verbose = 0, .seed = 4});
    CHECK(h["sum_head_loss"].back() < 0.2 * h["sum_head_loss"].front());
    CHECK(h["class_head_loss"].back() < 0.6 * h["class_head_loss"].front());
    for (size_t e = 0; e < h["loss"].size(); ++e)
      CHECK(h["loss"][e] ==
            Approx(h["sum_head_loss"][e] + 0.5 * h["class_head_loss"][e]).epsilon(1e-5));
  }

  SECTION("an Inception-style block of parallel branches, concatenated") {
    nn::Symbol in = nn::Input({8});
    nn::Symbol p1 = nn::Dense(8, {.activation = "relu"})(in);
    nn::Symbol p2 = nn::Dense(8, {.activation = "relu"})(nn::Dense(12, {.activation = "relu"})(in));
    nn::Symbol p3 = nn::Dense(4, {.activation = "tanh"})(in);
    nn::Symbol block = concat_sym({p1, p2, p3});
    CHECK(block.shape() == Shape{-1, 20});
    nn::Symbol out = nn::Dense(4, {.activation = "softmax"})(block);
    nn::Model m(in, out);
    CHECK(m.layers().size() == 6);
    CHECK(m.count_params() ==
          (8 * 8 + 8) + (8 * 12 + 12) + (12 * 8 + 8) + (8 * 4 + 4) + (20 * 4 + 4));
    Tensor x, labels;
    quadrants(n, 8, x, labels);
    m.compile({.optimizer = optim::Adam({.learning_rate = 0.02}),
               .loss = "sparse_categorical_crossentropy",
               .metrics = {"accuracy"}});
    nn::History h = m.fit(x, labels, {.batch_size = 32, .epochs = 25, .verbose = 0, .seed = 5});
    CHECK(h["loss"].back() < 0.5 * h["loss"].front());
    CHECK(h["accuracy"].back() > 0.85);
  }
}

TEST_CASE("a model refuses outputs that depend on inputs it was not given", "[models][errors]") {
  nn::Symbol a = nn::Input({2}, {.name = "given"}), b = nn::Input({2}, {.name = "forgotten"});
  nn::Symbol out = concat_sym({nn::Dense(2)(a), nn::Dense(2)(b)});
  const std::string msg = error_of<ValueError>([&] { nn::Model m(a, out); });
  CHECK_THAT(msg, Contains("depend on input 'forgotten'"));
  CHECK_THAT(error_of<ValueError>([&] { nn::Model m(a, b); }), Contains("'forgotten'"));
  CHECK_THAT(error_of<ValueError>(
                 [&] { nn::Model m(std::vector<nn::Symbol>{out}, std::vector<nn::Symbol>{out}); }),
             Contains("is not an nn::Input"));
  CHECK_THROWS_AS(nn::Model(std::vector<nn::Symbol>{}, std::vector<nn::Symbol>{out}), ValueError);
  // With both inputs it works.
  nn::Model ok({a, b}, {out});
  CHECK(ok.predict({zeros({1, 2}), zeros({1, 2})})[0].shape() == Shape{1, 4});
  // Training before compile is refused.
  CHECK_THAT(error_of<ValueError>([&] {
               ok.fit({zeros({1, 2}), zeros({1, 2})}, {zeros({1, 4})}, {.verbose = 0});
             }),
             Contains("compile"));
}

TEST_CASE("layer names must be unique within a model", "[models][errors]") {
  // Weights are saved and matched by layer name, so Keras refuses duplicates; so do we.
  nn::Sequential m;
  m.add(nn::Dense(4, {.input_shape = {4}, .name = "twin"}));
  CHECK_THAT(error_of<ValueError>([&] { m.add(nn::Dense(4, {.name = "twin"})); }),
             Contains("'twin'"));
  CHECK(m.layers().size() == 1);
  nn::Symbol in = nn::Input({4});
  nn::Symbol h = nn::Dense(4, {.name = "same"})(in);
  nn::Symbol out = nn::Dense(2, {.name = "same"})(h);
  CHECK_THAT(error_of<ValueError>([&] { nn::Model bad(in, out); }), Contains("'same'"));
  // Nested models may reuse the names of the outer model's layers (weights are prefixed).
  nn::Symbol ii = nn::Input({4});
  nn::Model inner(ii, nn::Dense(4, {.name = "shared_name"})(ii), "inner_for_names");
  nn::Symbol oi = nn::Input({4});
  nn::Model outer(oi, nn::Dense(2, {.name = "shared_name"})(inner(oi)));
  CHECK(outer.layers().size() == 2);
}

TEST_CASE("summary lists names, types, output shapes and parameter counts", "[models][summary]") {
  nn::Sequential model("summary_model");
  nn::Dense d1(32, {.activation = "relu", .input_shape = {784}});
  nn::Dense d2(10, {.activation = "softmax"});
  model.add(d1);
  model.add(d2);
  std::ostringstream os;
  model.summary(os);
  const std::string s = os.str();
  CHECK_THAT(s, Contains("summary_model"));
  CHECK_THAT(s, Contains("Layer (type)"));
  CHECK_THAT(s, Contains("Output Shape"));
  CHECK_THAT(s, Contains("Param #"));
  CHECK_THAT(s, Contains(d1->name() + " (Dense)"));
  CHECK_THAT(s, Contains(d2->name() + " (Dense)"));
  CHECK_THAT(s, Contains("(None, 32)"));
  CHECK_THAT(s, Contains("(None, 10)"));
  CHECK_THAT(s, Contains("Total params: 25450"));  // 784·32 + 32 + 32·10 + 10
  CHECK_THAT(s, Contains("Trainable params: 25450"));
  CHECK_THAT(s, Contains("Non-trainable params: 0"));
  // Each row holds its layer's shape and count.
  std::istringstream lines(s);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    if (line.find(d1->name() + " (Dense)") != std::string::npos) {
      ++rows;
      CHECK_THAT(line, Contains("(None, 32)"));
      CHECK_THAT(line, Contains("25120"));
    }
    if (line.find(d2->name() + " (Dense)") != std::string::npos) {
      ++rows;
      CHECK_THAT(line, Contains("(None, 10)"));
      CHECK_THAT(line, Contains("330"));
    }
  }
  CHECK(rows == 2);

  // Frozen layers count as non-trainable.
  d2->set_trainable(false);
  std::ostringstream os2;
  model.summary(os2);
  CHECK_THAT(os2.str(), Contains("Trainable params: 25120"));
  CHECK_THAT(os2.str(), Contains("Non-trainable params: 330"));

  // A functional model with Flatten and a higher-rank shape.
  nn::Symbol in = nn::Input({28, 28});
  nn::Flatten flat;
  nn::Dense dd(10);
  nn::Model fm(in, dd(flat(in)));
  std::ostringstream os3;
  fm.summary(os3);
  CHECK_THAT(os3.str(), Contains(flat->name() + " (Flatten)"));
  CHECK_THAT(os3.str(), Contains("(None, 784)"));
  CHECK_THAT(os3.str(), Contains("Total params: 7850"));
}
