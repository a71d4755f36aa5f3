// Dense: y = activation(x · kernel + bias) on the last axis.
#pragma once
#include <string>

#include "tapegrad/nn/activations.hpp"
#include "tapegrad/nn/layer.hpp"
#include "tapegrad/nn/regularizers.hpp"

namespace tg::nn {

/// An initializer given by Keras name or as a function.
struct InitializerArg {
  InitializerArg(const char* n) : name(n) {}
  InitializerArg(std::string n) : name(std::move(n)) {}
  InitializerArg(Initializer f) : name("custom"), fn(std::move(f)) {}
  /// The initializer (resolving the name).
  Initializer get() const { return fn ? fn : get_initializer(name); }
  std::string name;
  Initializer fn;
};

/// Options of Dense (Keras defaults).
struct DenseOptions {
  ActivationFn activation = {};
  bool use_bias = true;
  InitializerArg kernel_initializer = "glorot_uniform";
  InitializerArg bias_initializer = "zeros";
  Regularizer kernel_regularizer = {};
  Regularizer bias_regularizer = {};
  Shape input_shape = {};  ///< without the batch axis; empty: inferred from the first input
  std::string name = "";
};

/// Densely connected layer on the last axis of its input: kernel (in, units), bias (units).
class DenseLayer : public Layer {
 public:
  DenseLayer(int64_t units, DenseOptions opts = {});
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Config config() const override;
  int64_t units() const { return units_; }
  /// The kernel (in, units) and bias (units); undefined before the layer is built.
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }

 private:
  void check_input(const Shape& s) const;
  int64_t units_;
  DenseOptions opts_;
  Tensor kernel_, bias_;
};

/// Handle to a DenseLayer: nn::Dense(32, {.activation = "relu", .input_shape = {784}}).
class Dense : public LayerHandle<DenseLayer> {
 public:
  Dense(int64_t units, DenseOptions opts = {})
      : LayerHandle(std::make_shared<DenseLayer>(units, std::move(opts))) {}
};

}  // namespace tg::nn
