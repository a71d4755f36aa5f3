// Layer: the building block of models. Owns named weights created lazily from the input shape,
// runs eagerly on tensors, and records calls on symbolic tensors for the functional API.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/core/tensor.hpp"
#include "tapegrad/nn/config.hpp"
#include "tapegrad/nn/initializers.hpp"

namespace tg::nn {

class Layer;
struct LayerCall;
class Json;

/// State of a symbolic tensor: a shape whose first axis (the batch) is -1 when unknown.
struct SymbolState {
  Shape shape;
  DType dtype = kFloat32;
  std::shared_ptr<LayerCall> call;  ///< the layer call that produced it (null for an Input)
  size_t index = 0;                 ///< which output of that call
  std::string name;
};

/// A symbolic tensor (Keras' KerasTensor): what nn::Input returns and what calling a layer on
/// symbolic tensors returns. It has a shape and a history, no data.
class Symbol {
 public:
  Symbol() = default;
  explicit Symbol(std::shared_ptr<SymbolState> s) : s_(std::move(s)) {}
  /// Shape with -1 for the batch axis.
  const Shape& shape() const { return s_->shape; }
  DType dtype() const { return s_->dtype; }
  const std::string& name() const { return s_->name; }
  bool defined() const { return s_ != nullptr; }
  const std::shared_ptr<SymbolState>& state() const { return s_; }
  friend bool operator==(const Symbol& a, const Symbol& b) { return a.s_ == b.s_; }

 private:
  std::shared_ptr<SymbolState> s_;
};

/// One call of a layer on symbolic inputs: a node of a functional model's graph.
struct LayerCall {
  std::shared_ptr<Layer> layer;
  std::vector<Symbol> inputs;
  size_t num_outputs = 1;
};

/// Options of nn::Input.
struct InputOptions {
  std::string name;
  DType dtype = kFloat32;
};

/// A symbolic input of a functional model; shape excludes the batch axis (as in Keras).
Symbol Input(const Shape& shape, InputOptions opts = {});

/// A weight owned by a layer.
struct Weight {
  std::string name;
  Tensor value;
  bool trainable = true;
};

/// Base of every layer. Subclasses override build(input_shape) to create weights with
/// add_weight(), and call(x, training) (or call_multi for several inputs/outputs).
class Layer : public std::enable_shared_from_this<Layer> {
 public:
  /// type is the Keras class name ("Dense"); the default name is its snake_case form, made
  /// unique with a counter ("dense", "dense_1", ...).
  explicit Layer(std::string type, std::string name = "");
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }

  // ---- to implement in a layer ----
  /// Creates the weights for this input shape (batch axis -1). Called once, before the first call.
  virtual void build(const Shape& input_shape);
  /// Multi-input form of build; defaults to build(shape) for one input.
  virtual void build_multi(const std::vector<Shape>& input_shapes);
  /// The computation for one input.
  virtual Tensor call(const Tensor& x, bool training);
  /// The computation for several inputs or outputs; defaults to call(x) for one input.
  virtual std::vector<Tensor> call_multi(const std::vector<Tensor>& inputs, bool training);
  /// Output shapes (batch axis -1) for input shapes. The default builds the layer and runs its
  /// call on meta tensors (a MetaScope: every op's checks and shape rule, no arithmetic, no
  /// memory), twice when a size is unknown (-1): at 128 and at 192, an output size that differs
  /// being unknown. Layers need not override it.
  virtual std::vector<Shape> compute_output_shapes(const std::vector<Shape>& input_shapes);
  /// The constructor arguments (Keras get_config); the base writes name and trainable.
  virtual Config config() const;
  /// Layers owned by this one (wrappers, models); their weights are part of this layer's.
  virtual std::vector<std::shared_ptr<Layer>> sublayers() const { return {}; }
  /// The layers this one wraps and is rebuilt from (Bidirectional: its forward layer;
  /// TimeDistributed: its inner layer). A saved file nests their entries in this layer's, and
  /// load_model rebuilds them first and hands them to the layer's WrapperFactory (see
  /// nn/layer_registry.hpp). Default: none.
  virtual std::vector<std::shared_ptr<Layer>> wrapped_layers() const { return {}; }
  /// This layer's entry in a model file. The default (default_layer_entry) writes its type,
  /// config() and the entries of wrapped_layers(); models override it to write their graph.
  virtual Json saved_entry() const;

