// A loss written in C++ as a function of (y_true, y_pred), passed to compile and trained with
// fit: quantile regression with the pinball loss.
//   ./custom_loss_fit [epochs]
//
// The data: y = sin(3x) + noise whose spread grows with |x| (x uniform in [-1, 1]). No
// built-in loss asks for quantiles; the pinball loss of quantile q,
//     L_q(y, ŷ) = max(q · (y − ŷ), (q − 1) · (y − ŷ)),
// is minimised when ŷ is the q-th quantile of y given x. The model has three outputs, one per
// quantile 0.1, 0.5, 0.9. The check: on fresh data, the fraction of targets below each
// predicted quantile is within 0.04 of q, and the predicted band is wider where the noise is.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <tapegrad/tapegrad.hpp>

using namespace tg;

const std::vector<float> kQuantiles = {0.1f, 0.5f, 0.9f};

// Per-sample pinball loss averaged over the three quantiles: y_true (n, 1), y_pred (n, 3).
Tensor pinball(const Tensor& y_true, const Tensor& y_pred) {
  Tensor q = tensor(kQuantiles, {3});
  Tensor err = y_true - y_pred;                          // (n, 3) by broadcasting
  return mean(maximum(q * err, (q - 1.0) * err), {-1});  // (n): one loss per sample
}

// Samples of (x, y) with noise standard deviation 0.05 + 0.3·|x|.
std::pair<Tensor, Tensor> make_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> ux(-1.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = ux(rng);
    y[i] = std::sin(3.0f * x[i]) + (0.05f + 0.3f * std::fabs(x[i])) * noise(rng);
  }
  return {tensor(x, {n, 1}), tensor(y, {n, 1})};
}

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 60;
  manual_seed(0);
  auto [x_train, y_train] = make_data(8000, 1);
  auto [x_test, y_test] = make_data(4000, 2);

  nn::Sequential model;
  model.add(nn::Dense(64, {.activation = "relu", .input_shape = {1}}));
  model.add(nn::Dense(64, {.activation = "relu"}));
  model.add(nn::Dense(3));  // the 0.1, 0.5 and 0.9 quantiles

  // A custom metric is a MeanMetric over any per-sample function: here the fraction of
  // targets under the predicted 0.9 quantile (it should approach 0.9).
  auto coverage_90 = std::make_shared<nn::MeanMetric>(
      "coverage_90", [](const Tensor& y_true, const Tensor& y_pred) {
        return lt(y_true.reshape({-1}), y_pred.select(1, 2)).to(kFloat32);
      });

  // The loss is the plain function; nn::Loss(pinball, "pinball") would give it a name for logs.
  // Adam with a cosine-decayed learning rate: small steps at the end settle the quantiles.
  const int64_t steps = epochs * ((x_train.shape()[0] + 127) / 128);
  model.compile(
      {.optimizer = optim::Adam({.learning_rate = optim::schedules::cosine_decay(0.003, steps)}),
       .loss = pinball,
       .metrics = {coverage_90}});
  nn::History h =
      model.fit(x_train, y_train, {.batch_size = 128, .epochs = epochs, .verbose = 0, .seed = 1});
  std::printf(
      "pinball loss: epoch 1 %.4f, epoch %d %.4f; coverage_90 metric in the last epoch %.3f\n",
      h["loss"].front(), epochs, h["loss"].back(), h["coverage_90"].back());

  // Coverage of each quantile on fresh data.
  Tensor pred = model.predict(x_test, {.batch_size = 1000});
  bool ok = h["loss"].back() < h["loss"].front();
  for (int64_t k = 0; k < 3; ++k) {
    const double below =
        mean(lt(y_test.reshape({-1}), pred.select(1, k)).to(kFloat32)).item<double>();
    const bool good = std::fabs(below - kQuantiles[k]) <= 0.04;
    ok = ok && good;
    std::printf("quantile %.1f: %.3f of the targets lie below the prediction %s\n", kQuantiles[k],
                below, good ? "(ok)" : "(off by more than 0.04)");
  }

  // The 0.1–0.9 band should be narrow near x = 0 and wide near |x| = 1.
  const std::vector<float> probe = {-0.9f, 0.0f, 0.9f};
  std::vector<float> band =
      model.predict(tensor(probe, {3, 1})).to_vector<float>();  // (3, 3), row-major
  for (size_t i = 0; i < 3; ++i)
    std::printf(
        "x = %+.1f: 0.1 quantile %+.3f, median %+.3f, 0.9 quantile %+.3f (true median %+.3f)\n",
        probe[i], band[i * 3], band[i * 3 + 1], band[i * 3 + 2], std::sin(3.0f * probe[i]));
  const double width_middle = band[5] - band[3], width_edge = band[8] - band[6];
  ok = ok && width_edge > 2.0 * width_middle;

  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
