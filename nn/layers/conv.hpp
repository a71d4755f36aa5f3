// Convolution layers: Conv1D, Conv2D, Conv2DTranspose (Keras arguments and kernel layouts).
#pragma once
#include <string>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layers/dense.hpp"

namespace tg::nn {

/// Options of Conv2D (Keras defaults).
struct Conv2DOptions {
  std::vector<int64_t> strides = {1, 1};
  Padding padding = "valid";
  std::string data_format = "channels_last";
  std::vector<int64_t> dilation_rate = {1, 1};
  int64_t groups = 1;
  ActivationFn activation = {};
  bool use_bias = true;
  InitializerArg kernel_initializer = "glorot_uniform";
  InitializerArg bias_initializer = "zeros";
  Regularizer kernel_regularizer = {};
  Regularizer bias_regularizer = {};
  Shape input_shape = {};
  std::string name = "";
};

/// 2-D convolution: kernel (kh, kw, in / groups, filters), bias (filters).
class Conv2DLayer : public Layer {
 public:
  Conv2DLayer(int64_t filters, std::vector<int64_t> kernel_size, Conv2DOptions opts = {});
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c);
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }

 private:
  int64_t filters_;
  std::vector<int64_t> kernel_size_;
  Conv2DOptions o_;
  Tensor kernel_, bias_;
};
/// Handle: nn::Conv2D(32, {3, 3}, {.activation = "relu", .input_shape = {28, 28, 1}}).
class Conv2D : public LayerHandle<Conv2DLayer> {
 public:
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, Conv2DOptions o = {})
      : LayerHandle(std::make_shared<Conv2DLayer>(filters, std::move(kernel_size), std::move(o))) {}
};

/// Options of Conv1D.
struct Conv1DOptions {
  int64_t strides = 1;
  Padding padding = "valid";  ///< valid, same or causal
  std::string data_format = "channels_last";
  int64_t dilation_rate = 1;
  int64_t groups = 1;
  ActivationFn activation = {};
  bool use_bias = true;
  InitializerArg kernel_initializer = "glorot_uniform";
  InitializerArg bias_initializer = "zeros";
  Regularizer kernel_regularizer = {};
  Shape input_shape = {};
  std::string name = "";
};
/// 1-D convolution over (batch, steps, channels): kernel (k, in / groups, filters).
class Conv1DLayer : public Layer {
 public:
  Conv1DLayer(int64_t filters, int64_t kernel_size, Conv1DOptions opts = {});
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c);

 private:
  int64_t filters_, kernel_size_;
  Conv1DOptions o_;
  Tensor kernel_, bias_;
};
/// Handle: nn::Conv1D(16, 3, {.padding = "causal"}).
class Conv1D : public LayerHandle<Conv1DLayer> {
 public:
  Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions o = {})
      : LayerHandle(std::make_shared<Conv1DLayer>(filters, kernel_size, std::move(o))) {}
};

/// Options of Conv2DTranspose.
struct Conv2DTransposeOptions {
  std::vector<int64_t> strides = {1, 1};
  Padding padding = "valid";
  std::string data_format = "channels_last";
  std::vector<int64_t> dilation_rate = {1, 1};
  ActivationFn activation = {};
  bool use_bias = true;
  InitializerArg kernel_initializer = "glorot_uniform";
  InitializerArg bias_initializer = "zeros";
  Shape input_shape = {};
  std::string name = "";
};
/// Transposed convolution: kernel (kh, kw, filters, in) as Keras stores it.
class Conv2DTransposeLayer : public Layer {
 public:
  Conv2DTransposeLayer(int64_t filters, std::vector<int64_t> kernel_size,
                       Conv2DTransposeOptions opts = {});
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(const Config& c);

 private:
  int64_t filters_;
  std::vector<int64_t> kernel_size_;
  Conv2DTransposeOptions o_;
  Tensor kernel_, bias_;
};
/// Handle: nn::Conv2DTranspose(16, {3, 3}, {.strides = {2, 2}, .padding = "same"}).
class Conv2DTranspose : public LayerHandle<Conv2DTransposeLayer> {
 public:
  Conv2DTranspose(int64_t filters, std::vector<int64_t> kernel_size, Conv2DTransposeOptions o = {})
      : LayerHandle(std::make_shared<Conv2DTransposeLayer>(filters, std::move(kernel_size),
                                                           std::move(o))) {}
};

/// Padding from a config value (mode name; explicit pairs are not stored).
/// Writes a padding into a layer config: "padding" (the mode) and, for explicit padding,
/// "padding_pairs" (before, after per spatial axis, flattened).
void write_padding(Config& c, const Padding& p);
/// The padding write_padding stored (valid when absent).
Padding padding_from_config(const Config& c);

}  // namespace tg::nn
