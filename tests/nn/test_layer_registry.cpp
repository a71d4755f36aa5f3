// The layer and optimizer registries: user layers, wrappers and optimizers registered with the
// public registrars round trip through save_model / load_model; unknown types name themselves.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
using tg::test::error_of;
using tg::test::f32;
using tg::test::set_values;
using tg::test::values;
namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) { return test::temp_dir("nn_registry", name); }

/// y = factor·x + offset: a constructor argument kept in the config and a weight per feature.
struct AffineScale : nn::Layer {
  double factor;
  Tensor offset;
  explicit AffineScale(double f, std::string name = "")
      : Layer("TestAffineScale", std::move(name)), factor(f) {}
  void build(const Shape& in) override {
    offset = add_weight("offset", {in.back()}, nn::initializers::zeros());
  }
  Tensor call(const Tensor& x, bool) override { return add(mul(x, factor), offset); }
  nn::Config config() const override {
    nn::Config c = Layer::config();
    c.set("factor", factor);
    return c;
  }
};
TG_REGISTER_LAYER("TestAffineScale", [](const nn::Config& c) {
  return std::make_shared<AffineScale>(c.get<double>("factor"), c.get<std::string>("name"));
});

/// y = x + inner(x): a user wrapper, rebuilt from its config and the layer it wraps.
struct Residual : nn::Layer {
  std::shared_ptr<nn::Layer> inner;
  explicit Residual(std::shared_ptr<nn::Layer> l, std::string name = "")
      : Layer("TestResidual", std::move(name)), inner(std::move(l)) {}
  Tensor call(const Tensor& x, bool training) override { return add(x, (*inner)(x, training)); }
  std::vector<std::shared_ptr<nn::Layer>> sublayers() const override { return {inner}; }
  std::vector<std::shared_ptr<nn::Layer>> wrapped_layers() const override { return {inner}; }
};
TG_REGISTER_LAYER("TestResidual",
                  [](const nn::Config& c, std::vector<std::shared_ptr<nn::Layer>> wrapped) {
                    return std::make_shared<Residual>(wrapped.at(0), c.get<std::string>("name"));
                  });

/// p ← p − lr·g, registered under its own name.
struct PlainSGD : optim::Optimizer {
  explicit PlainSGD(double lr) : Optimizer("TestPlainSGD", common(lr)) {}
  static optim::Common common(double lr) {
    optim::Common c;
    c.learning_rate = lr;
    return c;
  }
  std::shared_ptr<optim::Optimizer> clone() const override {
    return std::make_shared<PlainSGD>(learning_rate());
  }

 protected:
  void update(size_t, Tensor& p, const Tensor& g, double lr) override { p.sub_(mul(g, lr)); }
};
TG_REGISTER_OPTIMIZER("TestPlainSGD", [](const nn::Config& c) {
  return std::make_shared<PlainSGD>(c.get<double>("learning_rate"));
});

using tg::test::read_bytes;
using tg::test::write_bytes;
/// Rewrites the trailing checksum of a model file (FNV-1a 64 over everything before it, as
/// docs/saving.md describes), so that an edited file is read as written.
void fix_checksum(std::string& bytes) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i + 8 < bytes.size(); ++i) {
    h ^= static_cast<unsigned char>(bytes[i]);
    h *= 1099511628211ull;
  }
  for (int i = 0; i < 8; ++i)
    bytes[bytes.size() - 8 + i] = static_cast<char>((h >> (8 * i)) & 0xff);
}

/// Input(3) → Dense(2, kernel ones, no bias) → AffineScale(3, offset [0.5, −1]).
nn::Model affine_model() {
  nn::Symbol in = nn::Input({3});
  nn::Symbol h = nn::Dense(2, {.use_bias = false, .kernel_initializer = "ones"})(in);
  nn::LayerHandle<AffineScale> scale(std::make_shared<AffineScale>(3.0, "scaler"));
  nn::Model m(in, scale(h));
  set_values(scale->offset, {0.5, -1.0});
  return m;
}
}  // namespace

