// A user-written layer: a radial-basis-function layer subclassing nn::Layer, with weights made
// by add_weight in build() and the computation in call(). It is used in a Sequential model and
// in a functional model, trained with fit, and saved and loaded with nn::register_layer.
//   ./custom_layer [epochs]
//
// The task: points uniform in the square [-1, 1]², labelled 1 inside the ring
// 0.35 ≤ |p − (0.1, −0.1)| ≤ 0.75 and 0 elsewhere. A linear model cannot separate a ring;
// a few Gaussian bumps can. The checks: test accuracy ≥ 0.95 for both models, and the loaded
// model predicts exactly what the saved one did.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <tapegrad/tapegrad.hpp>

using namespace tg;

/// Options of RBF, in the style of the built-in layers.
struct RBFOptions {
  Shape input_shape = {};  ///< without the batch axis; empty: taken from the first input
  std::string name = "";
};

/// Gaussian radial basis functions: output j is exp(−γ_j · |x − c_j|²), with the centres
/// c (units, features) and log γ (units) learned.
class RBFLayer : public nn::Layer {
 public:
  RBFLayer(int64_t units, RBFOptions o = {}) : nn::Layer("RBF", o.name), units_(units) {
    if (units <= 0) throw ValueError("RBF: units must be positive, got " + std::to_string(units));
    if (!o.input_shape.empty()) set_declared_input_shape(o.input_shape.vec());
  }

  // Called once with the input shape (batch axis −1) before the first call.
  void build(const Shape& input_shape) override {
    const int64_t features = input_shape.back();
    centers_ =
        add_weight("centers", {units_, features}, nn::initializers::random_uniform(-1.0, 1.0));
    log_gamma_ = add_weight("log_gamma", {units_}, nn::initializers::constant(std::log(4.0)));
  }

  // x (batch, features) → (batch, units). Written with tensor ops: autograd does the backward.
  Tensor call(const Tensor& x, bool /*training*/) override {
    Tensor d2 = sum(square(x.unsqueeze(1) - centers_), {2});  // (batch, units)
    return exp(-(d2 * exp(log_gamma_)));
  }

  // The constructor arguments, so that load_model can rebuild the layer (the base class
  // writes name, trainable and input_shape).
  nn::Config config() const override {
    nn::Config c = nn::Layer::config();
    c.set("units", units_);
    return c;
  }

  // The inverse of config(), given to nn::register_layer.
  static std::shared_ptr<nn::Layer> from_config(const nn::Config& c) {
    RBFOptions o{.name = c.get<std::string>("name")};
    if (c.has("input_shape")) o.input_shape = Shape(c.get<std::vector<int64_t>>("input_shape"));
    return std::make_shared<RBFLayer>(c.get<int64_t>("units"), o);
  }

 private:
  int64_t units_;
  Tensor centers_, log_gamma_;
};

/// A handle like nn::Dense: cheap to copy, usable in Sequential::add and on symbolic tensors.
struct RBF : nn::LayerHandle<RBFLayer> {
  RBF(int64_t units, RBFOptions o = {})
      : LayerHandle(std::make_shared<RBFLayer>(units, std::move(o))) {}
};

std::pair<Tensor, Tensor> make_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(2 * n)), y(static_cast<size_t>(n));
  for (size_t i = 0; i < y.size(); ++i) {
    x[2 * i] = u(rng);
    x[2 * i + 1] = u(rng);
    const float r = std::hypot(x[2 * i] - 0.1f, x[2 * i + 1] + 0.1f);
    y[i] = (r >= 0.35f && r <= 0.75f) ? 1.0f : 0.0f;
  }
  return {tensor(x, {n, 2}), tensor(y, {n, 1})};
}

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 60;
  manual_seed(4);
  auto [x_train, y_train] = make_data(4000, 1);
  auto [x_test, y_test] = make_data(2000, 2);
  bool ok = true;

  // 1. In a Sequential model, like any built-in layer.
  nn::Sequential seq;
  seq.add(RBF(16, {.input_shape = {2}}));
  seq.add(nn::Dense(1, {.activation = "sigmoid"}));
  seq.summary();
  seq.compile({.optimizer = optim::Adam({.learning_rate = 0.02}),
               .loss = "binary_crossentropy",
               .metrics = {"accuracy"}});
  seq.fit(x_train, y_train, {.batch_size = 64, .epochs = epochs, .verbose = 0, .seed = 1});
  const double seq_acc = seq.evaluate(x_test, y_test, {.verbose = 0})["accuracy"];
  std::printf("Sequential with RBF: test accuracy %.4f\n", seq_acc);
  ok = ok && seq_acc >= 0.95;

  // 2. In a functional model: the RBF features next to the raw coordinates.
  nn::Symbol points = nn::Input({2}, {.name = "points"});
  nn::Symbol bumps = RBF(16, {.name = "bumps"})(points);
  nn::Symbol features = nn::Concatenate()({points, bumps});
  nn::Symbol inside = nn::Dense(1, {.activation = "sigmoid", .name = "inside"})(features);
  nn::Model model(points, inside, "ring");
  model.summary();
  model.compile({.optimizer = optim::Adam({.learning_rate = 0.02}),
                 .loss = "binary_crossentropy",
                 .metrics = {"accuracy"}});
  model.fit(x_train, y_train, {.batch_size = 64, .epochs = epochs, .verbose = 0, .seed = 1});
  const double fn_acc = model.evaluate(x_test, y_test, {.verbose = 0})["accuracy"];
  std::printf("functional with RBF: test accuracy %.4f\n", fn_acc);
  ok = ok && fn_acc >= 0.95;

  // 3. Saving and loading: register the type once, then load_model can rebuild it.
  nn::register_layer("RBF", RBFLayer::from_config);
  nn::save_model(model, "custom_layer_ring.tgm");
  nn::Model loaded = nn::load_model("custom_layer_ring.tgm");
  const double diff = max(abs(loaded.predict(x_test) - model.predict(x_test))).item<double>();
  std::printf("loaded model: layer '%s' has type %s; largest prediction difference %g\n",
              loaded.layers()[0]->name().c_str(), loaded.layers()[0]->type().c_str(), diff);
  ok = ok && diff == 0.0;
  // The file held the optimizer state: training resumes where it stopped.
  nn::History more =
      loaded.fit(x_train, y_train, {.batch_size = 64, .epochs = 1, .verbose = 0, .seed = 99});
  std::printf("one more epoch on the loaded model: loss %.4f, accuracy %.4f\n", more["loss"][0],
              more["accuracy"][0]);
  ok = ok && more["accuracy"][0] >= 0.95;

  // Weights alone, by layer name, into a model built again in code.
  nn::save_weights(seq, "custom_layer_seq.weights");
  nn::Sequential again;
  again.add(RBF(16, {.input_shape = {2}, .name = seq.layers()[0]->name()}));
  again.add(nn::Dense(1, {.activation = "sigmoid", .name = seq.layers()[1]->name()}));
  nn::load_weights(again, "custom_layer_seq.weights");
  const double diff2 = max(abs(again.predict(x_test) - seq.predict(x_test))).item<double>();
  std::printf("weights reloaded into a rebuilt Sequential: largest prediction difference %g\n",
              diff2);
  ok = ok && diff2 == 0.0;

  std::remove("custom_layer_ring.tgm");
  std::remove("custom_layer_seq.weights");
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
