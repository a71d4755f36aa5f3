// Normalization layers: BatchNormalization and LayerNormalization (Keras defaults).
#pragma once
#include <string>
#include <vector>

#include "tapegrad/nn/layers/dense.hpp"

namespace tg::nn {

/// Options of BatchNormalization (momentum 0.99, epsilon 1e-3, as Keras).
struct BatchNormalizationOptions {
  int64_t axis = -1;
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  InitializerArg beta_initializer = "zeros";
  InitializerArg gamma_initializer = "ones";
  InitializerArg moving_mean_initializer = "zeros";
  InitializerArg moving_variance_initializer = "ones";
  Shape input_shape = {};
  std::string name = "";
};
/// Normalises with batch statistics while training (updating the moving averages, which are
/// non-trainable weights) and with the moving averages at inference.
class BatchNormalizationLayer : public Layer {
 public:
  explicit BatchNormalizationLayer(BatchNormalizationOptions opts = {});
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c);
  const Tensor& moving_mean() const { return moving_mean_; }
  const Tensor& moving_variance() const { return moving_variance_; }

 private:
  BatchNormalizationOptions o_;
  Tensor gamma_, beta_, moving_mean_, moving_variance_;
};
/// Handle: nn::BatchNormalization().
class BatchNormalization : public LayerHandle<BatchNormalizationLayer> {
 public:
  BatchNormalization(BatchNormalizationOptions o = {})
      : LayerHandle(std::make_shared<BatchNormalizationLayer>(std::move(o))) {}
};

/// Options of LayerNormalization (epsilon 1e-3, last axis).
struct LayerNormalizationOptions {
  std::vector<int64_t> axis = {-1};
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Shape input_shape = {};
  std::string name = "";
};
/// Normalises each sample over axis, then scales and shifts.
class LayerNormalizationLayer : public Layer {
 public:
  explicit LayerNormalizationLayer(LayerNormalizationOptions opts = {});
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c);

 private:
  LayerNormalizationOptions o_;
  Tensor gamma_, beta_;
};
/// Handle: nn::LayerNormalization().
class LayerNormalization : public LayerHandle<LayerNormalizationLayer> {
 public:
  LayerNormalization(LayerNormalizationOptions o = {})
      : LayerHandle(std::make_shared<LayerNormalizationLayer>(std::move(o))) {}
};

/// Options of Embedding.
struct EmbeddingOptions {
  InitializerArg embeddings_initializer = "random_uniform";
  Regularizer embeddings_regularizer = {};
  Shape input_shape = {};
  std::string name = "";
};
/// Maps integer indices to dense vectors: embeddings (input_dim, output_dim).
class EmbeddingLayer : public Layer {
 public:
  EmbeddingLayer(int64_t input_dim, int64_t output_dim, EmbeddingOptions opts = {});
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c);

 private:
  int64_t input_dim_, output_dim_;
  EmbeddingOptions o_;
  Tensor table_;
};
/// Handle: nn::Embedding(10000, 64).
class Embedding : public LayerHandle<EmbeddingLayer> {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions o = {})
      : LayerHandle(std::make_shared<EmbeddingLayer>(input_dim, output_dim, std::move(o))) {}
};

}  // namespace tg::nn
