// Merge layers: Add, Subtract, Multiply, Average, Concatenate (several inputs, one output).
#pragma once
#include <string>

#include "tapegrad/nn/layer.hpp"

namespace tg::nn {

/// Options of the merge layers.
struct MergeOptions {
  int64_t axis = -1;  ///< Concatenate only
  std::string name = "";
};

/// Combines its inputs elementwise (with broadcasting) or by concatenation.
class MergeLayer : public Layer {
 public:
  /// kind: "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum" or "Concatenate".
  MergeLayer(std::string kind, MergeOptions opts = {});
  std::vector<Tensor> call_multi(const std::vector<Tensor>& inputs, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const std::string& kind, const Config& c);

 private:
  MergeOptions o_;
};

/// Handle of a merge layer: called on a list of inputs, returns one output.
class MergeHandle : public LayerHandle<MergeLayer> {
 public:
  using LayerHandle<MergeLayer>::operator();
  MergeHandle(std::string kind, MergeOptions o)
      : LayerHandle(std::make_shared<MergeLayer>(std::move(kind), std::move(o))) {}
  /// Symbolic call: nn::Add()({a, b}).
  Symbol operator()(const std::vector<Symbol>& xs) const { return impl_->call_symbolic(xs)[0]; }
  /// Eager call.
  Tensor operator()(const std::vector<Tensor>& xs, bool training = false) const {
    return (*impl_)(xs, training)[0];
  }
};

/// Elementwise sum of the inputs.
struct Add : MergeHandle {
  Add(MergeOptions o = {}) : MergeHandle("Add", std::move(o)) {}
};
/// First input minus the second.
struct Subtract : MergeHandle {
  Subtract(MergeOptions o = {}) : MergeHandle("Subtract", std::move(o)) {}
};
/// Elementwise product.
struct Multiply : MergeHandle {
  Multiply(MergeOptions o = {}) : MergeHandle("Multiply", std::move(o)) {}
};
/// Elementwise mean.
struct Average : MergeHandle {
  Average(MergeOptions o = {}) : MergeHandle("Average", std::move(o)) {}
};
/// Elementwise maximum.
struct Maximum : MergeHandle {
  Maximum(MergeOptions o = {}) : MergeHandle("Maximum", std::move(o)) {}
};
/// Elementwise minimum.
struct Minimum : MergeHandle {
  Minimum(MergeOptions o = {}) : MergeHandle("Minimum", std::move(o)) {}
};
/// Concatenation along axis (default the last).
struct Concatenate : MergeHandle {
  Concatenate(MergeOptions o = {}) : MergeHandle("Concatenate", std::move(o)) {}
};

}  // namespace tg::nn
