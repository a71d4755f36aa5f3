// Metrics (Keras names): stateful accumulators updated per batch and read per epoch.
#pragma once
#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/core/tensor.hpp"

namespace tg::nn {

/// A metric accumulated over batches. Updates run without recording on the tape.
class Metric {
 public:
  explicit Metric(std::string name) : name_(std::move(name)) {}
  virtual ~Metric() = default;
  /// Adds a batch.
  virtual void update(const Tensor& y_true, const Tensor& y_pred,
                      const Tensor& sample_weight = Tensor()) = 0;
  /// The value over everything added since the last reset.
  virtual double result() const = 0;
  virtual void reset() = 0;
  /// A fresh metric of the same kind.
  virtual std::shared_ptr<Metric> clone() const = 0;
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

 private:
  std::string name_;
};

/// Weighted mean of a per-sample function (accuracy, mae, ...).
class MeanMetric : public Metric {
 public:
  using Fn = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)>;
  MeanMetric(std::string name, Fn fn) : Metric(std::move(name)), fn_(std::move(fn)) {}
  void update(const Tensor& y_true, const Tensor& y_pred,
              const Tensor& sample_weight = Tensor()) override;
  double result() const override { return count_ > 0 ? total_ / count_ : 0.0; }
  void reset() override { total_ = count_ = 0; }
  std::shared_ptr<Metric> clone() const override {
    return std::make_shared<MeanMetric>(name(), fn_);
  }

 private:
  Fn fn_;
  double total_ = 0, count_ = 0;
};

/// Precision (or recall) of thresholded predictions: tp / (tp + fp) (or tp / (tp + fn)).
class PrecisionRecall : public Metric {
 public:
  PrecisionRecall(std::string name, bool recall, double threshold = 0.5)
      : Metric(std::move(name)), recall_(recall), threshold_(threshold) {}
  void update(const Tensor& y_true, const Tensor& y_pred,
              const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset() override { tp_ = fp_ = fn_ = 0; }
  std::shared_ptr<Metric> clone() const override {
    return std::make_shared<PrecisionRecall>(name(), recall_, threshold_);
  }

 private:
  bool recall_;
  double threshold_;
  double tp_ = 0, fp_ = 0, fn_ = 0;
};

/// Area under the ROC curve from confusion counts at num_thresholds evenly spaced thresholds.
class AUC : public Metric {
 public:
  explicit AUC(std::string name = "auc", int num_thresholds = 200);
  void update(const Tensor& y_true, const Tensor& y_pred,
              const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset() override;
  std::shared_ptr<Metric> clone() const override {
    return std::make_shared<AUC>(name(), num_thresholds_);
  }

 private:
  int num_thresholds_;
  std::vector<double> tp_, fp_, tn_, fn_;
};

namespace metrics {
/// 1 where (y_pred > threshold) equals y_true, averaged over the last axis.
Tensor binary_accuracy(const Tensor& y_true, const Tensor& y_pred, double threshold = 0.5);
/// 1 where argmax(y_true) == argmax(y_pred).
Tensor categorical_accuracy(const Tensor& y_true, const Tensor& y_pred);
/// 1 where the integer label equals argmax(y_pred).
Tensor sparse_categorical_accuracy(const Tensor& y_true, const Tensor& y_pred);
/// 1 where argmax(y_true) is among the k largest predictions.
Tensor top_k_categorical_accuracy(const Tensor& y_true, const Tensor& y_pred, int64_t k = 5);
/// 1 where the integer label is among the k largest predictions.
Tensor sparse_top_k_categorical_accuracy(const Tensor& y_true, const Tensor& y_pred, int64_t k = 5);
}  // namespace metrics

/// A metric by Keras name. "accuracy"/"acc" is resolved Keras' way from the loss name and the
/// output shape (binary, sparse categorical or categorical accuracy).
std::shared_ptr<Metric> get_metric(const std::string& name, const std::string& loss_name = "",
                                   const Shape& output_shape = {});

/// A metric given by name or object (what compile accepts).
struct MetricArg {
  MetricArg(const char* n) : name(n) {}
  MetricArg(std::string n) : name(std::move(n)) {}
  template <class M>
  requires std::derived_from<M, Metric> MetricArg(std::shared_ptr<M> m) : metric(std::move(m)) {}
  std::string name;
  std::shared_ptr<Metric> metric;
};

}  // namespace tg::nn