  // ---- running ----
  /// Eager call on one tensor: builds on first use, then call().
  Tensor operator()(const Tensor& x, bool training = false);
  /// Eager call on several tensors.
  std::vector<Tensor> operator()(const std::vector<Tensor>& xs, bool training = false);
  /// Symbolic call: checks shapes now and records the call for a functional model.
  std::vector<Symbol> call_symbolic(const std::vector<Symbol>& inputs);

  // ---- weights ----
  /// Creates a weight named name (the layer's name is prefixed in weight_names()).
  Tensor add_weight(const std::string& name, const Shape& shape, const Initializer& init,
                    bool trainable = true, DType dtype = kFloat32);
  /// This layer's own weights followed by those of its sublayers (no duplicates).
  std::vector<Weight*> weights();
  std::vector<Tensor> trainable_weights();
  std::vector<Tensor> non_trainable_weights();
  /// Number of scalars in all weights.
  int64_t count_params();
  /// Whether the trainable weights are trained (Keras layer.trainable).
  bool trainable() const { return trainable_; }
  void set_trainable(bool t) { trainable_ = t; }
  bool built() const { return built_; }
  /// Builds for these input shapes (batch axis -1) unless already built.
  void ensure_built(const std::vector<Shape>& input_shapes);
  /// Moves every weight (and those of sublayers) to device, in place: handles held elsewhere
  /// (optimizers, user code) see the move.
  virtual void to(Device device);
  /// Input shape declared in the options (without the batch axis), if any.
  const std::optional<Shape>& declared_input_shape() const { return declared_input_shape_; }

  /// Extra losses (regularization) added during the last call; summed into the training loss.
  std::vector<Tensor> collect_losses();
  /// Records an extra loss term during call (e.g. a kernel regularizer).
  void add_loss(const Tensor& loss) { losses_.push_back(loss); }

 protected:
  void set_declared_input_shape(const std::optional<std::vector<int64_t>>& s);
  /// Own weights (not those of sublayers).
  std::vector<Weight>& own_weights() { return weights_; }
  /// "<type> '<name>'", for error messages.
  std::string label() const { return type_ + " '" + name_ + "'"; }

 private:
  std::string type_, name_;
  bool trainable_ = true;
  bool built_ = false;
  std::optional<Shape> declared_input_shape_;
  std::vector<Weight> weights_;
  std::vector<Tensor> losses_;
};

/// Snake_case name of a Keras class name ("Conv2D" → "conv2d", "MaxPooling2D" → "max_pooling2d").
std::string snake_case(const std::string& type);

/// A handle to a layer of type L (shared, cheap to copy). Layer classes of tapegrad are used
/// through handles (nn::Dense is a handle to nn::DenseLayer), so that one layer can be called
/// on several inputs (shared weights) and stored in models.
template <class L>
class LayerHandle {
 public:
  explicit LayerHandle(std::shared_ptr<L> p) : impl_(std::move(p)) {}
  L* operator->() const { return impl_.get(); }
  L& operator*() const { return *impl_; }
  const std::shared_ptr<L>& ptr() const { return impl_; }
  operator std::shared_ptr<Layer>() const { return impl_; }

  /// Eager call.
  Tensor operator()(const Tensor& x, bool training = false) const { return (*impl_)(x, training); }
  std::vector<Tensor> operator()(const std::vector<Tensor>& xs, bool training = false) const {
    return (*impl_)(xs, training);
  }
  /// Symbolic call on one input (functional API); returns the first output.
  Symbol operator()(const Symbol& x) const { return impl_->call_symbolic({x})[0]; }
  /// Symbolic call on several inputs; returns every output.
  std::vector<Symbol> operator()(const std::vector<Symbol>& xs) const {
    return impl_->call_symbolic(xs);
  }

 protected:
  std::shared_ptr<L> impl_;
};

}  // namespace tg::nn
