// See anomaly_user_code.hpp. Each constant is the line of the op call right below it.
#include "autograd/anomaly_user_code.hpp"

namespace anomaly_user {
using namespace tg;

const int kLogLine = __LINE__ + 2;
Tensor user_log(const Tensor& x) {
  return log(x);
}

const int kDivLine = __LINE__ + 2;
Tensor user_div(const Tensor& a, const Tensor& b) {
  return a / b;
}

const int kSqrtLine = __LINE__ + 2;
Tensor user_sqrt_sum(const Tensor& x) {
  Tensor r = sqrt(x);
  return sum(r);
}

const int kLossLine = __LINE__ + 2;
Tensor user_log_loss(const Tensor&, const Tensor& y_pred) {
  Tensor l = log(y_pred);
  return mean(l, {-1});
}
}  // namespace anomaly_user
