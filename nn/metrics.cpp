// Metric accumulators and the accuracy family.
#include "tapegrad/nn/metrics.hpp"

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/losses.hpp"

namespace tg::nn {

namespace {
/// Integer labels of y_true ([..., 1] squeezed), checked against y_pred minus its class axis.
Tensor labels_of(std::string_view metric, const Tensor& y_true, const Tensor& y_pred) {
  Tensor t = y_true.detach();
  if (t.dim() == y_pred.dim() && t.dim() > 0 && t.shape().back() == 1) t = t.squeeze(-1);
  if (y_pred.dim() == 0 || t.shape() != Shape(y_pred.shape().begin(), y_pred.shape().end() - 1))
    fail<ShapeError>(metric, ": labels of shape ", y_true.shape(),
                     " do not match predictions ", y_pred.shape());
  return t.to(kInt64);
}
/// Throws IndexError naming metric when a label is outside [0, classes).
void check_labels(std::string_view metric, const Tensor& labels, int64_t classes) {
  if (labels.numel() == 0) return;
  const int64_t lo = min(labels).item<int64_t>(), hi = max(labels).item<int64_t>();
  if (lo < 0 || hi >= classes)
    fail<IndexError>(metric, ": label ", lo < 0 ? lo : hi, " out of range for ", classes,
                     " classes");
}
/// 1 where label's prediction is among the k largest (ties count in favour).
Tensor in_top_k(const Tensor& y_pred, const Tensor& labels, int64_t k) {
  Tensor target = take_along_axis(y_pred, labels.unsqueeze(-1), -1);  // [..., 1]
  Tensor larger = sum(gt(y_pred, target).to(kInt64), {-1});
  return lt(larger, static_cast<double>(k)).to(kFloat32);
}
}  // namespace

void MeanMetric::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sw) {
  NoGrad ng;
  // Sums in the values' own dtype (float32 counts are exact to 2^24 per batch): devices without
  // float64 support run metrics too.
  ErrorContext ctx(name().c_str());  // inner ops' errors name this metric
  Tensor v = fn_(y_true.detach(), y_pred.detach());
  if (!is_floating(v.dtype())) v = v.to(kFloat32);
  if (sw.defined()) {
    Tensor w = sw.detach().to(v.dtype());
    while (w.dim() > v.dim() && w.shape().back() == 1) w = w.squeeze(-1);
    if (w.dim() > v.dim() || (w.dim() > 0 && v.dim() > 0 && w.shape()[0] != v.shape()[0]))
      fail<ShapeError>(name(), ": sample_weight of shape ", sw.shape(), " does not match ",
                       v.shape());
    while (w.dim() < v.dim()) w = w.unsqueeze(-1);
    w = w.expand(v.shape());
    total_ += sum(mul(v, w)).item<double>();
    count_ += sum(w).item<double>();
  } else {
    total_ += sum(v).item<double>();
    count_ += static_cast<double>(v.numel());
  }
}

namespace {
/// Checks binary-metric operands: y_true of y_pred's shape (a trailing 1 on either side may
/// differ), sample weights one per sample.
void check_binary(const std::string& metric, const Tensor& y_true, const Tensor& y_pred,
                  const Tensor& sw) {
  auto squeezed = [](Shape s) {
    if (!s.empty() && s.back() == 1) s.pop_back();
    return s;
  };
  if (y_pred.dim() == 0 || squeezed(y_true.shape()) != squeezed(y_pred.shape()))
    fail<ShapeError>(metric, ": y_true shape ", y_true.shape(), " does not match y_pred shape ",
                     y_pred.shape());
  if (sw.defined() && sw.numel() != y_pred.shape()[0])
    fail<ShapeError>(metric, ": sample_weight of shape ", sw.shape(), " does not match ",
                     y_pred.shape()[0], " samples");
}
}  // namespace

void PrecisionRecall::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sw) {
  NoGrad ng;
  check_binary(name(), y_true, y_pred, sw);
  Tensor p = gt(y_pred.detach(), threshold_).to(kFloat32);
  Tensor t = gt(y_true.detach().to(kFloat32), 0.5).to(kFloat32).reshape(p.shape());
  Tensor w = sw.defined()
                 ? sw.detach()
                       .to(kFloat32)
                       .reshape({-1, 1})
                       .expand({p.shape()[0], p.numel() / std::max<int64_t>(p.shape()[0], 1)})
                       .reshape(p.shape())
                 : ones_like(p);
  tp_ += sum(mul(mul(p, t), w)).item<double>();
  fp_ += sum(mul(mul(p, sub(1.0, t)), w)).item<double>();
  fn_ += sum(mul(mul(sub(1.0, p), t), w)).item<double>();
}
double PrecisionRecall::result() const {
  const double d = recall_ ? tp_ + fn_ : tp_ + fp_;
  return d > 0 ? tp_ / d : 0.0;
}

