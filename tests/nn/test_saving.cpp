// Saving: whole models (Sequential, functional, user layers) round trip and resume training
// identically; weights by name; damaged, missing and unwritable files fail cleanly; .npy files.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
using tg::test::error_of;
using tg::test::f32;
using V = std::vector<double>;
namespace fs = std::filesystem;
using tg::test::values;

fs::path temp_dir(const std::string& name) { return test::temp_dir("nn_saving", name); }

using tg::test::read_bytes;
using tg::test::write_bytes;

/// A user merge layer (joins inputs on the last axis), registered for load_model below.
struct ConcatMerge : nn::Layer {
  explicit ConcatMerge(std::string name = "") : Layer("TestConcatMerge", std::move(name)) {}
  std::vector<Tensor> call_multi(const std::vector<Tensor>& xs, bool) override {
    return {tg::concat(xs, -1)};
  }
};
/// A user layer with a weight and a constructor argument kept in its config.
struct Scale : nn::Layer {
  double init;
  Tensor s;
  explicit Scale(double i, std::string name = "") : Layer("TestScale", std::move(name)), init(i) {}
  void build(const Shape& in) override {
    s = add_weight("scale", {in.back()}, nn::initializers::constant(init));
  }
  Tensor call(const Tensor& x, bool) override { return x * s; }
  nn::Config config() const override {
    nn::Config c = Layer::config();
    c.set("init", init);
    return c;
  }
};
/// Never registered.
struct Unregistered : nn::Layer {
  Unregistered() : Layer("TestUnregistered") {}
  Tensor call(const Tensor& x, bool) override { return x; }
};

void register_test_layers() {
  nn::register_layer("TestConcatMerge", [](const nn::Config& c) {
    return std::make_shared<ConcatMerge>(c.get<std::string>("name"));
  });
  nn::register_layer("TestScale", [](const nn::Config& c) {
    return std::make_shared<Scale>(c.get<double>("init"), c.get<std::string>("name"));
  });
}

nn::Sequential small_sequential() {
  nn::Sequential m;
  m.add(nn::Dense(8, {.activation = "relu", .input_shape = {4}}));
  m.add(nn::Dense(3, {.activation = "softmax"}));
  return m;
}
}  // namespace

TEST_CASE("a Sequential model round trips and resumes training identically", "[saving][model]") {
  fs::path dir = temp_dir("seq");
  const std::string path = (dir / "seq.tg").string();
  manual_seed(70);
  Tensor x = randn({48, 4});
  Tensor y = argmax(x.slice(1, 0, 3), 1);
  nn::Sequential m = small_sequential();
  m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
  m.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0, .seed = 5});
  nn::save_model(m, path);
  const V before = values(m.predict(x));
  const int64_t iters = m->optimizer()->iterations();
  CHECK(iters == 6);

  // The uninterrupted run continues.
  const V continued = m.fit(
      x, y, {.batch_size = 16, .epochs = 5, .verbose = 0, .initial_epoch = 2, .seed = 5})["loss"];

  nn::Model loaded = nn::load_model(path);
  CHECK(loaded->type() == "Sequential");
  REQUIRE(loaded.layers().size() == 2);
  CHECK(loaded.layers()[0]->name() == m.layers()[0]->name());
  CHECK(loaded.layers()[1]->type() == "Dense");
  CHECK(loaded.count_params() == 4 * 8 + 8 + 8 * 3 + 3);
  CHECK(values(loaded.predict(x)) == before);
  // Compiled with the restored optimizer state: it resumes where the file left off.
  REQUIRE(loaded->compiled());
  CHECK(loaded->optimizer()->name() == "Adam");
  CHECK(loaded->optimizer()->iterations() == iters);
  CHECK(loaded->optimizer()->learning_rate() == Approx(0.01));
  const V resumed = loaded.fit(
      x, y, {.batch_size = 16, .epochs = 5, .verbose = 0, .initial_epoch = 2, .seed = 5})["loss"];
  REQUIRE(resumed.size() == 3);
  std::string msg = tg::test::compare_values(resumed, continued, 0, 1e-6);
  INFO(msg);
  CHECK(msg.empty());
  CHECK(values(loaded.predict(x)) == values(m.predict(x)));
  fs::remove_all(dir);
}

