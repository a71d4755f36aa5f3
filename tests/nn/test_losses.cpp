// Losses: every Keras loss against values worked out by hand (formulas written out in double),
// stability for extreme logits, label smoothing, reductions with sample weights, gradients.
#include <cmath>

#include "test_util.hpp"

using namespace tg;
using namespace tg::nn::losses;

namespace {
using V = std::vector<double>;

Tensor f32(const V& v, const Shape& s) { return tensor(v, s, {.dtype = kFloat32}); }
Tensor f64(const V& v, const Shape& s) { return tensor(v, s, {.dtype = kFloat64}); }
using tg::test::values;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double mean(const V& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
constexpr double kEps = 1e-7;
}  // namespace

TEST_CASE("regression losses by hand", "[losses]") {
  Tensor yt = f32({0, 1, 2, 3}, {2, 2}), yp = f32({1, 1, 0, 5}, {2, 2});
  // One value per sample: the mean over the last axis.
  Tensor mse = mean_squared_error(yt, yp);
  REQUIRE(mse.shape() == Shape{2});
  TG_CHECK_VALUES(mse, (V{0.5, 4.0}), 1e-6, 0);
  TG_CHECK_VALUES(mean_absolute_error(yt, yp), (V{0.5, 2.0}), 1e-6, 0);

  // mape: 100·mean(|(t − p) / max(|t|, ε)|).
  TG_CHECK_VALUES(mean_absolute_percentage_error(f32({2, -4}, {1, 2}), f32({1, -2}, {1, 2})),
                  (V{50.0}), 1e-4, 0);
  TG_CHECK_VALUES(mean_absolute_percentage_error(f32({0}, {1, 1}), f32({1e-3}, {1, 1})),
                  (V{100.0 * 1e-3 / kEps}), 0, 1e-5);

  // msle: mean((log(max(p, ε) + 1) − log(max(t, ε) + 1))²).
  const double ln2 = std::log(2.0);
  TG_CHECK_VALUES(mean_squared_logarithmic_error(f32({1, 3}, {1, 2}), f32({0, 7}, {1, 2})),
                  (V{ln2 * ln2}), 1e-6, 1e-6);
  const double neg = std::log(kEps + 1.0) - std::log(2.0);
  TG_CHECK_VALUES(mean_squared_logarithmic_error(f32({1}, {1, 1}), f32({-5}, {1, 1})),
                  (V{neg * neg}), 1e-6, 1e-5);

  // huber: ½e² within delta, delta·|e| − ½delta² beyond.
  Tensor ht = f32({0, 0}, {1, 2}), hp = f32({0.5, -2}, {1, 2});
  TG_CHECK_VALUES(huber(ht, hp), (V{(0.125 + 1.5) / 2}), 1e-6, 0);
  TG_CHECK_VALUES(huber(ht, hp, 2.0), (V{(0.125 + 2.0) / 2}), 1e-6, 0);

  // log_cosh, including an error where cosh overflows float32.
  V errs{0.3, -2, 30};
  V lc;
  for (double e : errs) lc.push_back(std::log(std::cosh(e)));
  TG_CHECK_VALUES(log_cosh(f32({0, 0, 0}, {1, 3}), f32(errs, {1, 3})), (V{mean(lc)}), 1e-6, 1e-6);
  Tensor big = log_cosh(f32({0}, {1, 1}), f32({1e4}, {1, 1}));
  CHECK(std::isfinite(big.item<double>()));
  CHECK(big.item<double>() == Approx(1e4 - ln2).epsilon(1e-6));

  // Shape mismatches name the loss.
  CHECK_THROWS_AS(mean_squared_error(f32({1, 2, 3}, {1, 3}), f32({1, 2}, {1, 2})), ShapeError);
  CHECK_THROWS_WITH(mean_squared_error(f32({1, 2, 3}, {1, 3}), f32({1, 2}, {1, 2})),
                    Catch::Matchers::Contains("mean_squared_error"));
  // Integer targets are converted.
  TG_CHECK_VALUES(
      mean_squared_error(tensor(std::vector<int64_t>{1, 2}, {1, 2}), f32({1, 4}, {1, 2})), (V{2.0}),
      1e-6, 0);
}

TEST_CASE("binary crossentropy: probabilities, logits, extreme logits, label smoothing",
          "[losses][crossentropy]") {
  // Probabilities are clipped to [ε, 1 − ε].
  Tensor t = f32({1, 0, 1}, {1, 3}), p = f32({0.9, 0.2, 0.0}, {1, 3});
  TG_CHECK_VALUES(binary_crossentropy(t, p),
                  (V{mean({-std::log(0.9), -std::log(0.8), -std::log(kEps)})}), 0, 1e-5);

  // Logits: compared with −[z·log σ(x) + (1 − z)·log(1 − σ(x))] computed directly.
  V xs{2, -1, 0, 0.7}, zs{1, 0, 1, 0.25};
  V direct;
  for (size_t i = 0; i < xs.size(); ++i)
    direct.push_back(
        -(zs[i] * std::log(sigmoid(xs[i])) + (1 - zs[i]) * std::log(1 - sigmoid(xs[i]))));
  TG_CHECK_VALUES(binary_crossentropy(f32(zs, {1, 4}), f32(xs, {1, 4}), true), (V{mean(direct)}),
                  1e-6, 1e-6);

  // ±1e4 logits stay finite and match the closed form max(x, 0) − x·z + log(1 + e^−|x|).
  V big{1e4, -1e4, 1e4, -1e4}, labels{1, 0, 0, 1};
  V closed;
  for (size_t i = 0; i < big.size(); ++i)
    closed.push_back(std::max(big[i], 0.0) - big[i] * labels[i] +
                     std::log1p(std::exp(-std::abs(big[i]))));
  Tensor logits = f32(big, {1, 4}).requires_grad_();
  Tensor l = binary_crossentropy(f32(labels, {1, 4}), logits, true);
  CHECK(std::isfinite(l.item<double>()));
  CHECK(l.item<double>() == Approx(mean(closed)));  // (0 + 0 + 1e4 + 1e4) / 4
  CHECK(l.item<double>() == Approx(5000.0));
  sum(l).backward();
  // d/dx = (σ(x) − z) / 4.
  TG_CHECK_VALUES(logits.grad(), (V{0, 0, 0.25, -0.25}), 1e-7, 0);

  // Label smoothing 0.2: z ← 0.8·z + 0.1.
  Tensor ls = binary_crossentropy(f32({1, 0}, {1, 2}), f32({0.7, 0.4}, {1, 2}), false, 0.2);
  const double a = -(0.9 * std::log(0.7) + 0.1 * std::log(0.3)),
               b = -(0.1 * std::log(0.4) + 0.9 * std::log(0.6));
  TG_CHECK_VALUES(ls, (V{(a + b) / 2}), 1e-6, 1e-6);
  // ... and with logits.
  Tensor lsl = binary_crossentropy(f32({1}, {1, 1}), f32({0.5}, {1, 1}), true, 0.2);
  TG_CHECK_VALUES(lsl, (V{-(0.9 * std::log(sigmoid(0.5)) + 0.1 * std::log(1 - sigmoid(0.5)))}),
                  1e-6, 1e-6);
}

TEST_CASE("categorical and sparse categorical crossentropy", "[losses][crossentropy]") {
  Tensor onehot = f32({0, 1, 0, 0, 0, 1}, {2, 3});
  Tensor probs = f32({0.2, 0.6, 0.2, 0.1, 0.1, 0.8}, {2, 3});
  TG_CHECK_VALUES(categorical_crossentropy(onehot, probs), (V{-std::log(0.6), -std::log(0.8)}),
                  1e-6, 1e-6);
  // Unnormalised probabilities are rescaled to sum to one first.
  TG_CHECK_VALUES(categorical_crossentropy(onehot, f32({1, 3, 1, 1, 1, 8}, {2, 3})),
                  (V{-std::log(0.6), -std::log(0.8)}), 1e-6, 1e-6);
  // A zero probability is clipped to ε.
  TG_CHECK_VALUES(categorical_crossentropy(f32({1, 0}, {1, 2}), f32({0, 1}, {1, 2})),
                  (V{-std::log(kEps)}), 0, 1e-4);

  // Logits: log(Σ e^x) − x_label.
  Tensor logits = f32({1, 2, 3, -1, 0, 4}, {2, 3});
  const double lse0 = std::log(std::exp(1) + std::exp(2) + std::exp(3)),
               lse1 = std::log(std::exp(-1) + 1 + std::exp(4));
  TG_CHECK_VALUES(categorical_crossentropy(onehot, logits, true), (V{lse0 - 2, lse1 - 4}), 1e-6,
                  1e-6);
  Tensor labels = tensor(std::vector<int64_t>{1, 2});
  TG_CHECK_VALUES(sparse_categorical_crossentropy(labels, logits, true), (V{lse0 - 2, lse1 - 4}),
                  1e-6, 1e-6);
  TG_CHECK_VALUES(sparse_categorical_crossentropy(labels, probs),
                  (V{-std::log(0.6), -std::log(0.8)}), 1e-6, 1e-6);
  // Labels as [batch, 1], or as floats.
  TG_CHECK_VALUES(
      sparse_categorical_crossentropy(tensor(std::vector<int64_t>{1, 2}, {2, 1}), probs),
      (V{-std::log(0.6), -std::log(0.8)}), 1e-6, 1e-6);
  TG_CHECK_VALUES(sparse_categorical_crossentropy(f32({1, 2}, {2}), probs),
                  (V{-std::log(0.6), -std::log(0.8)}), 1e-6, 1e-6);
  CHECK_THROWS_AS(sparse_categorical_crossentropy(tensor(std::vector<int64_t>{1, 2, 0}), probs),
                  ShapeError);

  // ±1e4 logits: finite, equal to the closed form (a 2e4 gap, or 0).
  Tensor ext = f32({1e4, 0, -1e4}, {1, 3}).requires_grad_();
  Tensor c1 = categorical_crossentropy(f32({0, 0, 1}, {1, 3}), ext, true);
  CHECK(std::isfinite(c1.item<double>()));
  CHECK(c1.item<double>() == Approx(2e4));
  TG_CHECK_VALUES(categorical_crossentropy(f32({1, 0, 0}, {1, 3}), ext, true), (V{0.0}), 1e-6, 0);
  TG_CHECK_VALUES(sparse_categorical_crossentropy(tensor(std::vector<int64_t>{2}), ext, true),
                  (V{2e4}), 0, 1e-6);
  TG_CHECK_VALUES(sparse_categorical_crossentropy(tensor(std::vector<int64_t>{1}), ext, true),
                  (V{1e4}), 0, 1e-6);
  sum(c1).backward();
  // d/dx = softmax(x) − y = [1, 0, −1].
  TG_CHECK_VALUES(ext.grad(), (V{1, 0, -1}), 1e-6, 0);

  // Label smoothing 0.3 over 3 classes: y ← 0.7·y + 0.1.
  const V p{0.2, 0.6, 0.2};
  const double smoothed = -(0.1 * std::log(p[0]) + 0.8 * std::log(p[1]) + 0.1 * std::log(p[2]));
  TG_CHECK_VALUES(categorical_crossentropy(f32({0, 1, 0}, {1, 3}), f32(p, {1, 3}), false, 0.3),
                  (V{smoothed}), 1e-6, 1e-6);
  const double lsm = -(0.1 * (1 - lse0) + 0.8 * (2 - lse0) + 0.1 * (3 - lse0));
  TG_CHECK_VALUES(
      categorical_crossentropy(f32({0, 1, 0}, {1, 3}), f32({1, 2, 3}, {1, 3}), true, 0.3), (V{lsm}),
      1e-6, 1e-6);
}

TEST_CASE("kl_divergence, poisson, the hinge family and cosine_similarity", "[losses]") {
  // kl: Σ t·log(t / p), both clipped to [ε, 1].
  TG_CHECK_VALUES(kl_divergence(f32({0.5, 0.5}, {1, 2}), f32({0.25, 0.75}, {1, 2})),
                  (V{0.5 * std::log(2.0) + 0.5 * std::log(0.5 / 0.75)}), 1e-6, 1e-6);
  TG_CHECK_VALUES(kl_divergence(f32({0, 1}, {1, 2}), f32({0.5, 0.5}, {1, 2})),
                  (V{kEps * std::log(kEps / 0.5) + std::log(2.0)}), 1e-6, 1e-6);
  // poisson: mean(p − t·log(p + ε)).
  TG_CHECK_VALUES(poisson(f32({1, 2}, {1, 2}), f32({1, 4}, {1, 2})),
                  (V{((1 - std::log(1 + kEps)) + (4 - 2 * std::log(4 + kEps))) / 2}), 1e-6, 1e-6);

  // hinge maps labels {0, 1} to {−1, +1}: the same loss either way.
  Tensor pr = f32({0.3, -0.2}, {1, 2});
  // Labels −1, +1 against 0.3, −0.2: max(1 + 0.3, 0) = 1.3 and max(1 + 0.2, 0) = 1.2.
  const double h = (std::max(1.0 - (-1.0) * 0.3, 0.0) + std::max(1.0 - 1.0 * -0.2, 0.0)) / 2;
  CHECK(h == Approx(1.25));
  TG_CHECK_VALUES(hinge(f32({0, 1}, {1, 2}), pr), (V{1.25}), 1e-6, 0);
  TG_CHECK_VALUES(hinge(f32({-1, 1}, {1, 2}), pr), (V{1.25}), 1e-6, 0);
  TG_CHECK_VALUES(squared_hinge(f32({0, 1}, {1, 2}), pr), (V{(1.69 + 1.44) / 2}), 1e-6, 0);
  TG_CHECK_VALUES(hinge(f32({1, 1}, {1, 2}), f32({2, 0.5}, {1, 2})), (V{0.25}), 1e-6, 0);
  // Labels that are not all 0 or 1 are used as they are (Keras converts only binary labels).
  TG_CHECK_VALUES(hinge(f32({0.5, 1}, {1, 2}), pr), (V{(0.85 + 1.2) / 2}), 1e-6, 0);

  // categorical_hinge: max(max((1 − t)·p) − Σ t·p + 1, 0).
  TG_CHECK_VALUES(categorical_hinge(f32({0, 1, 0, 0, 1, 0}, {2, 3}),
                                    f32({0.3, 0.5, 0.9, 0.1, 2.0, 0.3}, {2, 3})),
                  (V{0.9 - 0.5 + 1, 0.0}), 1e-6, 0);

  // cosine_similarity is the negative similarity.
  TG_CHECK_VALUES(cosine_similarity(f32({1, 2, 2, 0}, {2, 2}), f32({2, 4, 0, 3}, {2, 2})),
                  (V{-1.0, 0.0}), 1e-6, 0);
  TG_CHECK_VALUES(cosine_similarity(f32({1, 0}, {1, 2}), f32({-3, 0}, {1, 2})), (V{1.0}), 1e-6, 0);
  TG_CHECK_VALUES(cosine_similarity(f32({1, 0}, {1, 2}), f32({1, 1}, {1, 2})),
                  (V{-1 / std::sqrt(2.0)}), 1e-6, 0);
  // A zero vector gives 0, not NaN.
  TG_CHECK_VALUES(cosine_similarity(f32({0, 0}, {1, 2}), f32({1, 1}, {1, 2})), (V{0.0}), 1e-6, 0);
  // Along another axis.
  TG_CHECK_VALUES(cosine_similarity(f32({1, 0, 0, 1}, {2, 2}), f32({1, 0, 0, 1}, {2, 2}), 0),
                  (V{-1.0, -1.0}), 1e-6, 0);
}

TEST_CASE("Loss objects: names, reductions and sample weights", "[losses][reduction]") {
  // Per-sample squared errors 1, 4, 9.
  Tensor yt = f32({0, 0, 0}, {3, 1}), yp = f32({1, 2, 3}, {3, 1});
  nn::Loss by_name("mse");
  CHECK(by_name.name() == "mse");
  CHECK(by_name.reduction() == nn::Reduction::SumOverBatchSize);
  CHECK(by_name(yt, yp).item<double>() == Approx(14.0 / 3));
  CHECK(nn::Loss("mean_squared_error")(yt, yp).item<double>() == Approx(14.0 / 3));
  for (const char* n :
       {"mae", "mape", "msle", "huber", "log_cosh", "logcosh", "binary_crossentropy",
        "categorical_crossentropy", "sparse_categorical_crossentropy", "kld", "kl_divergence",
        "poisson", "hinge", "squared_hinge", "categorical_hinge", "cosine_similarity"})
    CHECK(nn::Loss(n).defined());
  CHECK_THROWS_AS(nn::Loss("no_such_loss"), ValueError);
  CHECK_THROWS_AS(nn::Loss()(yt, yp), ValueError);

  auto per_sample = [](const Tensor& t, const Tensor& p) { return mean_squared_error(t, p); };
  nn::Loss none(per_sample, "none", nn::Reduction::None),
      total(per_sample, "sum", nn::Reduction::Sum),
      avg(per_sample, "avg", nn::Reduction::SumOverBatchSize);
  TG_CHECK_VALUES(none(yt, yp), (V{1, 4, 9}), 1e-6, 0);
  CHECK(total(yt, yp).item<double>() == Approx(14));
  CHECK(avg(yt, yp).item<double>() == Approx(14.0 / 3));

  // Sample weights multiply each sample's loss; sum_over_batch_size still divides by the count.
  Tensor w = f32({1, 0, 2}, {3});
  TG_CHECK_VALUES(none(yt, yp, w), (V{1, 0, 18}), 1e-6, 0);
  CHECK(total(yt, yp, w).item<double>() == Approx(19));
  CHECK(avg(yt, yp, w).item<double>() == Approx(19.0 / 3));
  CHECK(avg(yt, yp, f32({1, 0, 2}, {3, 1})).item<double>() ==
        Approx(19.0 / 3));  // [batch, 1] weights

  // Per-element losses [batch, steps]: weights broadcast over the steps, the mean over all.
  nn::Loss elem([](const Tensor& t, const Tensor& p) { return square(p - t); }, "elem");
  Tensor et = zeros({2, 3}), ep = f32({1, 1, 1, 2, 2, 2}, {2, 3});
  CHECK(elem(et, ep).item<double>() == Approx((3 + 12) / 6.0));
  CHECK(elem(et, ep, f32({2, 0}, {2})).item<double>() == Approx(6 / 6.0));
  TG_CHECK_VALUES(nn::reduce_loss(f32({1, 2, 3}, {3}), nn::Reduction::Sum, f32({3, 2, 1}, {3})),
                  (V{10}), 1e-6, 0);
}

TEST_CASE("loss gradients match finite differences in float64", "[losses][gradcheck]") {
  using autograd::gradcheck;
  Tensor t = f64({0.2, 0.9, 0.4, 0.1, 0.6, 0.7}, {2, 3});
  Tensor p = f64({0.3, 0.5, 0.8, 0.25, 0.45, 0.65}, {2, 3});
  Tensor x = f64({0.7, -1.3, 2.1, -0.4, 0.2, 1.1}, {2, 3});
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) { return mean_squared_error(in[0], in[1]); }, {t, p}));
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) { return mean_absolute_error(in[0], in[1]); }, {t, p}));
  TG_REQUIRE_GRADCHECK(
      gradcheck([](const std::vector<Tensor>& in) { return huber(in[0], in[1], 0.3); }, {t, x}));
  TG_REQUIRE_GRADCHECK(
      gradcheck([](const std::vector<Tensor>& in) { return log_cosh(in[0], in[1]); }, {t, x}));
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) { return binary_crossentropy(in[0], in[1]); }, {t, p}));
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) { return binary_crossentropy(in[0], in[1], true, 0.1); },
      {t, x}));
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) { return categorical_crossentropy(in[0], in[1]); },
      {t, p}));
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) {
        return categorical_crossentropy(in[0], in[1], true, 0.2);
      },
      {t, x}));
  Tensor labels = tensor(std::vector<int64_t>{2, 0});
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) {
        return sparse_categorical_crossentropy(in[0], in[1], true);
      },
      {labels, x}));
  TG_REQUIRE_GRADCHECK(
      gradcheck([](const std::vector<Tensor>& in) { return kl_divergence(in[0], in[1]); }, {t, p}));
  TG_REQUIRE_GRADCHECK(
      gradcheck([](const std::vector<Tensor>& in) { return poisson(in[0], in[1]); }, {t, p}));
  TG_REQUIRE_GRADCHECK(gradcheck(
      [](const std::vector<Tensor>& in) { return cosine_similarity(in[0], in[1]); }, {t, x}));
  TG_REQUIRE_GRADCHECK(
      gradcheck([](const std::vector<Tensor>& in) { return squared_hinge(in[0], in[1]); },
                {f64({-1, 1, 1, -1, 1, -1}, {2, 3}), x}));
  // A reduced, weighted loss as the training loop uses it.
  nn::Loss l("categorical_crossentropy");
  Tensor w = f64({0.5, 2.0}, {2});
  TG_REQUIRE_GRADCHECK(
      gradcheck([&](const std::vector<Tensor>& in) { return l(in[0], in[1], w); }, {t, p}));
}
