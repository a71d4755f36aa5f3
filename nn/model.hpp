// Models: the functional graph of layer calls (functional.cpp), Sequential (sequential.cpp), the
// Keras training API around one overridable train_step/test_step (trainer.cpp), and summary
// (summary.cpp).
#pragma once
#include <concepts>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/nn/callbacks.hpp"
#include "tapegrad/nn/dataset.hpp"
#include "tapegrad/nn/layer.hpp"
#include "tapegrad/nn/losses.hpp"
#include "tapegrad/nn/metrics.hpp"
#include "tapegrad/nn/optimizer.hpp"

namespace tg::nn {

/// An optimizer given by name ("rmsprop") or object (optim::RMSprop({.learning_rate = 0.001})).
struct OptimizerArg {
  OptimizerArg(const char* n) : name(n) {}
  OptimizerArg(std::string n) : name(std::move(n)) {}
  /// A shared optimizer (the model uses this very object).
  template <class O>
  requires std::derived_from<O, optim::Optimizer> OptimizerArg(std::shared_ptr<O> p)
      : ptr(std::move(p)) {}
  /// An optimizer value (copied: optim::Adam({.learning_rate = 1e-3})).
  template <class O>
  requires std::derived_from<O, optim::Optimizer> OptimizerArg(const O& o) : ptr(o.clone()) {}
  std::shared_ptr<optim::Optimizer> get() const { return ptr ? ptr : optim::get(name); }
  std::string name;
  std::shared_ptr<optim::Optimizer> ptr;
};

/// One loss for every output, or one per output: a name, a Loss, or any function of
/// (y_true, y_pred).
struct LossArg {
  LossArg() = default;
  LossArg(const char* n) : losses{Loss(n)} {}
  LossArg(std::string n) : losses{Loss(n)} {}
  LossArg(Loss l) : losses{std::move(l)} {}
  template <class F>
  requires std::is_invocable_r_v<Tensor, F, const Tensor&, const Tensor&> &&
      (!std::is_convertible_v<F, std::string>)&&(!std::is_same_v<std::decay_t<F>, Loss>)LossArg(F f)
      : losses{Loss(LossFunction(std::move(f)))} {}
  LossArg(std::initializer_list<Loss> l) : losses(l) {}
  LossArg(std::vector<Loss> l) : losses(std::move(l)) {}
  std::vector<Loss> losses;
};

/// Arguments of compile (In[7] of the seed).
struct CompileOptions {
  OptimizerArg optimizer = "rmsprop";
  LossArg loss = {};
  std::vector<MetricArg> metrics = {};    ///< applied to every output
  std::vector<double> loss_weights = {};  ///< one per output (default 1)
  /// Metrics of one output each, by position (Keras' list of lists): empty, or one list per
  /// output, added to `metrics`.
  std::vector<std::vector<MetricArg>> output_metrics = {};
  /// Metrics of one output each, by the name of the layer that produces it (Keras' dict),
  /// added to `metrics`; an unknown name is a ValueError.
  std::map<std::string, std::vector<MetricArg>> metrics_by_output = {};
};

/// Inputs and targets given as tensors (several for multi-input/output models).
struct Data {
  Data() = default;
  Data(Tensor x, Tensor y) : x{std::move(x)}, y{std::move(y)} {}
  /// With per-sample weights of the loss (Keras' (x, y, sample_weight) tuple).
  Data(Tensor x, Tensor y, Tensor sample_weight)
      : x{std::move(x)}, y{std::move(y)}, sample_weight(std::move(sample_weight)) {}
  Data(std::vector<Tensor> x, std::vector<Tensor> y, Tensor sample_weight = Tensor())
      : x(std::move(x)), y(std::move(y)), sample_weight(std::move(sample_weight)) {}
  std::vector<Tensor> x, y;
  Tensor sample_weight;  ///< [N] or undefined (all samples weigh 1)
  bool empty() const { return x.empty(); }
};

/// Arguments of fit (In[8] of the seed).
struct FitOptions {
  int64_t batch_size = 32;
  int epochs = 1;
  int verbose = 1;  ///< 0 silent, 1 progress bar, 2 one line per epoch
  std::vector<std::shared_ptr<Callback>> callbacks = {};
  double validation_split = 0.0;  ///< fraction of the samples (taken from the end) held out
  Data validation_data = {};
  bool shuffle = true;
  std::map<int64_t, double> class_weight = {};
  Tensor sample_weight = {};
  int initial_epoch = 0;
  uint64_t seed = 0;  ///< shuffling seed (epoch e uses seed + e)
};

/// Arguments of evaluate.
struct EvaluateOptions {
  int64_t batch_size = 32;
  int verbose = 1;
  Tensor sample_weight = {};
  std::vector<std::shared_ptr<Callback>> callbacks = {};
};

/// Arguments of predict.
struct PredictOptions {
  int64_t batch_size = 32;
  int verbose = 0;
};

/// A model: a graph of layer calls from inputs to outputs, with the training loop. Also a
/// Layer, so a model can be called inside another model.
class ModelImpl : public Layer {
 public:
  /// Functional model from symbolic inputs to symbolic outputs.
  ModelImpl(std::vector<Symbol> inputs, std::vector<Symbol> outputs, std::string name = "");