TEST_CASE("optimizer state follows its weights when layers were frozen or unfrozen",
          "[saving][model]") {
  // The optimizer numbers parameters in the order it first updated them; freezing or unfreezing
  // layers between steps makes that differ from trainable_weights() at save time.
  fs::path dir = temp_dir("freeze");
  manual_seed(74);
  Tensor x = randn({16, 4}), y = randn({16, 2});
  for (int scenario = 0; scenario < 2; ++scenario) {
    INFO((scenario == 0 ? "head first, then the base unfrozen"
                        : "everything, then the base frozen"));
    nn::Sequential m;
    nn::Dense base(8, {.activation = "tanh", .input_shape = {4}}), head(2);
    m.add(base);
    m.add(head);
    base->set_trainable(scenario == 1);
    m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}), .loss = "mse"});
    m.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .shuffle = false});
    base->set_trainable(scenario == 0);
    m.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .shuffle = false});
    const std::string path = (dir / ("m" + std::to_string(scenario) + ".tg")).string();
    nn::save_model(m, path);
    nn::Model loaded = nn::load_model(path);
    REQUIRE(loaded->compiled());
    CHECK(loaded->optimizer()->iterations() == 4);
    // Both continue identically.
    CHECK(loaded.layers()[0]->trainable() == (scenario == 0));  // the frozen flag is saved too
    CHECK(loaded.trainable_weights().size() == m.trainable_weights().size());
    const V a = m.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false})["loss"];
    const V b =
        loaded.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false})["loss"];
    std::string msg = tg::test::compare_values(b, a, 0, 1e-6);
    INFO(msg);
    CHECK(msg.empty());
  }
  fs::remove_all(dir);
}

TEST_CASE("reshaping, activation and dropout layers round trip their settings", "[saving][model]") {
  fs::path dir = temp_dir("layers");
  manual_seed(71);
  nn::Sequential m;
  m.add(nn::Reshape({3, 4}, {.input_shape = {12}}));
  m.add(nn::Permute({2, 1}));
  m.add(nn::Flatten());
  m.add(nn::Dense(5, {.kernel_initializer = "he_uniform"}));
  m.add(nn::Activation("tanh"));
  m.add(nn::Dropout(0.3, {.seed = 9}));
  m.add(nn::Dense(2, {.use_bias = false}));
  m.layers()[6]->set_trainable(false);
  nn::save_model(m, (dir / "m.tg").string());
  nn::Model loaded = nn::load_model((dir / "m.tg").string());
  REQUIRE(loaded.layers().size() == 7);
  for (size_t i = 0; i < 7; ++i) {
    CHECK(loaded.layers()[i]->type() == m.layers()[i]->type());
    CHECK(loaded.layers()[i]->name() == m.layers()[i]->name());
    CHECK(loaded.layers()[i]->config() == m.layers()[i]->config());
  }
  CHECK_FALSE(loaded.layers()[6]->trainable());
  CHECK(loaded.trainable_weights().size() == 2);
  Tensor x = randn({3, 12});
  CHECK(values(loaded.predict(x)) == values(m.predict(x)));
  // Not compiled when saved: not compiled when loaded.
  CHECK_FALSE(loaded->compiled());
  fs::remove_all(dir);
}

