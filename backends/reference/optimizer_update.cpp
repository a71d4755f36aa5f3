// Reference fused optimizer updates: one loop per rule over contiguous elements (parallel when
// large), arithmetic in double in the order core/backend.hpp states the rules (Keras 3).
#include <algorithm>
#include <cmath>

#include "tapegrad/backends/reference/reference_backend.hpp"

namespace tg {

namespace {

template <class T>
T* data_of(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.storage()->data()) + t.offset() : nullptr;
}

/// Runs body(i, p, g, s0, s1, s2) for every element, with T the dtype of param (float32 or
/// float64); slot pointers are null for undefined slots. Elements update independently: large
/// tensors split over the OpenMP threads (same results).
template <class Body>
void for_each_element(const char* rule, const Tensor& param, const Tensor& grad,
                      const Tensor& s0, const Tensor& s1, const Tensor& s2, Body body) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = param.numel();
    T* p = data_of<T>(param);
    const T* g = data_of<T>(grad);
    T *a = data_of<T>(s0), *b = data_of<T>(s1), *c = data_of<T>(s2);
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; ++i) body(i, p, g, a, b, c);
  };
  switch (param.dtype()) {
    case DType::Float32:
      return run(float{});
    case DType::Float64:
      return run(double{});
    default:
      fail<BackendError>("reference ", rule, ": needs float32 or float64, got ", param.dtype());
  }
}

template <class T>
double D(T v) {
  return static_cast<double>(v);
}

}  // namespace

void ReferenceBackend::sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum,
                                  bool nesterov, const OptimizerScalars& s) {
  const bool has_m = momentum.defined();
  const double lr = s.lr, mu = s.momentum;
  for_each_element("sgd_update", param, grad, momentum, Tensor(), Tensor(),
                   [&](int64_t i, auto* p, auto* g, auto* m, auto*, auto*) {
                     using T = std::remove_pointer_t<decltype(p)>;
                     const double gi = g[i];
                     if (!has_m) {
                       p[i] = static_cast<T>(D(p[i]) - gi * lr);
                       return;
                     }
                     m[i] = static_cast<T>(D(m[i]) * mu - gi * lr);  // m = μm − lr·g
                     const double mt = D(m[i]);
                     p[i] = static_cast<T>(nesterov ? D(p[i]) + (mt * mu - gi * lr) : D(p[i]) + mt);
                   });
}

void ReferenceBackend::rmsprop_update(const Tensor& param, const Tensor& grad,
                                      const Tensor& velocity, const Tensor& average_gradient,
                                      const Tensor& momentum, const OptimizerScalars& s) {
  const bool centered = average_gradient.defined(), has_m = momentum.defined();
  const double lr = s.lr, rho = s.rho, mu = s.momentum, eps = s.epsilon;
  for_each_element("rmsprop_update", param, grad, velocity, average_gradient, momentum,
                   [&](int64_t i, auto* p, auto* g, auto* v, auto* mg, auto* ms) {
                     using T = std::remove_pointer_t<decltype(p)>;
                     const double gi = g[i];
                     v[i] = static_cast<T>(D(v[i]) * rho + gi * gi * (1.0 - rho));
                     double denom = D(v[i]);
                     if (centered) {
                       mg[i] = static_cast<T>(D(mg[i]) * rho + gi * (1.0 - rho));
                       const double a = D(mg[i]);
                       denom -= a * a;
                     }
                     const double inc = gi * lr / std::sqrt(denom + eps);
                     if (has_m) {
                       ms[i] = static_cast<T>(D(ms[i]) * mu + inc);
                       p[i] = static_cast<T>(D(p[i]) - D(ms[i]));
                     } else {
                       p[i] = static_cast<T>(D(p[i]) - inc);
                     }
                   });
}

void ReferenceBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                                   const Tensor& v, const Tensor& vhat,
                                   const OptimizerScalars& s) {
  const bool ams = vhat.defined();
  const double b1 = s.beta_1, b2 = s.beta_2, eps = s.epsilon, step = s.step_size;
  for_each_element("adam_update", param, grad, m, v, vhat,
                   [&](int64_t i, auto* p, auto* g, auto* m1, auto* v2, auto* vh) {
                     using T = std::remove_pointer_t<decltype(p)>;
                     const double gi = g[i];
                     m1[i] = static_cast<T>(D(m1[i]) * b1 + gi * (1.0 - b1));
                     v2[i] = static_cast<T>(D(v2[i]) * b2 + gi * gi * (1.0 - b2));
                     double vv = D(v2[i]);
                     if (ams) {
                       vh[i] = std::max(vh[i], v2[i]);
                       vv = D(vh[i]);
                     }
                     p[i] = static_cast<T>(D(p[i]) - D(m1[i]) * step / (std::sqrt(vv) + eps));
                   });
}

void ReferenceBackend::adagrad_update(const Tensor& param, const Tensor& grad,
                                      const Tensor& accumulator, const OptimizerScalars& s) {
  const double lr = s.lr, eps = s.epsilon;
  for_each_element("adagrad_update", param, grad, accumulator, Tensor(), Tensor(),
                   [&](int64_t i, auto* p, auto* g, auto* acc, auto*, auto*) {
                     using T = std::remove_pointer_t<decltype(p)>;
                     const double gi = g[i];
                     acc[i] = static_cast<T>(D(acc[i]) + gi * gi);
                     p[i] = static_cast<T>(D(p[i]) - gi * lr / std::sqrt(D(acc[i]) + eps));
                   });
}

void ReferenceBackend::adadelta_update(const Tensor& param, const Tensor& grad,
                                       const Tensor& accumulated_grad,
                                       const Tensor& accumulated_delta_var,
                                       const OptimizerScalars& s) {
  const double lr = s.lr, rho = s.rho, eps = s.epsilon;
  for_each_element("adadelta_update", param, grad, accumulated_grad, accumulated_delta_var,
                   Tensor(), [&](int64_t i, auto* p, auto* g, auto* ag, auto* ad, auto*) {
                     using T = std::remove_pointer_t<decltype(p)>;
                     const double gi = g[i];
                     ag[i] = static_cast<T>(D(ag[i]) * rho + gi * gi * (1.0 - rho));
                     const double delta = std::sqrt(D(ad[i]) + eps) / std::sqrt(D(ag[i]) + eps) * gi;
                     ad[i] = static_cast<T>(D(ad[i]) * rho + delta * delta * (1.0 - rho));
                     p[i] = static_cast<T>(D(p[i]) - delta * lr);
                   });
}

void ReferenceBackend::adamax_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                                     const Tensor& u, const OptimizerScalars& s) {
  const double b1 = s.beta_1, b2 = s.beta_2, eps = s.epsilon, step = s.step_size;
  for_each_element("adamax_update", param, grad, m, u, Tensor(),
                   [&](int64_t i, auto* p, auto* g, auto* m1, auto* uu, auto*) {
                     using T = std::remove_pointer_t<decltype(p)>;
                     const double gi = g[i];
                     m1[i] = static_cast<T>(D(m1[i]) * b1 + gi * (1.0 - b1));
                     uu[i] = static_cast<T>(std::max(D(uu[i]) * b2, std::abs(gi)));
                     p[i] = static_cast<T>(D(p[i]) - D(m1[i]) * step / (D(uu[i]) + eps));
                   });
}

void ReferenceBackend::nadam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                                    const Tensor& v, const OptimizerScalars& s) {
  const double lr = s.lr, b1 = s.beta_1, b2 = s.beta_2, eps = s.epsilon;
  for_each_element("nadam_update", param, grad, m, v, Tensor(),
                   [&](int64_t i, auto* p, auto* g, auto* m1, auto* v2, auto*) {
                     using T = std::remove_pointer_t<decltype(p)>;
                     const double gi = g[i];
                     m1[i] = static_cast<T>(D(m1[i]) * b1 + gi * (1.0 - b1));
                     v2[i] = static_cast<T>(D(v2[i]) * b2 + gi * gi * (1.0 - b2));
                     const double m_hat = D(m1[i]) * s.m_coef + gi * s.g_coef;
                     const double v_hat = D(v2[i]) / s.v_correction;
                     p[i] = static_cast<T>(D(p[i]) - m_hat * lr / (std::sqrt(v_hat) + eps));
                   });
}

}  // namespace tg
