// Reference batch normalization over rows (M, C), accumulating in double.
#include <cmath>
#include <vector>

#include "tapegrad/backends/reference/reference_backend.hpp"

namespace tg {

namespace {
template <class T>
T* at(const Tensor& t) {
  return static_cast<T*>(t.storage()->data()) + t.offset();
}
}  // namespace

void ReferenceBackend::batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  const Tensor& mean, const Tensor& var, double eps, bool training,
                                  const Tensor& y) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const int64_t c = x.shape().back(), m = x.numel() / c;
      const T* xs = at<T>(x);
      T* mu = at<T>(mean);
      T* va = at<T>(var);
      if (training) {
        std::vector<double> s(static_cast<size_t>(c), 0.0), s2(static_cast<size_t>(c), 0.0);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t j = 0; j < c; ++j) s[j] += xs[r * c + j];
        for (int64_t j = 0; j < c; ++j) s[j] /= static_cast<double>(m);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t j = 0; j < c; ++j) {
            const double d = xs[r * c + j] - s[j];
            s2[j] += d * d;
          }
        for (int64_t j = 0; j < c; ++j) {
          mu[j] = static_cast<T>(s[j]);
          va[j] = static_cast<T>(s2[j] / static_cast<double>(m));
        }
      }
      const T* g = at<T>(gamma);
      const T* b = at<T>(beta);
      T* ys = at<T>(y);
      for (int64_t j = 0; j < c; ++j) {
        const double rstd = 1.0 / std::sqrt(double(va[j]) + eps);
        for (int64_t r = 0; r < m; ++r)
          ys[r * c + j] = static_cast<T>((double(xs[r * c + j]) - mu[j]) * rstd * g[j] + b[j]);
      }
    } else {
      fail<BackendError>("reference batch_norm: needs a floating dtype");
    }
  });
}

void ReferenceBackend::batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& gamma,
                                           const Tensor& mean, const Tensor& var, double eps,
                                           const Tensor& gx, const Tensor& ggamma,
                                           const Tensor& gbeta) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const int64_t c = x.shape().back(), m = x.numel() / c;
      const T *xs = at<T>(x), *gys = at<T>(gy), *g = at<T>(gamma), *mu = at<T>(mean),
              *va = at<T>(var);
      T *gxs = at<T>(gx), *gg = at<T>(ggamma), *gb = at<T>(gbeta);
      for (int64_t j = 0; j < c; ++j) {
        const double rstd = 1.0 / std::sqrt(double(va[j]) + eps);
        double sum_g = 0, sum_gx = 0;  // Σ gy and Σ gy·x̂
        for (int64_t r = 0; r < m; ++r) {
          const double xh = (double(xs[r * c + j]) - mu[j]) * rstd;
          sum_g += gys[r * c + j];
          sum_gx += gys[r * c + j] * xh;
        }
        gg[j] = static_cast<T>(sum_gx);
        gb[j] = static_cast<T>(sum_g);
        // dx = γ·rstd/M · (M·gy − Σgy − x̂·Σ(gy·x̂))
        const double k = double(g[j]) * rstd / static_cast<double>(m);
        for (int64_t r = 0; r < m; ++r) {
          const double xh = (double(xs[r * c + j]) - mu[j]) * rstd;
          gxs[r * c + j] =
              static_cast<T>(k * (static_cast<double>(m) * gys[r * c + j] - sum_g - xh * sum_gx));
        }
      }
    } else {
      fail<BackendError>("reference batch_norm_backward: needs a floating dtype");
    }
  });
}

}  // namespace tg