TEST_CASE("regularizers and explicit padding round trip and keep their effect", "[saving][model]") {
  fs::path dir = temp_dir("regularizers");
  manual_seed(73);
  nn::Sequential m;
  m.add(nn::Conv2D(3, {3, 3},
                   {.padding = tg::Padding({{1, 2}, {0, 1}}),
                    .kernel_regularizer = nn::regularizers::l1_l2(0.01, 0.02),
                    .bias_regularizer = nn::regularizers::l2(0.5),
                    .input_shape = {6, 5, 2}}));
  m.add(nn::MaxPooling2D({2, 2}, {.padding = tg::Padding({{0, 1}, {1, 0}})}));
  m.add(nn::Flatten());
  m.add(nn::Dense(2, {.kernel_regularizer = nn::regularizers::l1(0.03)}));
  m.compile({.optimizer = "sgd", .loss = "mse"});
  nn::save_model(m, (dir / "m.tg").string());
  nn::Model loaded = nn::load_model((dir / "m.tg").string());
  REQUIRE(loaded.layers().size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(loaded.layers()[i]->config() == m.layers()[i]->config());
  // Output shapes from the explicit pads: conv (6+3−3+1, 5+1−3+1) = (7, 4), pool of the padded
  // (8, 5) → (4, 2); 4·2·3 = 24 features.
  CHECK(loaded.layers()[0]->config().get<std::vector<int64_t>>("padding_pairs") ==
        std::vector<int64_t>{1, 2, 0, 1});
  Tensor x = randn({2, 6, 5, 2}), y = randn({2, 2});
  CHECK(loaded.predict(x).shape() == Shape{2, 2});
  CHECK(values(loaded.predict(x)) == values(m.predict(x)));
  // The loss includes the same penalties: mse plus Σ of the regularizers over the weights.
  const double penalty = 0.01 * sum(abs(m.layers()[0]->weights()[0]->value)).item<double>() +
                         0.02 * sum(square(m.layers()[0]->weights()[0]->value)).item<double>() +
                         0.5 * sum(square(m.layers()[0]->weights()[1]->value)).item<double>() +
                         0.03 * sum(abs(m.layers()[3]->weights()[0]->value)).item<double>();
  const double mse = mean(square(sub(m.predict(x), y))).item<double>();
  CHECK(m.test_on_batch(x, y)["loss"] == Approx(mse + penalty).epsilon(1e-5));
  CHECK(loaded.test_on_batch(x, y)["loss"] == Approx(mse + penalty).epsilon(1e-5));

  // A user-made regularizer is code, not data: save_model refuses it by name.
  nn::Sequential custom;
  custom.add(nn::Dense(
      2, {.kernel_regularizer = nn::Regularizer{[](const Tensor& w) { return sum(w); }, "mine"},
          .input_shape = {3}}));
  std::string err = error_of<IOError>([&] { nn::save_model(custom, (dir / "c.tg").string()); });
  CHECK_THAT(err, Contains("custom kernel_regularizer"));
  fs::remove_all(dir);
}

TEST_CASE("a functional multi-input, multi-output model with user layers round trips",
          "[saving][model]") {
  register_test_layers();
  fs::path dir = temp_dir("func");
  const std::string path = (dir / "func.tg").string();
  manual_seed(72);
  nn::Symbol a = nn::Input({3}, {.name = "in_a"}), b = nn::Input({2}, {.name = "in_b"});
  nn::LayerHandle<ConcatMerge> merge(std::make_shared<ConcatMerge>());
  nn::LayerHandle<Scale> scale(std::make_shared<Scale>(0.5));
  nn::Symbol h = merge(std::vector<nn::Symbol>{nn::Dense(6, {.activation = "relu"})(a),
                                               scale(nn::Dense(6, {.activation = "tanh"})(b))})[0];
  nn::Symbol reg = nn::Dense(1, {.name = "reg"})(h);
  nn::Symbol cls = nn::Dense(3, {.activation = "softmax", .name = "cls"})(h);
  nn::Model m({a, b}, {reg, cls});
  m.compile({.optimizer = optim::RMSprop({.learning_rate = 0.01, .momentum = 0.5}),
             .loss = {"mse", "sparse_categorical_crossentropy"},
             .metrics = {"accuracy"},
             .loss_weights = {1.0, 0.5}});
  Tensor xa = randn({40, 3}), xb = randn({40, 2});
  Tensor yr = sum(xa, {1}, true), yc = argmax(xa, 1);
  m.fit({xa, xb}, {yr, yc}, {.batch_size = 10, .epochs = 2, .verbose = 0, .seed = 3});
  nn::save_model(m, path);
  const std::vector<Tensor> before = m.predict({xa, xb});
  nn::History cont =
      m.fit({xa, xb}, {yr, yc},
            {.batch_size = 10, .epochs = 4, .verbose = 0, .initial_epoch = 2, .seed = 3});

  nn::Model loaded = nn::load_model(path);
  CHECK(loaded->inputs().size() == 2);
  CHECK(loaded->inputs()[0].name() == "in_a");
  CHECK(loaded->outputs().size() == 2);
  CHECK(loaded.count_params() == m.count_params());
  std::vector<Tensor> after = loaded.predict({xa, xb});
  REQUIRE(after.size() == 2);
  CHECK(values(after[0]) == values(before[0]));
  CHECK(values(after[1]) == values(before[1]));
  REQUIRE(loaded->compiled());
  CHECK(loaded->optimizer()->name() == "RMSprop");
  nn::History res =
      loaded.fit({xa, xb}, {yr, yc},
                 {.batch_size = 10, .epochs = 4, .verbose = 0, .initial_epoch = 2, .seed = 3});
  for (const char* k : {"loss", "reg_loss", "cls_loss", "cls_accuracy"}) {
    INFO(k);
    std::string msg = tg::test::compare_values(res[k], cont[k], 1e-7, 1e-5);
    INFO(msg);
    CHECK(msg.empty());
  }

  // A model with a user loss function is rebuilt but left uncompiled (a file cannot hold code).
  m.compile({.optimizer = "sgd",
             .loss = [](const Tensor& t, const Tensor& p) { return mean(square(p - t), {-1}); }});
  nn::save_model(m, (dir / "user_loss.tg").string());
  nn::Model uncompiled = nn::load_model((dir / "user_loss.tg").string());
  CHECK_FALSE(uncompiled->compiled());
  CHECK(values(uncompiled.predict({xa, xb})[0]) == values(m.predict({xa, xb})[0]));

  // A layer type nobody registered cannot be rebuilt: the error names it.
  nn::Symbol u = nn::Input({2});
  nn::Model with_unknown(u, nn::LayerHandle<Unregistered>(std::make_shared<Unregistered>())(u));
  nn::save_model(with_unknown, (dir / "unknown.tg").string());
  CHECK_THAT(error_of<IOError>([&] { nn::load_model((dir / "unknown.tg").string()); }),
             Contains("TestUnregistered"));
  fs::remove_all(dir);
}

TEST_CASE("nested models and shared layers round trip", "[saving][model]") {
  fs::path dir = temp_dir("nested");
  manual_seed(75);
  nn::Symbol ii = nn::Input({4});
  nn::Model inner(ii, nn::Dense(3, {.activation = "tanh"})(ii), "inner_block");
  nn::Sequential seq_inner{nn::Dense(5, {.activation = "relu", .input_shape = {3}}), nn::Dense(3)};
  nn::Symbol a = nn::Input({4}), b = nn::Input({4});
  nn::Dense shared(3);
  nn::Model outer({a, b}, {seq_inner(inner(a)), shared(b), shared(a)});
  CHECK(outer.count_params() == (4 * 3 + 3) + (3 * 5 + 5 + 5 * 3 + 3) + (4 * 3 + 3));
  outer.compile({.optimizer = "adam", .loss = "mse"});
  Tensor xa = randn({6, 4}), xb = randn({6, 4});
  std::vector<Tensor> ys{randn({6, 3}), randn({6, 3}), randn({6, 3})};
  outer.fit({xa, xb}, ys, {.epochs = 2, .verbose = 0});
  nn::save_model(outer, (dir / "nested.tg").string());
  nn::Model loaded = nn::load_model((dir / "nested.tg").string());
  CHECK(loaded.count_params() == outer.count_params());  // the shared layer is stored once
  CHECK(loaded.layers().size() == 3);
  CHECK(loaded.layers()[0]->type() == "Functional");
  CHECK(loaded.layers()[1]->type() == "Sequential");
  auto p1 = outer.predict({xa, xb}), p2 = loaded.predict({xa, xb});
  for (int i = 0; i < 3; ++i) CHECK(values(p1[i]) == values(p2[i]));
  const V h1 = outer.fit({xa, xb}, ys, {.epochs = 2, .verbose = 0, .shuffle = false})["loss"];
  const V h2 = loaded.fit({xa, xb}, ys, {.epochs = 2, .verbose = 0, .shuffle = false})["loss"];
  std::string msg = tg::test::compare_values(h2, h1, 0, 1e-6);
  INFO(msg);
  CHECK(msg.empty());
  // Weights of nested layers are stored under their path.
  nn::save_weights(outer, (dir / "w.tg").string());
  nn::load_weights(loaded, (dir / "w.tg").string());
  CHECK(values(loaded.predict({xa, xb})[0]) == values(outer.predict({xa, xb})[0]));
  fs::remove_all(dir);
}

TEST_CASE("save_weights and load_weights match weights by layer name", "[saving][weights]") {
  fs::path dir = temp_dir("weights");
  const std::string path = (dir / "w.tg").string();
  auto build = [](int64_t hidden, const char* second = "dec") {
    nn::Sequential m;
    m.add(nn::Dense(hidden, {.activation = "relu", .input_shape = {3}, .name = "enc"}));
    m.add(nn::Dense(2, {.name = second}));
    return m;
  };
  manual_seed(1);
  nn::Sequential a = build(4);
  manual_seed(2);
  nn::Sequential b = build(4);
  Tensor x = randn({5, 3});
  REQUIRE(values(a.predict(x)) != values(b.predict(x)));
  nn::save_weights(a, path);
  nn::load_weights(b, path);
  CHECK(values(b.predict(x)) == values(a.predict(x)));

  // A functional model with the same layer names loads them too.
  nn::Symbol in = nn::Input({3});
  nn::Dense enc(4, {.activation = "relu", .name = "enc"}), dec(2, {.name = "dec"});
  nn::Model c(in, dec(enc(in)));
  nn::load_weights(c, path);
  CHECK(values(c.predict(x)) == values(a.predict(x)));

  // A different name is reported; a different shape is a ShapeError and changes nothing.
  nn::Sequential other = build(4, "head");
  const V other_before = values(other.predict(x));
  CHECK_THAT(error_of<IOError>([&] { nn::load_weights(other, path); }),
             Contains("has no weight 'head/kernel'"));
  CHECK(values(other.predict(x)) == other_before);
  nn::Sequential wide = build(5);
  std::vector<V> wide_before;
  for (nn::Weight* w : wide->weights()) wide_before.push_back(values(w->value));
  const std::string msg = error_of<ShapeError>([&] { nn::load_weights(wide, path); });
  CHECK_THAT(msg, Contains("enc/kernel"));
  CHECK_THAT(msg, Contains("[3, 4]"));
  CHECK_THAT(msg, Contains("[3, 5]"));
  auto ws = wide->weights();
  for (size_t i = 0; i < ws.size(); ++i) CHECK(values(ws[i]->value) == wide_before[i]);
  // An unbuilt model has no weights to fill.
  nn::Sequential lazy;
  lazy.add(nn::Dense(4, {.name = "enc"}));
  lazy.add(nn::Dense(2, {.name = "dec"}));
  CHECK_THROWS_AS(nn::load_weights(lazy, path), IOError);
  // Weights files are not models, and model files hold the weights under the same names.
  CHECK_THAT(error_of<IOError>([&] { nn::load_model(path); }), Contains("load_weights"));
  nn::save_model(a, (dir / "model.tg").string());
  nn::load_weights(b, (dir / "model.tg").string());
  CHECK(values(b.predict(x)) == values(a.predict(x)));
  fs::remove_all(dir);
}

TEST_CASE("damaged, truncated, foreign and missing files raise IOError", "[saving][errors]") {
  fs::path dir = temp_dir("damaged");
  nn::Sequential m = small_sequential();
  m.compile({.optimizer = "adam", .loss = "mse"});
  const fs::path good = dir / "good.tg";
  nn::save_model(m, good.string());
  const std::string bytes = read_bytes(good);
  REQUIRE(bytes.size() > 200);
  CHECK(bytes.compare(0, 7, "TGMODEL") == 0);
  auto load_error = [&](const std::string& content) {
    const fs::path p = dir / "bad.tg";
    write_bytes(p, content);
    std::string model_msg = error_of<IOError>([&] { nn::load_model(p.string()); });
    std::string weights_msg = error_of<IOError>([&] { nn::load_weights(m, p.string()); });
    CHECK(model_msg != "<no exception>");
    CHECK(weights_msg != "<no exception>");
    CHECK_THAT(model_msg, Contains("bad.tg"));  // the message names the file
    return model_msg;
  };
  // A flipped byte anywhere: in the header, in the data, in the checksum.
  for (size_t at : {size_t{20}, bytes.size() / 2, bytes.size() - 30, bytes.size() - 1}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x5A);
    INFO("byte " << at);
    CHECK_THAT(load_error(flipped), Contains("corrupt"));
  }
  CHECK_THAT(load_error(bytes.substr(0, bytes.size() / 2)), Contains("truncated"));
  CHECK_THAT(load_error(bytes.substr(0, bytes.size() - 1)), Contains("truncated"));
  CHECK_THAT(load_error(bytes.substr(0, 10)), Contains("too short"));
  CHECK_THAT(load_error(""), Contains("too short"));
  std::string foreign = bytes;
  foreign[0] = 'X';
  CHECK_THAT(load_error(foreign), Contains("not a tapegrad model file"));
  CHECK_THAT(load_error("\x93NUMPY this is some other format"),
             Contains("not a tapegrad model file"));
  CHECK_THAT(error_of<IOError>([&] { nn::load_model((dir / "missing.tg").string()); }),
             Contains("cannot open"));
  CHECK_THAT(error_of<IOError>([&] { nn::load_weights(m, (dir / "missing.tg").string()); }),
             Contains("missing.tg"));
  // The model that failed to load weights is untouched and the good file still loads.
  CHECK(nn::load_model(good.string()).count_params() == m.count_params());
  fs::remove_all(dir);
}

