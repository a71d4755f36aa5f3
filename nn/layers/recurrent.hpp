// Recurrent layers (SimpleRNN, LSTM, GRU) and the wrappers Bidirectional and TimeDistributed.
#pragma once
#include <string>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layers/dense.hpp"
#include "tapegrad/nn/layers/reshaping.hpp"

namespace tg::nn {

/// Options of the recurrent layers (Keras defaults; activations are tanh and sigmoid).
struct RNNOptions {
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool use_bias = true;
  InitializerArg kernel_initializer = "glorot_uniform";
  InitializerArg recurrent_initializer = "orthogonal";
  InitializerArg bias_initializer = "zeros";
  bool unit_forget_bias = true;  ///< LSTM: the forget-gate bias starts at 1
  Shape input_shape = {};
  std::string name = "";
};

/// A recurrent layer over (batch, timesteps, features). Inputs: x, optionally followed by the
/// initial states (h, and c for LSTM). Outputs: the sequence or last output, then the final
/// states when return_state.
class RNNLayer : public Layer {
 public:
  enum class Cell { Simple, LSTM, GRU };
  RNNLayer(Cell cell, int64_t units, RNNOptions opts = {});
  void build_multi(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call_multi(const std::vector<Tensor>& inputs, bool training) override;
  Config config() const override;
  static std::shared_ptr<Layer> from_config(Cell cell, const Config& c);
  /// A new, unbuilt layer with the same settings (go_backwards flipped when reverse).
  std::shared_ptr<RNNLayer> clone_config(bool reverse, const std::string& name) const;
  int64_t units() const { return units_; }
  Cell cell() const { return cell_; }
  const RNNOptions& options() const { return o_; }

 private:
  Cell cell_;
  int64_t units_;
  RNNOptions o_;
  Tensor kernel_, recurrent_kernel_, bias_;
};

/// Handle: nn::LSTM(64, {.return_sequences = true}).
struct LSTM : LayerHandle<RNNLayer> {
  LSTM(int64_t units, RNNOptions o = {})
      : LayerHandle(std::make_shared<RNNLayer>(RNNLayer::Cell::LSTM, units, std::move(o))) {}
};
/// Handle: nn::GRU(64).
struct GRU : LayerHandle<RNNLayer> {
  GRU(int64_t units, RNNOptions o = {})
      : LayerHandle(std::make_shared<RNNLayer>(RNNLayer::Cell::GRU, units, std::move(o))) {}
};
/// Handle: nn::SimpleRNN(32).
struct SimpleRNN : LayerHandle<RNNLayer> {
  SimpleRNN(int64_t units, RNNOptions o = {})
      : LayerHandle(std::make_shared<RNNLayer>(RNNLayer::Cell::Simple, units, std::move(o))) {}
};

/// Options of Bidirectional.
struct BidirectionalOptions {
  std::string merge_mode = "concat";  ///< concat, sum, mul or ave
  Shape input_shape = {};
  std::string name = "";
};
/// Runs a recurrent layer forwards and a copy of it backwards and merges their outputs.
class BidirectionalLayer : public Layer {
 public:
  BidirectionalLayer(std::shared_ptr<RNNLayer> layer, BidirectionalOptions opts = {});
  std::vector<Tensor> call_multi(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return {forward_, backward_}; }
  /// The forward layer (the backward one is made from its config).
  std::vector<std::shared_ptr<Layer>> wrapped_layers() const override { return {forward_}; }
  Config config() const override;
  const std::shared_ptr<RNNLayer>& forward_layer() const { return forward_; }

 private:
  std::shared_ptr<RNNLayer> forward_, backward_;
  BidirectionalOptions o_;
};
/// Handle: nn::Bidirectional(nn::LSTM(32, {.return_sequences = true})).
struct Bidirectional : LayerHandle<BidirectionalLayer> {
  template <class L>
  Bidirectional(const LayerHandle<L>& layer, BidirectionalOptions o = {})
      : LayerHandle(std::make_shared<BidirectionalLayer>(
            std::dynamic_pointer_cast<RNNLayer>(layer.ptr()), std::move(o))) {}
};

/// Applies a layer to every timestep: (N, T, ...) → (N·T, ...) → layer → (N, T, ...).
class TimeDistributedLayer : public Layer {
 public:
  TimeDistributedLayer(std::shared_ptr<Layer> layer, BasicLayerOptions opts = {});
  Tensor call(const Tensor& x, bool training) override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return {inner_}; }
  std::vector<std::shared_ptr<Layer>> wrapped_layers() const override { return {inner_}; }
  Config config() const override;
  const std::shared_ptr<Layer>& inner() const { return inner_; }

 private:
  std::shared_ptr<Layer> inner_;
};
/// Handle: nn::TimeDistributed(nn::Dense(8)).
struct TimeDistributed : LayerHandle<TimeDistributedLayer> {
  TimeDistributed(std::shared_ptr<Layer> layer, BasicLayerOptions o = {})
      : LayerHandle(std::make_shared<TimeDistributedLayer>(std::move(layer), std::move(o))) {}
};

}  // namespace tg::nn