  // ---- graph ----
  std::vector<Tensor> call_multi(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shapes(const std::vector<Shape>& input_shapes) override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return layers_; }
  Config config() const override;
  /// The model's entry in a file: {"class", "name", "trainable", "layers": the entry of each layer
  /// (saved_entry), "inputs", "calls", "outputs"}; load_model rebuilds it through the registered
  /// "Functional" factory.
  Json saved_entry() const override;
  /// Layers in graph order (without the inputs).
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }
  /// The layer named name (throws ValueError).
  std::shared_ptr<Layer> get_layer(const std::string& name) const;
  const std::vector<Symbol>& inputs() const { return inputs_; }
  const std::vector<Symbol>& outputs() const { return outputs_; }

  // ---- training API ----
  void compile(CompileOptions opts);
  History fit(const Tensor& x, const Tensor& y, FitOptions opts = {});
  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y, FitOptions opts = {});
  /// Trains on a dataset (batch_size, shuffle and sample_weight of opts are the dataset's).
  History fit(Dataset& data, FitOptions opts = {});
  /// Loss and metrics over the data, by name.
  Logs evaluate(const Tensor& x, const Tensor& y, EvaluateOptions opts = {});
  Logs evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                EvaluateOptions opts = {});
  Logs evaluate(Dataset& data, EvaluateOptions opts = {});
  /// Outputs for x, in batches, without recording (first output).
  Tensor predict(const Tensor& x, PredictOptions opts = {});
  /// Every output for several inputs.
  std::vector<Tensor> predict(const std::vector<Tensor>& x, PredictOptions opts = {});
  /// One optimizer step on one batch; returns the batch's loss and metrics.
  Logs train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                      const Tensor& sample_weight = Tensor());
  Logs train_on_batch(const Tensor& x, const Tensor& y, const Tensor& sample_weight = Tensor()) {
    return train_on_batch(std::vector<Tensor>{x}, std::vector<Tensor>{y}, sample_weight);
  }
  /// Loss and metrics of one batch, no update.
  Logs test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                     const Tensor& sample_weight = Tensor());
  Logs test_on_batch(const Tensor& x, const Tensor& y, const Tensor& sample_weight = Tensor()) {
    return test_on_batch(std::vector<Tensor>{x}, std::vector<Tensor>{y}, sample_weight);
  }
  /// Outputs for one batch.
  std::vector<Tensor> predict_on_batch(const std::vector<Tensor>& x);
  Tensor predict_on_batch(const Tensor& x) { return predict_on_batch(std::vector<Tensor>{x})[0]; }
  /// Prints layer names, types, output shapes and parameter counts like Keras.
  void summary(std::ostream& os = std::cout);

  // ---- the steps (override them to change what one batch does, as in Keras) ----
  /// One training step on one batch; fit (every batch) and train_on_batch run it. The default:
  /// forward(x, training = true), compute_loss (the compiled losses, weighted, plus the layers'
  /// regularization losses), minimize (gradients of the total with respect to
  /// trainable_weights() and one optimizer update), update_metrics, and step_logs. It returns the
  /// batch's logs: "loss", each output's "<output>_loss" when there are several outputs, and
  /// every metric's running result. fit reports the loss entries averaged over the epoch so far
  /// (weighted by batch size) and every other entry as the step returned it, so an override may
  /// add entries of its own. The batch has been checked (one target per output); in fit its
  /// sample_weight already includes the class weights.
  virtual Logs train_step(const Batch& batch);
  /// One evaluation step on one batch; evaluate (every batch, and fit's validation) and
  /// test_on_batch run it, under NoGrad. The default: forward(x, training = false),
  /// compute_loss, update_metrics, step_logs; evaluate averages the loss entries as fit does.
  virtual Logs test_step(const Batch& batch);
  /// The outputs for one batch of inputs in inference mode; predict (every batch) and
  /// predict_on_batch run it, under NoGrad. The default calls the model and drops the penalty
  /// terms the layers added.
  virtual std::vector<Tensor> predict_step(const std::vector<Tensor>& x);

  // ---- pieces of a step, for overrides ----
  /// The total loss of a batch and the loss of each output (scalars).
  struct LossResult {
    Tensor total;
    std::vector<Tensor> per_output;
  };
  /// Runs the model for a step: drops penalty terms left by calls outside a step (predict, eager
  /// use), then call_multi(x, training).
  std::vector<Tensor> forward(const std::vector<Tensor>& x, bool training);
  /// The compiled loss of each output of y_pred against batch.y (with batch.sample_weight), their
  /// weighted sum, plus the regularization losses the layers added since forward (collected, so
  /// call it once per forward). Throws when the outputs do not match the compiled losses.
  LossResult compute_loss(const Batch& batch, const std::vector<Tensor>& y_pred);
  /// Gradients of loss with respect to trainable_weights() (unused weights skipped) and one
  /// update of the compiled optimizer.
  void minimize(const Tensor& loss);
  /// Updates every compiled metric of each output with (batch.y[i], y_pred[i], sample_weight).
  void update_metrics(const Batch& batch, const std::vector<Tensor>& y_pred);
  /// The logs of one step: "loss" (loss.total), the per-output losses when there are several
  /// outputs, and every metric's result.
  Logs step_logs(const LossResult& loss) const;
  /// Resets the compiled metrics (fit does at each epoch, evaluate and the *_on_batch calls at
  /// their start).
  void reset_metrics();

  /// Moves the weights and the optimizer state to device.
  void to(Device device) override;
  /// The optimizer given to compile (null before).
  const std::shared_ptr<optim::Optimizer>& optimizer() const { return optimizer_; }
  bool compiled() const { return compiled_; }
  /// Whether the graph exists (a Sequential model without input shape builds it on first data).
  bool built_graph() const { return has_graph(); }
  /// Loss names, metric names and loss weights given to compile (for saving).
  Config compile_config() const;
  /// Compiles from a compile_config() and an optimizer; false (and uncompiled) when a loss or
  /// metric was a user function that a file cannot hold.
  bool restore_compile(const Config& c, std::shared_ptr<optim::Optimizer> opt);
  /// Set by callbacks to end fit after the current epoch.
  bool stop_training = false;

 protected:
  /// For subclasses that build their graph later (Sequential).
  ModelImpl(std::string type, std::string name);
  /// Sets the graph (inputs, outputs) and derives the call order and layers.
  void set_graph(std::vector<Symbol> inputs, std::vector<Symbol> outputs);
  /// Forgets the graph (a Sequential model whose last layer was popped).
  void clear_graph();
  /// Called before running when the graph may still be missing (Sequential builds lazily).
  virtual void ensure_graph(const std::vector<Tensor>& x);
  bool has_graph() const { return !outputs_.empty(); }

 private:
  struct OutputSpec {
    Loss loss;
    double weight = 1.0;
    std::vector<std::shared_ptr<Metric>> metrics;
    std::string prefix;  // "" for single-output models, else "<output name>_"
  };
  void check_compiled(const char* what) const;
  void check_batch(const char* what, const Batch& b) const;
  Logs metric_logs(double mean_loss, const std::vector<double>& output_losses) const;
  /// The log entries fit and evaluate average over batches: "loss" and the per-output losses.
  std::vector<std::string> loss_keys() const;
  Tensor effective_sample_weight(const Batch& b,
                                 const std::map<int64_t, double>& class_weight) const;
  Logs run_evaluation(Dataset& data, int verbose,
                      const std::vector<std::shared_ptr<Callback>>& cbs);

  std::vector<Symbol> inputs_, outputs_;
  std::vector<std::shared_ptr<LayerCall>> order_;
  std::vector<std::shared_ptr<Layer>> layers_;
  bool compiled_ = false;
  std::shared_ptr<optim::Optimizer> optimizer_;
  std::vector<OutputSpec> specs_;
  std::vector<std::string> loss_names_, metric_names_;
  std::vector<std::vector<std::string>> output_metric_names_;  // per output, beyond metrics
  std::vector<double> loss_weights_;
};