TEST_CASE("a user layer registered with TG_REGISTER_LAYER round trips", "[registry][saving]") {
  fs::path dir = temp_dir("user");
  CHECK(nn::layer_registered("TestAffineScale"));
  const auto types = nn::registered_layers();
  for (const char* t : {"Dense", "Conv2D", "LSTM", "Bidirectional", "TimeDistributed", "Add",
                        "Sequential", "Functional", "TestAffineScale", "TestResidual"}) {
    INFO(t);
    CHECK(std::find(types.begin(), types.end(), t) != types.end());
  }
  nn::Model m = affine_model();
  const Tensor x = f32({1, 2, 3, -1, 0, 1}, {2, 3});
  // Dense sums the features: 6 and 0; ·3 and + offset: [18.5, 17] and [0.5, −1].
  const std::vector<double> want{18.5, 17.0, 0.5, -1.0};
  CHECK(values(m.predict(x)) == want);
  nn::save_model(m, (dir / "affine.tg").string());
  nn::Model loaded = nn::load_model((dir / "affine.tg").string());
  CHECK(values(loaded.predict(x)) == want);
  REQUIRE(loaded.layers().size() == 2);
  CHECK(loaded.layers()[1]->type() == "TestAffineScale");
  CHECK(loaded.layers()[1]->name() == "scaler");
  CHECK(loaded.layers()[1]->config().get<double>("factor") == 3.0);
  fs::remove_all(dir);
}

TEST_CASE("wrappers round trip through wrapped_layers, a model inside one too",
          "[registry][saving]") {
  fs::path dir = temp_dir("wrappers");
  manual_seed(91);
  nn::Sequential inner_block{nn::Dense(4, {.activation = "tanh", .input_shape = {6}}),
                             nn::Dense(2)};
  nn::Sequential m{
      nn::Bidirectional(nn::LSTM(3, {.return_sequences = true, .input_shape = {5, 2}})),
      nn::TimeDistributed(inner_block),
      nn::LayerHandle<Residual>(std::make_shared<Residual>(nn::Dense(2).ptr(), "res"))};
  m.compile({.optimizer = "adam", .loss = "mse"});
  const Tensor x = randn({4, 5, 2}), y = randn({4, 5, 2});
  m.fit(x, y, {.epochs = 2, .verbose = 0});
  nn::save_model(m, (dir / "wrappers.tg").string());
  nn::Model loaded = nn::load_model((dir / "wrappers.tg").string());
  REQUIRE(loaded.layers().size() == 3);
  CHECK(loaded.layers()[0]->type() == "Bidirectional");
  REQUIRE(loaded.layers()[0]->wrapped_layers().size() == 1);
  CHECK(loaded.layers()[0]->wrapped_layers()[0]->type() == "LSTM");
  CHECK(loaded.layers()[1]->type() == "TimeDistributed");
  CHECK(loaded.layers()[1]->wrapped_layers()[0]->type() == "Sequential");
  CHECK(loaded.layers()[2]->type() == "TestResidual");
  CHECK(loaded.layers()[2]->wrapped_layers()[0]->type() == "Dense");
  CHECK(loaded.count_params() == m.count_params());
  CHECK(values(loaded.predict(x)) == values(m.predict(x)));
  // Training resumes identically (same optimizer state).
  const auto h1 = m.fit(x, y, {.epochs = 1, .verbose = 0, .shuffle = false})["loss"];
  const auto h2 = loaded.fit(x, y, {.epochs = 1, .verbose = 0, .shuffle = false})["loss"];
  CHECK(h2[0] == Approx(h1[0]).epsilon(1e-6));
  fs::remove_all(dir);
}

TEST_CASE("a layer type nobody registered makes load_model name it", "[registry][errors]") {
  fs::path dir = temp_dir("unknown");
  nn::save_model(affine_model(), (dir / "a.tg").string());
  std::string bytes = read_bytes(dir / "a.tg");
  const std::string from = "\"TestAffineScale\"", to = "\"TestAffineScalX\"";
  const size_t at = bytes.find(from);
  REQUIRE(at != std::string::npos);
  bytes.replace(at, from.size(), to);
  fix_checksum(bytes);
  write_bytes(dir / "b.tg", bytes);
  const std::string msg = error_of<IOError>([&] { nn::load_model((dir / "b.tg").string()); });
  CHECK_THAT(msg, Contains("TestAffineScalX") && Contains("scaler") && Contains("register_layer"));
  // Without the edit the file loads (so the edit, not the checksum, caused the error).
  CHECK_NOTHROW(nn::load_model((dir / "a.tg").string()));
  fs::remove_all(dir);
}

