// Layers that only rearrange their input: Flatten, Reshape, Permute.
#pragma once
#include <vector>

#include "tapegrad/nn/layer.hpp"

namespace tg::nn {

/// Options shared by layers without weights.
struct BasicLayerOptions {
  Shape input_shape = {};  ///< without the batch axis
  std::string name = "";
};

/// Flattens every axis but the batch axis.
class FlattenLayer : public Layer {
 public:
  explicit FlattenLayer(BasicLayerOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
};
/// Handle: nn::Flatten().
class Flatten : public LayerHandle<FlattenLayer> {
 public:
  Flatten(BasicLayerOptions opts = {})
      : LayerHandle(std::make_shared<FlattenLayer>(std::move(opts))) {}
};

/// Reshapes every axis but the batch axis to target_shape (one size may be -1).
class ReshapeLayer : public Layer {
 public:
  ReshapeLayer(Shape target_shape, BasicLayerOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;

 private:
  Shape target_;
};
/// Handle: nn::Reshape({7, 7, 16}).
class Reshape : public LayerHandle<ReshapeLayer> {
 public:
  Reshape(Shape target_shape, BasicLayerOptions opts = {})
      : LayerHandle(std::make_shared<ReshapeLayer>(std::move(target_shape), std::move(opts))) {}
};

/// Permutes the non-batch axes; dims are 1-based as in Keras (Permute({2, 1}) swaps them).
class PermuteLayer : public Layer {
 public:
  PermuteLayer(std::vector<int64_t> dims, BasicLayerOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;

 private:
  std::vector<int64_t> dims_;
};
/// Handle: nn::Permute({2, 1}).
class Permute : public LayerHandle<PermuteLayer> {
 public:
  Permute(std::vector<int64_t> dims, BasicLayerOptions opts = {})
      : LayerHandle(std::make_shared<PermuteLayer>(std::move(dims), std::move(opts))) {}
};

}  // namespace tg::nn
