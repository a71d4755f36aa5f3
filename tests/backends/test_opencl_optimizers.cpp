// Every optimizer's fused update on Device::opencl(0) against the CPU with the same gradients
// (float32, and float64 where the device has it). Part of test_backends_opencl (skipped without a
// device by the executable's start-up check).
#include <functional>
#include <memory>
#include <string>

#include "tapegrad/backends/opencl/opencl_backend.hpp"
#include "test_util.hpp"

using namespace tg;

namespace {
constexpr Device kDev = Device::opencl(0);

struct Case {
  std::string name;
  std::function<std::shared_ptr<optim::Optimizer>()> make;
};

std::vector<Case> cases() {
  using namespace optim;
  return {
      {"sgd", [] { return std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05}); }},
      {"sgd momentum",
       [] { return std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05, .momentum = 0.9}); }},
      {"sgd nesterov",
       [] {
         return std::make_shared<SGD>(
             SGDOptions{.learning_rate = 0.05, .momentum = 0.9, .nesterov = true});
       }},
      {"rmsprop", [] { return std::make_shared<RMSprop>(); }},
      {"rmsprop momentum",
       [] { return std::make_shared<RMSprop>(RMSpropOptions{.momentum = 0.5}); }},
      {"rmsprop centered",
       [] { return std::make_shared<RMSprop>(RMSpropOptions{.centered = true}); }},
      {"rmsprop centered momentum",
       [] { return std::make_shared<RMSprop>(RMSpropOptions{.momentum = 0.5, .centered = true}); }},
      {"adam", [] { return std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01}); }},
      {"adam amsgrad",
       [] { return std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01, .amsgrad = true}); }},
      {"adamw", [] { return std::make_shared<AdamW>(AdamWOptions{.learning_rate = 0.01}); }},
      {"adagrad", [] { return std::make_shared<Adagrad>(AdagradOptions{.learning_rate = 0.05}); }},
      {"adadelta",
       [] { return std::make_shared<Adadelta>(AdadeltaOptions{.learning_rate = 1.0}); }},
      {"adamax", [] { return std::make_shared<Adamax>(AdamaxOptions{.learning_rate = 0.01}); }},
      {"nadam", [] { return std::make_shared<Nadam>(NadamOptions{.learning_rate = 0.01}); }},
  };
}

void check_all(DType dt, double tol) {
  for (const Case& c : cases()) {
    INFO(c.name << " " << dt);
    manual_seed(5);
    std::vector<Tensor> cpu_params{randn({7, 33}, {.dtype = dt}), randn({5}, {.dtype = dt})};
    std::vector<Tensor> dev_params;
    for (const Tensor& p : cpu_params) dev_params.push_back(p.to(kDev));
    auto cpu_opt = c.make(), dev_opt = c.make();
    for (int step = 0; step < 4; ++step) {
      INFO("step " << step);
      std::vector<Tensor> cpu_grads, dev_grads;
      for (const Tensor& p : cpu_params) {
        cpu_grads.push_back(mul(randn(p.shape(), {.dtype = dt}), step >= 2 ? 0.1 : 1.0));
        dev_grads.push_back(cpu_grads.back().to(kDev));
      }
      cpu_opt->apply_gradients(cpu_params, cpu_grads);
      dev_opt->apply_gradients(dev_params, dev_grads);
      for (size_t k = 0; k < cpu_params.size(); ++k) {
        CHECK(dev_params[k].device() == kDev);
        TG_CHECK_VALUES(dev_params[k], test::values(cpu_params[k]), tol, tol);
      }
    }
    auto cs = cpu_opt->state(), ds = dev_opt->state();
    REQUIRE(cs.size() == ds.size());
    for (size_t k = 0; k < cs.size(); ++k) {
      INFO(cs[k].first);
      CHECK(ds[k].second.device() == kDev);
      TG_CHECK_VALUES(ds[k].second, test::values(cs[k].second), tol, tol);
    }
  }
}
}  // namespace

TEST_CASE("every optimizer updates the same on the OpenCL device as on the CPU (float32)",
          "[opencl][optim]") {
  check_all(kFloat32, 1e-5);
}

TEST_CASE("every optimizer updates the same on the OpenCL device as on the CPU (float64)",
          "[opencl][optim]") {
  auto& b = static_cast<OpenClBackend&>(backend_for(kDev));
  if (!b.device_info().fp64) return;  // float64 kernels need cl_khr_fp64
  check_all(kFloat64, 1e-10);
}
