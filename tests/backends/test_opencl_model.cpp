// Whole models on an OpenCL device: the default device, model.to(device) with optimizer state,
// and the same training losses as on the CPU. Part of test_backends_opencl (skipped without a
// device by the executable's start-up check).
#include <algorithm>

#include "test_util.hpp"

using namespace tg;

namespace {
constexpr Device kDev = Device::opencl(0);

nn::Sequential make_mlp() {
  manual_seed(123);
  nn::Sequential m;
  m.add(nn::Dense(16, {.activation = "tanh", .input_shape = {6}}));
  m.add(nn::Dense(3, {.activation = "softmax"}));
  m.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
  return m;
}

/// Restores the CPU as default device when a test ends.
struct DefaultDeviceGuard {
  ~DefaultDeviceGuard() { set_default_device(Device::cpu()); }
};
}  // namespace

TEST_CASE("set_default_device places new tensors and layers on the device", "[opencl][model]") {
  DefaultDeviceGuard guard;
  set_default_device(kDev);
  CHECK(default_device() == kDev);
  CHECK(zeros({2, 3}).device() == kDev);
  CHECK(tensor({1.f, 2.f}).device() == kDev);
  nn::Dense d(4);
  Tensor y = d(ones({2, 3}));
  CHECK(y.device() == kDev);
  CHECK(d->kernel().device() == kDev);
  set_default_device(Device::cpu());
  CHECK(zeros({1}).device() == Device::cpu());
}

TEST_CASE("model.to(device) trains with the same losses as on the CPU, optimizer state included",
          "[opencl][model]") {
  nn::Sequential cpu_model = make_mlp(), dev_model = make_mlp();
  manual_seed(9);
  Tensor x = randn({32, 6});
  Tensor y = cast(mul(rand({32}), 3.0), kInt64);
  dev_model.to(kDev);
  for (const Tensor& w : dev_model.trainable_weights()) CHECK(w.device() == kDev);
  Tensor xd = x.to(kDev), yd = y.to(kDev);
  for (int step = 0; step < 5; ++step) {
    double lc = cpu_model.train_on_batch(x, y)["loss"];
    double ld = dev_model.train_on_batch(xd, yd)["loss"];
    INFO("step " << step);
    CHECK(ld == Approx(lc).epsilon(1e-4));
  }
  // Back to the CPU mid-training: Adam's moments come along and the runs stay together.
  dev_model.to(Device::cpu());
  for (int step = 0; step < 3; ++step) {
    double lc = cpu_model.train_on_batch(x, y)["loss"];
    double ld = dev_model.train_on_batch(x, y)["loss"];
    CHECK(ld == Approx(lc).epsilon(1e-4));
  }
}

TEST_CASE("a model on the device rejects CPU inputs naming both devices", "[opencl][model]") {
  nn::Sequential m = make_mlp();
  m.to(kDev);
  REQUIRE_THROWS_AS(m.predict(ones({2, 6})), DeviceError);
  REQUIRE_THROWS_WITH(m.predict(ones({2, 6})),
                      Catch::Contains("cpu") && Catch::Contains("opencl:0"));
}

TEST_CASE("fit, evaluate and predict on device-resident data, TG_DEVICE unset",
          "[opencl][model][fit]") {
  // Data and model on the device; the default device stays the CPU, so every tensor the
  // library makes for the data (shuffle order, validation slices, class weights) must follow
  // the data. The same run on the CPU gives the same losses.
  REQUIRE(default_device() == Device::cpu());
  manual_seed(9);
  Tensor x = randn({50, 6});
  Tensor y = cast(mul(rand({50}), 3.0), kInt64);
  Tensor sw = add(rand({50}), 0.5);
  nn::Sequential cpu_model = make_mlp(), dev_model = make_mlp();
  dev_model.to(kDev);
  const nn::FitOptions fo{.batch_size = 8,
                          .epochs = 3,
                          .verbose = 0,
                          .validation_split = 0.2,
                          .shuffle = true,
                          .class_weight = {{0, 2.0}, {2, 0.5}},
                          .sample_weight = sw,
                          .seed = 4};
  nn::History hc = cpu_model.fit(x, y, fo);
  nn::FitOptions fd = fo;
  fd.sample_weight = sw.to(kDev);
  nn::History hd = dev_model.fit(x.to(kDev), y.to(kDev), fd);
  for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"}) {
    INFO(key);
    REQUIRE(hd[key].size() == 3);
    for (size_t e = 0; e < 3; ++e) CHECK(hd[key][e] == Approx(hc[key][e]).epsilon(1e-4));
  }
  // Training moved the weights on the device, where they stay.
  for (const Tensor& w : dev_model.trainable_weights()) CHECK(w.device() == kDev);

  const nn::Logs ec = cpu_model.evaluate(x, y, {.batch_size = 16, .verbose = 0, .sample_weight = sw});
  const nn::Logs ed = dev_model.evaluate(x.to(kDev), y.to(kDev),
                                         {.batch_size = 16, .verbose = 0, .sample_weight = sw.to(kDev)});
  CHECK(ed.at("loss") == Approx(ec.at("loss")).epsilon(1e-4));
  CHECK(ed.at("accuracy") == Approx(ec.at("accuracy")).epsilon(1e-6));

  Tensor pc = cpu_model.predict(x, {.batch_size = 7});
  Tensor pd = dev_model.predict(x.to(kDev), {.batch_size = 7});
  CHECK(pd.device() == kDev);
  TG_CHECK_VALUES(pd, test::values(pc), 1e-5, 1e-4);
}

TEST_CASE("a TensorDataset shuffles device data with indices on that device", "[opencl][model]") {
  Tensor x = arange(0.0, 10.0, 1.0, {.dtype = kFloat32, .device = kDev});
  Tensor xc = arange(0.0, 10.0, 1.0, {.dtype = kFloat32});
  nn::TensorDataset dev({x}, {xc}, {.batch_size = 4, .shuffle = true, .seed = 3});
  dev.reset(0);
  std::vector<double> seen_dev, seen_cpu;
  while (auto b = dev.next()) {
    CHECK(b->x[0].device() == kDev);
    CHECK(b->y[0].device() == Device::cpu());
    for (double v : test::values(b->x[0])) seen_dev.push_back(v);
    for (double v : test::values(b->y[0])) seen_cpu.push_back(v);
  }
  CHECK(seen_dev == seen_cpu);  // one permutation for the data of both devices
  std::vector<double> sorted = seen_dev;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(seen_dev != sorted);  // shuffled
}