AUC::AUC(std::string name, int n) : Metric(std::move(name)), num_thresholds_(n) {
  if (n < 3) fail<ValueError>("AUC: num_thresholds must be at least 3, got ", n);
  reset();
}
void AUC::reset() {
  tp_.assign(num_thresholds_, 0);
  fp_.assign(num_thresholds_, 0);
  tn_.assign(num_thresholds_, 0);
  fn_.assign(num_thresholds_, 0);
}
void AUC::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sw) {
  NoGrad ng;
  check_binary(name(), y_true, y_pred, sw);
  std::vector<double> p = y_pred.to_vector<double>(), t = y_true.to_vector<double>();
  std::vector<double> w;
  if (sw.defined()) w = sw.to_vector<double>();
  const size_t per = w.empty() ? 1 : std::max<size_t>(1, p.size() / w.size());
  for (size_t j = 0; j < p.size(); ++j) {
    const double wt = w.empty() ? 1.0 : w[j / per];
    const bool pos = t[j] > 0.5;
    for (int i = 0; i < num_thresholds_; ++i) {
      // Thresholds: 0 − ε, evenly spaced, 1 + ε (as Keras).
      const double th =
          i == 0 ? -1e-7
                 : (i == num_thresholds_ - 1 ? 1.0 + 1e-7
                                             : static_cast<double>(i) / (num_thresholds_ - 1));
      const bool pred = p[j] > th;
      if (pred && pos)
        tp_[i] += wt;
      else if (pred)
        fp_[i] += wt;
      else if (pos)
        fn_[i] += wt;
      else
        tn_[i] += wt;
    }
  }
}
double AUC::result() const {
  double area = 0;
  for (int i = 0; i + 1 < num_thresholds_; ++i) {
    auto tpr = [&](int k) { return tp_[k] + fn_[k] > 0 ? tp_[k] / (tp_[k] + fn_[k]) : 0.0; };
    auto fpr = [&](int k) { return fp_[k] + tn_[k] > 0 ? fp_[k] / (fp_[k] + tn_[k]) : 0.0; };
    area += (fpr(i) - fpr(i + 1)) * (tpr(i) + tpr(i + 1)) / 2.0;
  }
  return area;
}

namespace metrics {
Tensor binary_accuracy(const Tensor& y_true, const Tensor& y_pred, double threshold) {
  check_binary("binary_accuracy", y_true, y_pred, Tensor());
  Tensor p = gt(y_pred, threshold).to(kFloat32);
  Tensor t = y_true.to(kFloat32).reshape(p.shape());
  Tensor eqv = eq(t, p).to(kFloat32);
  return eqv.dim() > 1 ? mean(eqv, {-1}) : eqv;
}
Tensor categorical_accuracy(const Tensor& y_true, const Tensor& y_pred) {
  if (y_true.shape() != y_pred.shape())
    fail<ShapeError>("categorical_accuracy: y_true shape ", y_true.shape(),
                     " does not match y_pred shape ", y_pred.shape(),
                     " (use sparse_categorical_accuracy for integer labels)");
  return eq(argmax(y_true, -1), argmax(y_pred, -1)).to(kFloat32);
}
Tensor sparse_categorical_accuracy(const Tensor& y_true, const Tensor& y_pred) {
  return eq(labels_of("sparse_categorical_accuracy", y_true, y_pred), argmax(y_pred, -1))
      .to(kFloat32);
}
Tensor top_k_categorical_accuracy(const Tensor& y_true, const Tensor& y_pred, int64_t k) {
  if (y_true.shape() != y_pred.shape())
    fail<ShapeError>("top_k_categorical_accuracy: y_true shape ", y_true.shape(),
                     " does not match y_pred shape ", y_pred.shape(),
                     " (use sparse_top_k_categorical_accuracy for integer labels)");
  return in_top_k(y_pred, argmax(y_true, -1), k);
}
Tensor sparse_top_k_categorical_accuracy(const Tensor& y_true, const Tensor& y_pred, int64_t k) {
  Tensor labels = labels_of("sparse_top_k_categorical_accuracy", y_true, y_pred);
  check_labels("sparse_top_k_categorical_accuracy", labels, y_pred.shape().back());
  return in_top_k(y_pred, labels, k);
}
}  // namespace metrics

std::shared_ptr<Metric> get_metric(const std::string& name, const std::string& loss,
                                   const Shape& out) {
  using namespace metrics;
  auto mk = [&](std::string n, MeanMetric::Fn f) {
    return std::make_shared<MeanMetric>(std::move(n), std::move(f));
  };
  if (name == "accuracy" || name == "acc") {
    // Keras: binary when the loss is binary or the output has one unit; sparse for the sparse
    // loss; categorical otherwise.
    if (loss == "binary_crossentropy" || (!out.empty() && out.back() == 1))
      return mk(name, [](const Tensor& t, const Tensor& p) { return binary_accuracy(t, p); });
    if (loss == "sparse_categorical_crossentropy") return mk(name, sparse_categorical_accuracy);
    return mk(name, [](const Tensor& t, const Tensor& p) {
      // The output shape may be unknown at compile (a Sequential model built on its first batch).
      if (p.dim() >= 1 && p.shape().back() == 1) return binary_accuracy(t, p);
      if (t.shape() != p.shape()) return sparse_categorical_accuracy(t, p);
      return categorical_accuracy(t, p);
    });
  }
  if (name == "binary_accuracy")
    return mk(name, [](const Tensor& t, const Tensor& p) { return binary_accuracy(t, p); });
  if (name == "categorical_accuracy") return mk(name, categorical_accuracy);
  if (name == "sparse_categorical_accuracy") return mk(name, sparse_categorical_accuracy);
  if (name == "top_k_categorical_accuracy")
    return mk(name,
              [](const Tensor& t, const Tensor& p) { return top_k_categorical_accuracy(t, p); });
  if (name == "sparse_top_k_categorical_accuracy")
    return mk(name, [](const Tensor& t, const Tensor& p) {
      return sparse_top_k_categorical_accuracy(t, p);
    });
  if (name == "mae" || name == "mean_absolute_error") return mk(name, losses::mean_absolute_error);
  if (name == "mse" || name == "mean_squared_error") return mk(name, losses::mean_squared_error);
  if (name == "precision") return std::make_shared<PrecisionRecall>(name, false);
  if (name == "recall") return std::make_shared<PrecisionRecall>(name, true);
  if (name == "auc") return std::make_shared<AUC>(name);
  fail<ValueError>("get_metric: unknown metric '", name, "'");
}

}  // namespace tg::nn