TEST_CASE("a failed save leaves the previous file intact", "[saving][atomic]") {
  fs::path dir = temp_dir("atomic");
  const fs::path path = dir / "model.tg";
  manual_seed(73);
  nn::Sequential m = small_sequential();
  m.compile({.optimizer = "sgd", .loss = "mse"});
  nn::save_model(m, path.string());
  const std::string original = read_bytes(path);
  Tensor x = randn({4, 4});
  const V original_pred = values(m.predict(x));
  m.train_on_batch(x, zeros({4, 3}));
  REQUIRE(values(m.predict(x)) != original_pred);

  // A target the rename cannot replace (a non-empty folder of that name): the save fails after
  // writing its temporary file, removes it and leaves the folder as it was.
  const fs::path folder = dir / "taken.tg";
  fs::create_directories(folder / "sub");
  CHECK_THAT(error_of<IOError>([&] { nn::save_model(m, folder.string()); }),
             Contains("save_model") && Contains("taken.tg") && Contains("rename"));
  CHECK_THROWS_AS(nn::save_weights(m, folder.string()), IOError);
  CHECK(fs::is_directory(folder / "sub"));
  fs::remove_all(folder);
  CHECK(read_bytes(path) == original);
  CHECK(values(nn::load_model(path.string()).predict(x)) == original_pred);
  // Once possible, the save replaces the file and leaves no temporary behind.
  nn::save_model(m, path.string());
  CHECK(read_bytes(path) != original);
  CHECK(values(nn::load_model(path.string()).predict(x)) == values(m.predict(x)));
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir)) entries += e.path() != path;
  CHECK(entries == 0);

  // A folder that does not exist: IOError, nothing created.
  const fs::path nowhere = dir / "no_such_dir" / "model.tg";
  CHECK_THROWS_AS(nn::save_model(m, nowhere.string()), IOError);
  CHECK_THROWS_AS(nn::save_weights(m, nowhere.string()), IOError);
  CHECK_THROWS_AS(nn::save_npy(nowhere.string(), x), IOError);
  CHECK_FALSE(fs::exists(dir / "no_such_dir"));
  fs::remove_all(dir);
}

