// Anomaly mode: the first op whose forward or backward made a NaN or an infinity is named, with
// the line of user code that called it (tests/autograd/anomaly_user_code.cpp, built with -g).
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <optional>

#include "autograd/anomaly_user_code.hpp"
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using autograd::Anomaly;
using autograd::AnomalyError;

namespace {
/// The anomaly f throws under a raising guard (fails the test when f throws nothing).
Anomaly anomaly_of(const std::function<void()>& f) {
  autograd::detect_anomaly guard;
  try {
    f();
  } catch (const AnomalyError& e) {
    CHECK(std::string(e.what()) == e.anomaly().message());
    return e.anomaly();
  }
  FAIL("no AnomalyError");
  return {};
}

std::string user_site(int line) { return "anomaly_user_code.cpp:" + std::to_string(line); }
}  // namespace

TEST_CASE("anomaly mode names the op whose forward made a NaN and the user line that called it",
          "[anomaly]") {
  Tensor x = tensor<float>({-1.0f, 2.0f}, {2}).requires_grad_();  // log(-1) = nan
  const Anomaly a = anomaly_of([&] { anomaly_user::user_log(x); });
  CHECK(a.op == "log");
  CHECK(a.phase == "forward");
  CHECK(a.where == "output 0");
  CHECK(a.value == "nan");
  CHECK(a.produced);
  CHECK_THAT(a.site, Contains(user_site(anomaly_user::kLogLine)));
  CHECK_THAT(a.site, Contains("user_log"));
  CHECK_THAT(a.message(), Contains("forward of 'log' produced nan in output 0"));
  REQUIRE(!a.trace.empty());
  CHECK_THAT(a.trace.front(), Contains("tg::autograd::connect"));  // innermost first
}

TEST_CASE("anomaly mode resolves operators, which take no source_location, to the user line",
          "[anomaly]") {
  Tensor a = zeros({3}).requires_grad_();  // 0 / 0 = nan
  Tensor b = zeros({3});
  const Anomaly an = anomaly_of([&] { anomaly_user::user_div(a, b); });
  CHECK(an.op == "div");
  CHECK(an.value == "nan");
  CHECK_THAT(an.site, Contains(user_site(anomaly_user::kDivLine)));
  // 1 / 0 = +inf, -1 / 0 = -inf: the first non-finite value is named.
  Tensor c = tensor<double>({2.0, -1.0}, {2}, {.dtype = kFloat64}).requires_grad_();
  Tensor d = tensor<double>({1.0, 0.0}, {2}, {.dtype = kFloat64});
  CHECK(anomaly_of([&] { anomaly_user::user_div(c, d); }).value == "-inf");
}

TEST_CASE("anomaly mode names the op whose backward made an infinity", "[anomaly]") {
  // sqrt(0) = 0 is finite, its derivative 1 / (2 sqrt(0)) is not.
  Tensor x = tensor<float>({0.0f, 4.0f}, {2}).requires_grad_();
  const Anomaly a = anomaly_of([&] { anomaly_user::user_sqrt_sum(x).backward(); });
  CHECK(a.op == "sqrt");
  CHECK(a.phase == "backward");
  CHECK(a.where == "the gradient of input 0");
  CHECK(a.value == "inf");
  CHECK(a.produced);
  CHECK_THAT(a.site, Contains(user_site(anomaly_user::kSqrtLine)));
  CHECK_THAT(a.message(), Contains("backward of 'sqrt' produced inf in the gradient of input 0"));
  // Without the guard the same backward runs through and leaves inf in the gradient.
  x.zero_grad();
  anomaly_user::user_sqrt_sum(x).backward();
  CHECK(std::isinf(x.grad().to_vector<float>()[0]));
  CHECK(x.grad().to_vector<float>()[1] == Approx(0.25));
}

TEST_CASE("anomaly mode tells a value that came in non-finite from one an op made", "[anomaly]") {
  Tensor x = tensor<float>({1.0f, NAN}, {2}).requires_grad_();  // a NaN in the data
  const Anomaly a = anomaly_of([&] { exp(x); });
  CHECK(a.op == "exp");
  CHECK_FALSE(a.produced);
  CHECK(a.where == "input 0");
  CHECK_THAT(a.message(), Contains("forward of 'exp' received nan in input 0"));
  // A NaN seed gradient arrives at the first node of the backward.
  Tensor y = tensor<float>({1.0f, 2.0f}, {2}).requires_grad_();
  Tensor z = mul(y, 3.0);
  const Anomaly b = anomaly_of([&] { z.backward(tensor<float>({NAN, 1.0f}, {2})); });
  CHECK(b.op == "mul");
  CHECK(b.phase == "backward");
  CHECK_FALSE(b.produced);
  CHECK(b.where == "incoming gradient of output 0");
}

