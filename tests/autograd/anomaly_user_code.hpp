// "User code" for the anomaly-mode tests: compiled with -g -O0 (tests/meson.build) so that
// addr2line resolves each op call to the line recorded next to it.
#pragma once
#include <tapegrad/tapegrad.hpp>

namespace anomaly_user {
extern const int kLogLine;   ///< the line of the log call in user_log
extern const int kDivLine;   ///< the line of the `a / b` in user_div
extern const int kSqrtLine;  ///< the line of the sqrt call in user_sqrt_sum
extern const int kLossLine;  ///< the line of the log call in user_log_loss
tg::Tensor user_log(const tg::Tensor& x);
tg::Tensor user_div(const tg::Tensor& a, const tg::Tensor& b);
tg::Tensor user_sqrt_sum(const tg::Tensor& x);
/// A custom loss: mean(log(y_pred)) (NaN as soon as a prediction is negative).
tg::Tensor user_log_loss(const tg::Tensor& y_true, const tg::Tensor& y_pred);
}  // namespace anomaly_user
