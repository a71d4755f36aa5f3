// Pooling layers: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D.
#pragma once
#include <string>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layer.hpp"

namespace tg::nn {

/// Options of the 2-D pooling layers (strides default to pool_size, as Keras).
struct Pooling2DOptions {
  std::vector<int64_t> strides = {};
  Padding padding = "valid";
  std::string data_format = "channels_last";
  Shape input_shape = {};
  std::string name = "";
};

/// Max or average pooling over windows of the spatial axes.
class Pooling2DLayer : public Layer {
 public:
  Pooling2DLayer(bool max, std::vector<int64_t> pool_size, Pooling2DOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c, bool max);

 private:
  bool max_;
  std::vector<int64_t> pool_size_;
  Pooling2DOptions o_;
};
/// Handle: nn::MaxPooling2D({2, 2}).
class MaxPooling2D : public LayerHandle<Pooling2DLayer> {
 public:
  MaxPooling2D(std::vector<int64_t> pool_size = {2, 2}, Pooling2DOptions o = {})
      : LayerHandle(std::make_shared<Pooling2DLayer>(true, std::move(pool_size), std::move(o))) {}
};
/// Handle: nn::AveragePooling2D({2, 2}).
class AveragePooling2D : public LayerHandle<Pooling2DLayer> {
 public:
  AveragePooling2D(std::vector<int64_t> pool_size = {2, 2}, Pooling2DOptions o = {})
      : LayerHandle(std::make_shared<Pooling2DLayer>(false, std::move(pool_size), std::move(o))) {}
};

/// Options of the global pooling layers.
struct GlobalPooling2DOptions {
  std::string data_format = "channels_last";
  bool keepdims = false;
  Shape input_shape = {};
  std::string name = "";
};
/// Mean or max over the spatial axes: (N, H, W, C) → (N, C).
class GlobalPooling2DLayer : public Layer {
 public:
  GlobalPooling2DLayer(bool max, GlobalPooling2DOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c, bool max);

 private:
  bool max_;
  GlobalPooling2DOptions o_;
};
/// Handle: nn::GlobalAveragePooling2D().
class GlobalAveragePooling2D : public LayerHandle<GlobalPooling2DLayer> {
 public:
  GlobalAveragePooling2D(GlobalPooling2DOptions o = {})
      : LayerHandle(std::make_shared<GlobalPooling2DLayer>(false, std::move(o))) {}
};
/// Handle: nn::GlobalMaxPooling2D().
class GlobalMaxPooling2D : public LayerHandle<GlobalPooling2DLayer> {
 public:
  GlobalMaxPooling2D(GlobalPooling2DOptions o = {})
      : LayerHandle(std::make_shared<GlobalPooling2DLayer>(true, std::move(o))) {}
};

}  // namespace tg::nn
