// Losses (Keras names): per-sample functions, and Loss objects that reduce them.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "tapegrad/core/tensor.hpp"

namespace tg::nn {

/// How a Loss reduces per-sample losses.
enum class Reduction { None, Sum, SumOverBatchSize };

namespace losses {
/// Keras' epsilon for clipping probabilities.
inline constexpr double kEpsilon = 1e-7;

// Each returns one loss per sample: the mean (or sum) over the last axis, as Keras.
Tensor mean_squared_error(const Tensor& y_true, const Tensor& y_pred);
Tensor mean_absolute_error(const Tensor& y_true, const Tensor& y_pred);
/// 100 · mean(|(y_true − y_pred) / max(|y_true|, ε)|).
Tensor mean_absolute_percentage_error(const Tensor& y_true, const Tensor& y_pred);
/// mean((log(max(y_pred, ε) + 1) − log(max(y_true, ε) + 1))²).
Tensor mean_squared_logarithmic_error(const Tensor& y_true, const Tensor& y_pred);
/// Quadratic within delta of the target, linear beyond.
Tensor huber(const Tensor& y_true, const Tensor& y_pred, double delta = 1.0);
/// mean(log(cosh(y_pred − y_true))), computed stably.
Tensor log_cosh(const Tensor& y_true, const Tensor& y_pred);
/// Probabilities clipped to [ε, 1 − ε], or logits with the stable closed form.
Tensor binary_crossentropy(const Tensor& y_true, const Tensor& y_pred, bool from_logits = false,
                           double label_smoothing = 0.0);
/// One-hot targets. Probabilities are rescaled to sum to 1, then clipped; logits go through
/// log_softmax (stable for extreme logits).
Tensor categorical_crossentropy(const Tensor& y_true, const Tensor& y_pred,
                                bool from_logits = false, double label_smoothing = 0.0,
                                int64_t axis = -1);
/// Integer class targets of shape [batch] (or [batch, 1]).
Tensor sparse_categorical_crossentropy(const Tensor& y_true, const Tensor& y_pred,
                                       bool from_logits = false, int64_t axis = -1);
/// Σ y_true · log(y_true / y_pred), both clipped to [ε, 1].
Tensor kl_divergence(const Tensor& y_true, const Tensor& y_pred);
/// mean(y_pred − y_true · log(y_pred + ε)).
Tensor poisson(const Tensor& y_true, const Tensor& y_pred);
/// mean(max(1 − y_true · y_pred, 0)); labels in {0, 1} are mapped to {−1, +1}.
Tensor hinge(const Tensor& y_true, const Tensor& y_pred);
/// mean(max(1 − y_true · y_pred, 0)²) with the same label mapping.
Tensor squared_hinge(const Tensor& y_true, const Tensor& y_pred);
/// max(max((1 − y_true) · y_pred) − Σ y_true · y_pred + 1, 0).
Tensor categorical_hinge(const Tensor& y_true, const Tensor& y_pred);
/// −Σ (y_true/‖y_true‖) · (y_pred/‖y_pred‖) along axis (the negative similarity, as Keras).
Tensor cosine_similarity(const Tensor& y_true, const Tensor& y_pred, int64_t axis = -1);
/// CTC loss, one value per sample [batch]: y_true holds int (or whole float) labels (batch,
/// max_label_length), y_pred logits (batch, time, classes). Undefined lengths mean the full
/// lengths (as Keras' `ctc`); blank is the blank class (0 as Keras 3; −1 for older Keras).
Tensor ctc(const Tensor& y_true, const Tensor& y_pred, const Tensor& label_lengths = Tensor(),
           const Tensor& logit_lengths = Tensor(), int64_t blank = 0);
}  // namespace losses

/// A loss function of (y_true, y_pred) → per-sample losses (or any shape: it is reduced).
using LossFunction = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)>;

/// A loss with a name and a reduction. Converts from a Keras name ("mse",
/// "categorical_crossentropy", ...) or from any function of (y_true, y_pred).
class Loss {
 public:
  Loss() = default;
  Loss(const std::string& name);
  Loss(const char* name) : Loss(std::string(name)) {}
  Loss(LossFunction fn, std::string name = "custom",
       Reduction reduction = Reduction::SumOverBatchSize)
      : name_(std::move(name)), fn_(std::move(fn)), reduction_(reduction) {}

  /// Reduced loss (a scalar unless Reduction::None). sample_weight, when given, has one weight
  /// per sample (broadcast against the per-sample losses).
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred,
                    const Tensor& sample_weight = Tensor()) const;
  const std::string& name() const { return name_; }
  bool defined() const { return static_cast<bool>(fn_); }
  Reduction reduction() const { return reduction_; }

 private:
  std::string name_;
  LossFunction fn_;
  Reduction reduction_ = Reduction::SumOverBatchSize;
};

/// Reduces per-sample losses with optional sample weights (Keras: weighted sum / batch size);
/// name is the loss reported when the weights do not fit the batch.
Tensor reduce_loss(const Tensor& per_sample, Reduction reduction,
                   const Tensor& sample_weight = Tensor(), std::string_view name = "loss");

}  // namespace tg::nn
