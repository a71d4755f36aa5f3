// Metrics: the accuracy family, top-k, mae/mse, precision, recall and AUC against counts and
// areas worked out by hand; accumulation over batches, sample weights and reset.
#include <cmath>

#include "test_util.hpp"

using namespace tg;
using namespace tg::nn::metrics;

namespace {
using V = std::vector<double>;
Tensor f32(const V& v, const Shape& s) { return tensor(v, s, {.dtype = kFloat32}); }
Tensor i64(const std::vector<int64_t>& v) { return tensor(v, {static_cast<int64_t>(v.size())}); }
}  // namespace

TEST_CASE("accuracy functions per sample", "[metrics][accuracy]") {
  // binary: prediction > threshold compared with the label, averaged over the last axis.
  TG_CHECK_VALUES(binary_accuracy(f32({1, 0, 1, 0}, {4, 1}), f32({0.7, 0.4, 0.5, 0.9}, {4, 1})),
                  (V{1, 1, 0, 0}), 0, 0);
  TG_CHECK_VALUES(binary_accuracy(f32({1, 0, 1, 0}, {2, 2}), f32({0.7, 0.4, 0.5, 0.9}, {2, 2})),
                  (V{1, 0}), 0, 0);
  TG_CHECK_VALUES(
      binary_accuracy(f32({1, 0, 1, 0}, {4, 1}), f32({0.7, 0.4, 0.5, 0.9}, {4, 1}), 0.45),
      (V{1, 1, 1, 0}), 0, 0);

  Tensor p = f32({0.1, 0.6, 0.3, 0.5, 0.2, 0.3, 0.2, 0.2, 0.6}, {3, 3});
  TG_CHECK_VALUES(categorical_accuracy(f32({0, 1, 0, 0, 0, 1, 0, 0, 1}, {3, 3}), p), (V{1, 0, 1}),
                  0, 0);
  TG_CHECK_VALUES(sparse_categorical_accuracy(i64({1, 2, 2}), p), (V{1, 0, 1}), 0, 0);
  TG_CHECK_VALUES(sparse_categorical_accuracy(tensor(std::vector<int64_t>{1, 2, 2}, {3, 1}), p),
                  (V{1, 0, 1}), 0, 0);
  TG_CHECK_VALUES(sparse_categorical_accuracy(f32({1, 2, 2}, {3}), p), (V{1, 0, 1}), 0, 0);
  CHECK_THROWS_AS(categorical_accuracy(f32({1, 0}, {1, 2}), p), ShapeError);

  // top-k: is the label among the k largest? Row 1: label 2 (0.3) is 2nd; row 2: label 2 (0.3) is
  // 2nd; row 3: label 0 (0.2) ties with 0.2 for 2nd place (ties count in favour).
  TG_CHECK_VALUES(sparse_top_k_categorical_accuracy(i64({2, 2, 0}), p, 1), (V{0, 0, 0}), 0, 0);
  TG_CHECK_VALUES(sparse_top_k_categorical_accuracy(i64({2, 2, 0}), p, 2), (V{1, 1, 1}), 0, 0);
  TG_CHECK_VALUES(sparse_top_k_categorical_accuracy(i64({0, 1, 1}), p, 2), (V{0, 0, 1}), 0, 0);
  TG_CHECK_VALUES(top_k_categorical_accuracy(f32({0, 0, 1, 0, 0, 1, 1, 0, 0}, {3, 3}), p, 2),
                  (V{1, 1, 1}), 0, 0);
  TG_CHECK_VALUES(top_k_categorical_accuracy(f32({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3}), p, 1),
                  (V{0, 0, 1}), 0, 0);
  // The default k is 5: everything is in the top 5 of 3 classes.
  TG_CHECK_VALUES(sparse_top_k_categorical_accuracy(i64({0, 1, 1}), p), (V{1, 1, 1}), 0, 0);
}

