// Reference optimizer updates: one loop per rule over contiguous elements (parallel when large),
// arithmetic in double in the order nn/optimizer.cpp's op sequences used (Keras 3 formulas).
#include <algorithm>
#include <cmath>

#include "tapegrad/backends/reference/reference_backend.hpp"

namespace tg {

namespace {

template <class T>
T* data_of(const Tensor& t) {
  return static_cast<T*>(t.storage()->data()) + t.offset();
}

// Elements update independently: large tensors split over the OpenMP threads (same results).
#define TG_PARALLEL_FOR _Pragma("omp parallel for schedule(static) if (n >= 65536)")

template <class T>
void update_loop(OptimizerKind kind, const Tensor& param, const Tensor& grad,
                 const std::vector<Tensor>& slots, const OptimizerUpdate& u) {
  const int64_t n = param.numel();
  T* p = data_of<T>(param);
  const T* g = data_of<T>(grad);
  T* s0 = slots.size() > 0 ? data_of<T>(slots[0]) : nullptr;
  T* s1 = slots.size() > 1 ? data_of<T>(slots[1]) : nullptr;
  T* s2 = slots.size() > 2 ? data_of<T>(slots[2]) : nullptr;
  const double lr = u.lr, b1 = u.beta_1, b2 = u.beta_2, rho = u.rho, mu = u.momentum,
               eps = u.epsilon;
  auto P = [&](int64_t i) { return static_cast<double>(p[i]); };
  switch (kind) {
    case OptimizerKind::Sgd:
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(P(i) - g[i] * lr);
      return;
    case OptimizerKind::SgdMomentum:
    case OptimizerKind::SgdNesterov: {
      const bool nesterov = kind == OptimizerKind::SgdNesterov;
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i];
        const double m = static_cast<double>(s0[i]) * mu - gi * lr;  // m = μm − lr·g
        s0[i] = static_cast<T>(m);
        const double mt = static_cast<double>(s0[i]);
        p[i] = static_cast<T>(nesterov ? P(i) + (mt * mu - gi * lr) : P(i) + mt);
      }
      return;
    }
    case OptimizerKind::RMSprop:
    case OptimizerKind::RMSpropMomentum:
    case OptimizerKind::RMSpropCentered:
    case OptimizerKind::RMSpropCenteredMomentum: {
      const bool centered =
          kind == OptimizerKind::RMSpropCentered || kind == OptimizerKind::RMSpropCenteredMomentum;
      const bool momentum =
          kind == OptimizerKind::RMSpropMomentum || kind == OptimizerKind::RMSpropCenteredMomentum;
      T* mg = centered ? s1 : nullptr;
      T* ms = momentum ? (centered ? s2 : s1) : nullptr;
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i];
        s0[i] = static_cast<T>(static_cast<double>(s0[i]) * rho + gi * gi * (1.0 - rho));
        double denom = static_cast<double>(s0[i]);
        if (centered) {
          mg[i] = static_cast<T>(static_cast<double>(mg[i]) * rho + gi * (1.0 - rho));
          const double a = static_cast<double>(mg[i]);
          denom -= a * a;
        }
        const double inc = gi * lr / std::sqrt(denom + eps);
        if (momentum) {
          ms[i] = static_cast<T>(static_cast<double>(ms[i]) * mu + inc);
          p[i] = static_cast<T>(P(i) - static_cast<double>(ms[i]));
        } else {
          p[i] = static_cast<T>(P(i) - inc);
        }
      }
      return;
    }
    case OptimizerKind::Adam:
    case OptimizerKind::AdamAmsgrad: {
      const bool ams = kind == OptimizerKind::AdamAmsgrad;
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i];
        s0[i] = static_cast<T>(static_cast<double>(s0[i]) * b1 + gi * (1.0 - b1));
        s1[i] = static_cast<T>(static_cast<double>(s1[i]) * b2 + gi * gi * (1.0 - b2));
        double vv = static_cast<double>(s1[i]);
        if (ams) {
          s2[i] = std::max(s2[i], s1[i]);
          vv = static_cast<double>(s2[i]);
        }
        p[i] =
            static_cast<T>(P(i) - static_cast<double>(s0[i]) * u.step_size / (std::sqrt(vv) + eps));
      }
      return;
    }
    case OptimizerKind::Adagrad:
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i];
        s0[i] = static_cast<T>(static_cast<double>(s0[i]) + gi * gi);
        p[i] = static_cast<T>(P(i) - gi * lr / std::sqrt(static_cast<double>(s0[i]) + eps));
      }
      return;
    case OptimizerKind::Adadelta:
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i];
        s0[i] = static_cast<T>(static_cast<double>(s0[i]) * rho + gi * gi * (1.0 - rho));
        const double delta = std::sqrt(static_cast<double>(s1[i]) + eps) /
                             std::sqrt(static_cast<double>(s0[i]) + eps) * gi;
        s1[i] = static_cast<T>(static_cast<double>(s1[i]) * rho + delta * delta * (1.0 - rho));
        p[i] = static_cast<T>(P(i) - delta * lr);
      }
      return;
    case OptimizerKind::Adamax:
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i];
        s0[i] = static_cast<T>(static_cast<double>(s0[i]) * b1 + gi * (1.0 - b1));
        s1[i] = static_cast<T>(std::max(static_cast<double>(s1[i]) * b2, std::abs(gi)));
        p[i] = static_cast<T>(P(i) - static_cast<double>(s0[i]) * u.step_size /
                                         (static_cast<double>(s1[i]) + eps));
      }
      return;
    case OptimizerKind::Nadam:
      TG_PARALLEL_FOR
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i];
        s0[i] = static_cast<T>(static_cast<double>(s0[i]) * b1 + gi * (1.0 - b1));
        s1[i] = static_cast<T>(static_cast<double>(s1[i]) * b2 + gi * gi * (1.0 - b2));
        const double m_hat = static_cast<double>(s0[i]) * u.m_coef + gi * u.g_coef;
        const double v_hat = static_cast<double>(s1[i]) / u.v_correction;
        p[i] = static_cast<T>(P(i) - m_hat * lr / (std::sqrt(v_hat) + eps));
      }
      return;
  }
}

}  // namespace

void ReferenceBackend::optimizer_update(OptimizerKind kind, const Tensor& param, const Tensor& grad,
                                        const std::vector<Tensor>& slots,
                                        const OptimizerUpdate& u) {
  switch (param.dtype()) {
    case DType::Float32:
      return update_loop<float>(kind, param, grad, slots, u);
    case DType::Float64:
      return update_loop<double>(kind, param, grad, slots, u);
    default:
      fail<BackendError>("reference optimizer_update: needs float32 or float64, got ",
                         param.dtype());
  }
}

}  // namespace tg
