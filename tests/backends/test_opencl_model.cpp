// Whole models on an OpenCL device: the default device, model.to(device) with optimizer state,
// and the same training losses as on the CPU. Part of test_backends_opencl (skipped without a
// device by the executable's start-up check).
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
