// ActivationFn and Dropout: layers without weights that transform elementwise.
#pragma once
#include <optional>

#include "tapegrad/nn/activations.hpp"
#include "tapegrad/nn/layer.hpp"
#include "tapegrad/nn/layers/reshaping.hpp"

namespace tg::nn {

/// Applies an activation function.
class ActivationLayer : public Layer {
 public:
  ActivationLayer(ActivationFn activation, BasicLayerOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;

 private:
  ActivationFn activation_;
};
/// Handle: nn::Activation("relu").
class Activation : public LayerHandle<ActivationLayer> {
 public:
  Activation(ActivationFn a, BasicLayerOptions o = {})
      : LayerHandle(std::make_shared<ActivationLayer>(std::move(a), std::move(o))) {}
};

/// Options of Dropout.
struct DropoutOptions {
  std::optional<uint64_t> seed = std::nullopt;
  Shape input_shape = {};
  std::string name = "";
};
/// Inverted dropout while training; the identity at inference.
class DropoutLayer : public Layer {
 public:
  DropoutLayer(double rate, DropoutOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;

 private:
  double rate_;
  DropoutOptions opts_;
  uint64_t calls_ = 0;
};
/// Handle: nn::Dropout(0.5).
class Dropout : public LayerHandle<DropoutLayer> {
 public:
  Dropout(double rate, DropoutOptions o = {})
      : LayerHandle(std::make_shared<DropoutLayer>(rate, std::move(o))) {}
};

}  // namespace tg::nn