TEST_CASE("mean metrics accumulate over batches, with sample weights, until reset",
          "[metrics][mean]") {
  auto acc = nn::get_metric("sparse_categorical_accuracy");
  CHECK(acc->name() == "sparse_categorical_accuracy");
  CHECK(acc->result() == 0.0);
  Tensor p = f32({0.9, 0.1, 0.2, 0.8, 0.6, 0.4}, {3, 2});
  acc->update(i64({0, 0, 0}), p);  // right, wrong, right
  CHECK(acc->result() == Approx(2.0 / 3));
  acc->update(i64({1}), f32({0.3, 0.7}, {1, 2}));  // right
  CHECK(acc->result() == Approx(3.0 / 4));
  acc->reset();
  CHECK(acc->result() == 0.0);
  // Weighted: Σ w·v / Σ w.
  acc->update(i64({0, 0, 0}), p, f32({1, 3, 0.5}, {3}));
  CHECK(acc->result() == Approx(1.5 / 4.5));
  // clone() is a fresh metric of the same kind.
  auto copy = acc->clone();
  CHECK(copy->result() == 0.0);
  copy->update(i64({0, 0, 0}), p);
  CHECK(copy->result() == Approx(2.0 / 3));

  // mae and mse: per-sample means over the last axis, averaged over samples.
  auto mae = nn::get_metric("mae"), mse = nn::get_metric("mean_squared_error");
  Tensor t = f32({0, 0, 1, 1}, {2, 2}), q = f32({1, -1, 1, 3}, {2, 2});
  mae->update(t, q);
  mse->update(t, q);
  CHECK(mae->result() == Approx((1.0 + 1.0) / 2));  // rows: (1 + 1) / 2 and (0 + 2) / 2
  CHECK(mse->result() == Approx((1.0 + 2.0) / 2));  // rows: (1 + 1) / 2 and (0 + 4) / 2
  mse->update(f32({0, 0}, {1, 2}), f32({3, 3}, {1, 2}));
  CHECK(mse->result() == Approx((1.0 + 2.0 + 9.0) / 3));

  auto top = nn::get_metric("top_k_categorical_accuracy");
  top->update(f32({0, 1}, {1, 2}), f32({0.9, 0.1}, {1, 2}));
  CHECK(top->result() == 1.0);
  CHECK_THROWS_AS(nn::get_metric("no_such_metric"), ValueError);

  // A user metric from any per-sample function.
  nn::MeanMetric within("within_half", [](const Tensor& yt, const Tensor& yp) {
    return le(abs(yp - yt), 0.5).to(kFloat32).squeeze(-1);
  });
  within.update(f32({1, 2, 3, 4}, {4, 1}), f32({1.2, 2.9, 3.5, 0}, {4, 1}));
  CHECK(within.result() == Approx(0.5));
}

TEST_CASE("precision and recall count thresholded predictions", "[metrics][precision]") {
  // Predictions > 0.5: 0.9 (label 1, tp), 0.6 (label 0, fp), 0.7 (label 1, tp);
  // 0.3 and 0.2 have label 1: two false negatives.
  Tensor yt = f32({1, 0, 1, 1, 1}, {5, 1}), yp = f32({0.9, 0.6, 0.3, 0.2, 0.7}, {5, 1});
  auto precision = nn::get_metric("precision"), recall = nn::get_metric("recall");
  precision->update(yt, yp);
  recall->update(yt, yp);
  CHECK(precision->result() == Approx(2.0 / 3));
  CHECK(recall->result() == Approx(2.0 / 4));
  // Accumulates over batches: one more true positive.
  precision->update(f32({1}, {1, 1}), f32({0.8}, {1, 1}));
  recall->update(f32({1}, {1, 1}), f32({0.8}, {1, 1}));
  CHECK(precision->result() == Approx(3.0 / 4));
  CHECK(recall->result() == Approx(3.0 / 5));
  precision->reset();
  CHECK(precision->result() == 0.0);  // no predicted positives: 0, not NaN
  // Another threshold, and sample weights (the false positive weighs 3).
  nn::PrecisionRecall p2("p2", false, 0.25);
  p2.update(yt, yp, f32({1, 3, 1, 1, 1}, {5}));
  // > 0.25: 0.9 tp, 0.6 fp (w 3), 0.3 tp, 0.7 tp; 0.2 fn.
  CHECK(p2.result() == Approx(3.0 / 6));
  nn::PrecisionRecall r2("r2", true, 0.25);
  r2.update(yt, yp);
  CHECK(r2.result() == Approx(3.0 / 4));
}