/// A linear stack of layers (In[4]/In[5] of the seed). The graph is built as soon as the input
/// shape is known: from the first layer's input_shape, or lazily from the first batch.
class SequentialImpl : public ModelImpl {
 public:
  explicit SequentialImpl(std::vector<std::shared_ptr<Layer>> layers = {}, std::string name = "");
  /// Appends a layer; with a known input shape its output shape is checked now.
  void add(std::shared_ptr<Layer> layer);
  /// Removes the last layer.
  void pop();
  std::vector<Tensor> call_multi(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shapes(const std::vector<Shape>& input_shapes) override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return stack_; }
  /// {"class", "name", "trainable", "layers": the entry of each layer, "input_shape" once
  /// built}; load_model rebuilds it through the registered "Sequential" factory.
  Json saved_entry() const override;
  /// Builds the graph for inputs of this shape (without the batch axis).
  void build_for(const Shape& input_shape);

 protected:
  void ensure_graph(const std::vector<Tensor>& x) override;

 private:
  void rebuild();
  std::vector<std::shared_ptr<Layer>> stack_;
  std::optional<Shape> input_shape_;
};

/// Handle with the Keras model methods, shared by Model and Sequential.
template <class M>
class ModelHandle : public LayerHandle<M> {
 public:
  using LayerHandle<M>::LayerHandle;
  using LayerHandle<M>::operator();
  void compile(CompileOptions o) const { this->impl_->compile(std::move(o)); }
  History fit(const Tensor& x, const Tensor& y, FitOptions o = {}) const {
    return this->impl_->fit(x, y, std::move(o));
  }
  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y, FitOptions o = {}) const {
    return this->impl_->fit(x, y, std::move(o));
  }
  History fit(Dataset& d, FitOptions o = {}) const { return this->impl_->fit(d, std::move(o)); }
  /// One input, several targets (a multi-output model).
  History fit(const Tensor& x, const std::vector<Tensor>& y, FitOptions o = {}) const {
    return this->impl_->fit(std::vector<Tensor>{x}, y, std::move(o));
  }
  /// Several inputs, one target.
  History fit(const std::vector<Tensor>& x, const Tensor& y, FitOptions o = {}) const {
    return this->impl_->fit(x, std::vector<Tensor>{y}, std::move(o));
  }
  Logs evaluate(const Tensor& x, const Tensor& y, EvaluateOptions o = {}) const {
    return this->impl_->evaluate(x, y, std::move(o));
  }
  Logs evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                EvaluateOptions o = {}) const {
    return this->impl_->evaluate(x, y, std::move(o));
  }
  Logs evaluate(Dataset& d, EvaluateOptions o = {}) const {
    return this->impl_->evaluate(d, std::move(o));
  }
  Tensor predict(const Tensor& x, PredictOptions o = {}) const {
    return this->impl_->predict(x, o);
  }
  std::vector<Tensor> predict(const std::vector<Tensor>& x, PredictOptions o = {}) const {
    return this->impl_->predict(x, o);
  }
  Logs train_on_batch(const Tensor& x, const Tensor& y,
                      const Tensor& sample_weight = Tensor()) const {
    return this->impl_->train_on_batch(x, y, sample_weight);
  }
  Logs train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                      const Tensor& sample_weight = Tensor()) const {
    return this->impl_->train_on_batch(x, y, sample_weight);
  }
  Logs test_on_batch(const Tensor& x, const Tensor& y,
                     const Tensor& sample_weight = Tensor()) const {
    return this->impl_->test_on_batch(x, y, sample_weight);
  }
  Logs test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                     const Tensor& sample_weight = Tensor()) const {
    return this->impl_->test_on_batch(x, y, sample_weight);
  }
  Tensor predict_on_batch(const Tensor& x) const { return this->impl_->predict_on_batch(x); }
  void summary(std::ostream& os = std::cout) const { this->impl_->summary(os); }
  /// Moves weights and optimizer state to device (model.to(Device::opencl(0))).
  void to(Device device) const { this->impl_->to(device); }
  const std::vector<std::shared_ptr<Layer>>& layers() const { return this->impl_->layers(); }
  std::vector<Tensor> trainable_weights() const { return this->impl_->trainable_weights(); }
  int64_t count_params() const { return this->impl_->count_params(); }
};