TEST_CASE(".npy files round trip every dtype", "[saving][npy]") {
  fs::path dir = temp_dir("npy");
  const std::string p = (dir / "t.npy").string();
  auto round_trip = [&](const Tensor& t, const std::string& descr, const std::string& shape) {
    nn::save_npy(p, t);
    const std::string b = read_bytes(p);
    REQUIRE(b.size() > 10);
    CHECK(b.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
    const size_t hlen = static_cast<unsigned char>(b[8]) |
                        (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    CHECK((10 + hlen) % 64 == 0);  // the data starts aligned
    const std::string header = b.substr(10, hlen);
    CHECK_THAT(header, Contains("'descr': '" + descr + "'"));
    CHECK_THAT(header, Contains("'fortran_order': False"));
    CHECK_THAT(header, Contains("'shape': " + shape));
    CHECK(header.back() == '\n');
    CHECK(b.size() == 10 + hlen + static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
    Tensor back = nn::load_npy(p);
    CHECK(back.dtype() == t.dtype());
    CHECK(back.shape() == t.shape());
    CHECK(values(back) == values(t));
  };
  round_trip(f32({1.5, -2.25, 0, 3e-8, 1e30, -7}, {2, 3}), "<f4", "(2, 3)");
  round_trip(tensor(std::vector<double>{M_PI, -1e-300, 2.5}), "<f8", "(3,)");
  round_trip(tensor(std::vector<int32_t>{-5, 0, 7, 2147483647}, {2, 2}), "<i4", "(2, 2)");
  round_trip(tensor(std::vector<int64_t>{int64_t{1} << 40, -3, 0, 9, 10, 11, 12, 13}, {2, 2, 2}),
             "<i8", "(2, 2, 2)");
  round_trip(tensor(std::vector<bool>{true, false, true}), "|b1", "(3,)");
  round_trip(scalar_tensor(4.5, {.dtype = kFloat64}), "<f8", "()");
  // A non-contiguous view is written in logical order.
  Tensor base = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  nn::save_npy(p, base.t());
  CHECK(values(nn::load_npy(p)) == V{1, 4, 2, 5, 3, 6});
  fs::remove_all(dir);
}

TEST_CASE(".npy files written by hand are read", "[saving][npy]") {
  fs::path dir = temp_dir("npy_hand");
  const std::string p = (dir / "h.npy").string();
  // A version 1.0 file: magic, version, little-endian header length, the header dict, data.
  auto npy = [](const std::string& dict, const std::string& data, int version = 1) {
    std::string h = dict;
    const size_t prefix = version == 1 ? 10 : 12;
    while ((prefix + h.size() + 1) % 16) h += ' ';
    h += '\n';
    std::string out("\x93NUMPY", 6);
    out += static_cast<char>(version);
    out += '\0';
    out += static_cast<char>(h.size() & 0xff);
    out += static_cast<char>((h.size() >> 8) & 0xff);
    if (version != 1) out += std::string(2, '\0');
    return out + h + data;
  };
  auto le = [](auto v) {
    std::string s(sizeof v, '\0');
    std::memcpy(s.data(), &v, sizeof v);
    return s;
  };
  std::string i4;
  for (int32_t v = 1; v <= 6; ++v) i4 += le(v);
  write_bytes(p, npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", i4));
  Tensor t = nn::load_npy(p);
  CHECK(t.dtype() == kInt32);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(values(t) == V{1, 2, 3, 4, 5, 6});

  // Fortran order: the data is column-major.
  std::string f8;
  for (double v : {1.0, 4.0, 2.0, 5.0, 3.0, 6.0}) f8 += le(v);
  write_bytes(p, npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", f8));
  Tensor f = nn::load_npy(p);
  CHECK(f.dtype() == kFloat64);
  CHECK(values(f) == V{1, 2, 3, 4, 5, 6});

  // Version 2.0 (four-byte header length), a scalar.
  write_bytes(p,
              npy("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", le(int64_t{-42}), 2));
  Tensor s = nn::load_npy(p);
  CHECK(s.dim() == 0);
  CHECK(s.item<int64_t>() == -42);
  // Booleans.
  write_bytes(p, npy("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }",
                     std::string("\x01\x00\x00\x01", 4)));
  CHECK(values(nn::load_npy(p)) == V{1, 0, 0, 1});

  // What cannot be read is an IOError naming the problem.
  write_bytes(p, npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", le(1.0f)));
  CHECK_THAT(error_of<IOError>([&] { nn::load_npy(p); }), Contains(">f4"));
  write_bytes(p,
              npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", i4.substr(0, 10)));
  CHECK_THAT(error_of<IOError>([&] { nn::load_npy(p); }), Contains("truncated"));
  write_bytes(p, "not a numpy file at all");
  CHECK_THAT(error_of<IOError>([&] { nn::load_npy(p); }), Contains("not a .npy file"));
  write_bytes(p,
              npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", i4).substr(0, 30));
  CHECK_THROWS_AS(nn::load_npy(p), IOError);
  CHECK_THROWS_AS(nn::load_npy((dir / "missing.npy").string()), IOError);
  fs::remove_all(dir);
}