TEST_CASE("AUC: separated, reversed and a hand-computed trapezoid sum", "[metrics][auc]") {
  Tensor labels = f32({0, 0, 1, 1}, {4});
  SECTION("perfectly separated scores give 1, reversed ones 0") {
    nn::AUC auc;
    auc.update(labels, f32({0.1, 0.2, 0.8, 0.9}, {4}));
    CHECK(auc.result() == Approx(1.0));
    nn::AUC rev;
    rev.update(labels, f32({0.9, 0.8, 0.2, 0.1}, {4}));
    CHECK(rev.result() == Approx(0.0).margin(1e-12));
    // Constant scores: the diagonal.
    nn::AUC flat;
    flat.update(labels, f32({0.5, 0.5, 0.5, 0.5}, {4}));
    CHECK(flat.result() == Approx(0.5));
  }
  SECTION("scores 0.1, 0.4, 0.35, 0.8 for labels 0, 0, 1, 1") {
    Tensor scores = f32({0.1, 0.4, 0.35, 0.8}, {4});
    // Five thresholds: −ε, 0.25, 0.5, 0.75, 1 + ε. (fpr, tpr) at each: (1, 1), (0.5, 1),
    // (0, 0.5), (0, 0.5), (0, 0). Trapezoids: 0.5·(1 + 1)/2 + 0.5·(1 + 0.5)/2 = 0.875.
    nn::AUC coarse("coarse", 5);
    coarse.update(labels, scores);
    CHECK(coarse.result() == Approx(0.875));
    // With the default 200 thresholds every score is separated: the exact ROC area, 0.75.
    nn::AUC fine;
    fine.update(labels, scores);
    CHECK(fine.result() == Approx(0.75));
    // Updates accumulate; reset clears.
    fine.update(f32({1, 0}, {2}), f32({0.95, 0.05}, {2}));
    // Now 3 positives (0.35, 0.8, 0.95) and 3 negatives (0.05, 0.1, 0.4): 8 of 9 pairs ordered.
    CHECK(fine.result() == Approx(8.0 / 9));
    fine.reset();
    fine.update(labels, f32({0.1, 0.2, 0.8, 0.9}, {4}));
    CHECK(fine.result() == Approx(1.0));
  }
  SECTION("sample weights count samples several times") {
    // Weight 2 on the misordered negative (0.4): pairs (pos, neg) weighted 1·1, 1·2, ...
    nn::AUC w;
    w.update(labels, f32({0.1, 0.4, 0.35, 0.8}, {4}), f32({1, 2, 1, 1}, {4}));
    // Negatives: 0.1 (w 1), 0.4 (w 2). Positives: 0.35, 0.8. Ordered pair weight: 0.35 beats
    // 0.1 (1), 0.8 beats both (3): 4 of 6.
    CHECK(w.result() == Approx(4.0 / 6));
  }
  CHECK_THROWS_AS(nn::AUC("a", 2), ValueError);
  CHECK(nn::get_metric("auc")->name() == "auc");
}

TEST_CASE("metrics are reported by fit and evaluate under their names", "[metrics][model]") {
  nn::Sequential m;
  nn::Dense d(1, {.activation = "sigmoid", .kernel_initializer = "ones", .input_shape = {1}});
  m.add(d);
  // sigmoid(x) for x = 2, −1, 0.5, −3, 1 against labels 1, 1, 0, 0, 1.
  Tensor x = f32({2, -1, 0.5, -3, 1}, {5, 1}), y = f32({1, 1, 0, 0, 1}, {5, 1});
  m.compile({.optimizer = optim::SGD({.learning_rate = 0.0}),
             .loss = "binary_crossentropy",
             .metrics = {"accuracy", "precision", "recall", "auc",
                         std::shared_ptr<nn::Metric>(std::make_shared<nn::AUC>("my_auc", 5))}});
  nn::Logs l = m.evaluate(x, y, {.batch_size = 2, .verbose = 0});
  // Predicted positive: 2, 0.5, 1 → tp 2 (2, 1), fp 1 (0.5); fn 1 (−1).
  CHECK(l["accuracy"] == Approx(3.0 / 5));
  CHECK(l["precision"] == Approx(2.0 / 3));
  CHECK(l["recall"] == Approx(2.0 / 3));
  // Positives score σ(2), σ(−1), σ(1); negatives σ(0.5), σ(−3): ordered pairs 5 of 6.
  CHECK(l["auc"] == Approx(5.0 / 6));
  CHECK(l.count("my_auc") == 1);
  nn::History h = m.fit(x, y, {.batch_size = 2, .epochs = 1, .verbose = 0, .shuffle = false});
  CHECK(h["precision"][0] == Approx(2.0 / 3));
  CHECK(h["auc"][0] == Approx(5.0 / 6));
}