/// A functional model (In[6] of the seed): nn::Model model(input, output).
class Model : public ModelHandle<ModelImpl> {
 public:
  Model(const Symbol& input, const Symbol& output, std::string name = "")
      : ModelHandle(std::make_shared<ModelImpl>(std::vector<Symbol>{input},
                                                std::vector<Symbol>{output}, std::move(name))) {}
  Model(std::vector<Symbol> inputs, std::vector<Symbol> outputs, std::string name = "")
      : ModelHandle(
            std::make_shared<ModelImpl>(std::move(inputs), std::move(outputs), std::move(name))) {}
  /// One input, several outputs.
  Model(const Symbol& input, std::vector<Symbol> outputs, std::string name = "")
      : ModelHandle(std::make_shared<ModelImpl>(std::vector<Symbol>{input}, std::move(outputs),
                                                std::move(name))) {}
  /// Several inputs, one output.
  Model(std::vector<Symbol> inputs, const Symbol& output, std::string name = "")
      : ModelHandle(std::make_shared<ModelImpl>(std::move(inputs), std::vector<Symbol>{output},
                                                std::move(name))) {}
  explicit Model(std::shared_ptr<ModelImpl> p) : ModelHandle(std::move(p)) {}
};

/// A Sequential model (In[4]/In[5]): nn::Sequential model; model.add(nn::Dense(...)).
class Sequential : public ModelHandle<SequentialImpl> {
 public:
  Sequential(std::string name = "")
      : ModelHandle(std::make_shared<SequentialImpl>(std::vector<std::shared_ptr<Layer>>{},
                                                     std::move(name))) {}
  Sequential(std::initializer_list<std::shared_ptr<Layer>> layers, std::string name = "")
      : ModelHandle(std::make_shared<SequentialImpl>(std::vector<std::shared_ptr<Layer>>(layers),
                                                     std::move(name))) {}
  /// Appends a layer (any layer handle or shared_ptr<Layer>).
  void add(std::shared_ptr<Layer> layer) const { impl_->add(std::move(layer)); }
  void pop() const { impl_->pop(); }
};

}  // namespace tg::nn
