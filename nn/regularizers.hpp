// Weight regularizers l1, l2, l1_l2: penalties added to the training loss.
#pragma once
#include <functional>
#include <string>

#include "tapegrad/core/tensor.hpp"
#include "tapegrad/nn/config.hpp"

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

/// Writes r into a layer config under key: its name ("l1", "l2", "l1_l2") and factors
/// (key + "_l1", key + "_l2"); nothing for an empty one; "custom" for a user-made one (which
/// save_model refuses, as it does custom activations).
void write_regularizer(Config& c, const std::string& key, const Regularizer& r);
/// The regularizer write_regularizer stored under key (empty when absent); a "custom" one
/// throws IOError naming the layer.
Regularizer read_regularizer(const Config& c, const std::string& key, const std::string& layer);

}  // namespace tg::nn