TEST_CASE("a user optimizer registered with TG_REGISTER_OPTIMIZER is restored by load_model",
          "[registry][optimizer]") {
  fs::path dir = temp_dir("optimizer");
  CHECK(optim::optimizer_registered("TestPlainSGD"));
  CHECK(optim::optimizer_registered("Adam"));
  nn::Sequential m{
      nn::Dense(1, {.use_bias = false, .kernel_initializer = "ones", .input_shape = {1}})};
  m.compile({.optimizer = PlainSGD(0.1), .loss = "mse"});
  const Tensor x = f32({1, 2}, {2, 1}), y = f32({0, 0}, {2, 1});
  // mse 2.5w², gradient 5w: w = 1 → 0.5.
  m.train_on_batch(x, y);
  CHECK(values(m.trainable_weights()[0])[0] == Approx(0.5));
  nn::save_model(m, (dir / "m.tg").string());
  nn::Model loaded = nn::load_model((dir / "m.tg").string());
  REQUIRE(loaded->compiled());
  CHECK(loaded->optimizer()->name() == "TestPlainSGD");
  CHECK(loaded->optimizer()->learning_rate() == Approx(0.1));
  CHECK(loaded->optimizer()->iterations() == 1);
  loaded.train_on_batch(x, y);  // w = 0.5 → 0.5 − 0.1·2.5 = 0.25
  CHECK(values(loaded.trainable_weights()[0])[0] == Approx(0.25));

  nn::Config unknown;
  unknown.set("name", std::string("NoSuchOptimizer"));
  CHECK_THAT(error_of<IOError>([&] { optim::from_config(unknown); }), Contains("NoSuchOptimizer"));
  fs::remove_all(dir);
}

TG_REGISTER_OPTIMIZER("TestDefaultSGD", [](const nn::Config& c) {
  return std::make_shared<PlainSGD>(c.get_or<double>("learning_rate", 0.25));
});

TEST_CASE("optim::get builds any registered optimizer by name with its defaults",
          "[registry][optimizer]") {
  // Keras 3 defaults, by case-insensitive name.
  auto setting = [](const std::string& name, const std::string& key) {
    return optim::get(name)->config().get<double>(key);
  };
  CHECK(optim::get("RMSprop")->name() == "RMSprop");
  CHECK(setting("rmsprop", "learning_rate") == Approx(0.001));
  CHECK(setting("rmsprop", "rho") == Approx(0.9));
  CHECK(setting("RMSPROP", "epsilon") == Approx(1e-7));
  CHECK(setting("sgd", "learning_rate") == Approx(0.01));  // SGD's own default
  CHECK(setting("adamw", "weight_decay") == Approx(0.004));
  CHECK(setting("adam", "beta_2") == Approx(0.999));
  CHECK(setting("adagrad", "initial_accumulator_value") == Approx(0.1));
  CHECK(setting("adadelta", "rho") == Approx(0.95));
  CHECK(optim::get("nadam")->name() == "Nadam");
  CHECK(optim::get("adamax")->name() == "Adamax");
  // A user optimizer registered with TG_REGISTER_OPTIMIZER, found the same way.
  auto user = optim::get("testdefaultsgd");
  CHECK(user->name() == "TestPlainSGD");
  CHECK(user->learning_rate() == Approx(0.25));
  CHECK_THAT(error_of<ValueError>([] { optim::get("no_such_optimizer"); }),
             Contains("no_such_optimizer"));
  // A saved config that leaves settings out gets the defaults for them.
  nn::Config partial;
  partial.set("name", std::string("Adam"));
  partial.set("beta_1", 0.5);
  auto adam = optim::from_config(partial);
  CHECK(adam->config().get<double>("beta_1") == Approx(0.5));
  CHECK(adam->config().get<double>("epsilon") == Approx(1e-7));
  CHECK(adam->learning_rate() == Approx(0.001));
}
