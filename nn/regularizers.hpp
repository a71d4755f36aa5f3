// Weight regularizers l1, l2, l1_l2: penalties added to the training loss.
#pragma once
#include <functional>
#include <string>

#include "core/tensor.hpp"

namespace tg::nn {

/// A penalty on a weight; an empty Regularizer means none.
struct Regularizer {
  std::function<Tensor(const Tensor&)> fn;
  std::string name;
  double l1 = 0, l2 = 0;
  explicit operator bool() const { return static_cast<bool>(fn); }
  Tensor operator()(const Tensor& w) const { return fn(w); }
};

namespace regularizers {
/// l1 · Σ|w|.
Regularizer l1(double l1 = 0.01);
/// l2 · Σw² (Keras' l2 has no ½).
Regularizer l2(double l2 = 0.01);
/// l1 · Σ|w| + l2 · Σw².
Regularizer l1_l2(double l1 = 0.01, double l2 = 0.01);
}  // namespace regularizers

}  // namespace tg::nn