TEST_CASE("anomaly mode off: nothing is captured or checked", "[anomaly]") {
  CHECK_FALSE(autograd::anomaly_mode_enabled());
  Tensor x = tensor<float>({-1.0f}, {1}).requires_grad_();
  Tensor y = log(x);
  CHECK(std::isnan(y.item<float>()));
  REQUIRE(y.grad_fn());
  CHECK(y.grad_fn()->creation_site() == nullptr);
  {
    autograd::detect_anomaly guard;
    CHECK(autograd::anomaly_mode_enabled());
    Tensor z = exp(tensor<float>({1.0f}, {1}).requires_grad_());
    CHECK(z.grad_fn()->creation_site() != nullptr);
    // A node recorded before the guard has no creation site to report.
    try {
      sum(y).backward();
      FAIL("no AnomalyError");
    } catch (const AnomalyError& e) {
      CHECK(e.anomaly().op == "sum");  // sum(nan) = nan, its input came in non-finite
      CHECK_FALSE(e.anomaly().produced);
    }
  }
  CHECK_FALSE(autograd::anomaly_mode_enabled());
  // Ops that record nothing are not checked, even with the guard.
  autograd::detect_anomaly guard;
  CHECK_NOTHROW(log(tensor<float>({-1.0f}, {1})));
}

TEST_CASE("a recording guard keeps the first anomaly and lets the computation go on",
          "[anomaly]") {
  Tensor x = tensor<float>({-1.0f, 0.0f}, {2}).requires_grad_();
  autograd::detect_anomaly outer({.raise = false});
  Tensor y = anomaly_user::user_log(x);  // nan, -inf: recorded, not thrown
  Tensor z = exp(y);                     // received nan: the first one stays
  REQUIRE(outer.first());
  CHECK(outer.first()->op == "log");
  CHECK(outer.first()->value == "nan");
  CHECK_THAT(outer.first()->site, Contains(user_site(anomaly_user::kLogLine)));
  {
    autograd::detect_anomaly inner;  // the innermost guard decides: this one raises
    CHECK_THROWS_AS(exp(y), AnomalyError);
  }
  outer.reset();
  CHECK_FALSE(outer.first());
  Tensor w = mul(z, 2.0);
  REQUIRE(outer.first());
  CHECK(outer.first()->op == "mul");
}

TEST_CASE("anomaly mode names the layer an op ran in", "[anomaly]") {
  nn::Sequential m;
  m.add(nn::Dense(2, {.input_shape = {3}}));
  {
    NoGrad ng;
    m.layers()[0]->trainable_weights()[0].fill_(INFINITY);
  }
  const Anomaly a = anomaly_of([&] { m(ones({4, 3})); });
  CHECK(a.op == "matmul");
  CHECK_FALSE(a.produced);  // the kernel itself is infinite
  CHECK(a.where == "input 1");
  CHECK_THAT(a.context, Contains("Dense"));
  CHECK_THAT(a.message(), Contains("inside 'Dense"));
}

TEST_CASE("TerminateOnNaN with detect_anomaly names the op behind the NaN loss", "[anomaly]") {
  nn::Sequential m;
  m.add(nn::Dense(1, {.kernel_initializer = "ones", .input_shape = {2}}));
  m.compile({.optimizer = "sgd", .loss = anomaly_user::user_log_loss});
  // Batch 0 predicts 2 (log finite), batch 1 predicts -2: log(-2) = nan.
  Tensor x = tensor<float>({1, 1, 1, 1, -1, -1, -1, -1}, {4, 2});
  auto stop = std::make_shared<nn::TerminateOnNaN>(nn::TerminateOnNaNOptions{.detect_anomaly = true});
  nn::History h;
  const std::string out = test::capture_stdout([&] {
    h = m.fit(x, zeros({4, 1}),
              {.batch_size = 2, .epochs = 2, .verbose = 0, .callbacks = {stop}, .shuffle = false});
  });
  CHECK_THAT(out, Contains("Batch 1: invalid loss, terminating training"));
  REQUIRE(stop->anomaly());
  CHECK(stop->anomaly()->op == "log");
  CHECK(stop->anomaly()->phase == "forward");
  CHECK_THAT(stop->anomaly()->site, Contains(user_site(anomaly_user::kLossLine)));
  CHECK_THAT(out, Contains("forward of 'log' produced nan"));
  CHECK_FALSE(autograd::anomaly_mode_enabled());  // the guard ended with fit
  // Without the option it says how to find the op.
  auto plain = std::make_shared<nn::TerminateOnNaN>();
  const std::string out2 = test::capture_stdout([&] {
    m.fit(x, zeros({4, 1}),
          {.batch_size = 2, .epochs = 1, .verbose = 0, .callbacks = {plain}, .shuffle = false});
  });
  CHECK_THAT(out2, Contains("detect_anomaly = true"));
  CHECK_FALSE(plain->anomaly());
}
