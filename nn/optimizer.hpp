// Optimizers (Keras names, formulas and defaults) over a list of parameters.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tapegrad/core/tensor.hpp"
#include "tapegrad/nn/config.hpp"

namespace tg::optim {

/// A learning rate as a function of the step (the number of updates already applied).
using Schedule = std::function<double(int64_t step)>;

/// A constant learning rate or a schedule.
class LearningRate {
 public:
  LearningRate(double v) : value_(v) {}
  LearningRate(Schedule s) : schedule_(std::move(s)) {}
  double at(int64_t step) const { return schedule_ ? schedule_(step) : value_; }
  bool is_schedule() const { return static_cast<bool>(schedule_); }

 private:
  double value_ = 0.001;
  Schedule schedule_;
};

namespace schedules {
/// initial · rate^(step / decay_steps) (floored exponent when staircase).
Schedule exponential_decay(double initial, int64_t decay_steps, double decay_rate,
                           bool staircase = false);
/// values[i] while step ≤ boundaries[i] (values has one more entry than boundaries).
Schedule piecewise_constant(std::vector<int64_t> boundaries, std::vector<double> values);
/// Linear warm-up from initial to warmup_target over warmup_steps (when warmup_steps > 0), then
/// cosine decay over decay_steps to alpha × the peak.
Schedule cosine_decay(double initial, int64_t decay_steps, double alpha = 0.0,
                      std::optional<double> warmup_target = std::nullopt, int64_t warmup_steps = 0);
}  // namespace schedules

/// Settings every optimizer has (Keras base optimizer).
struct Common {
  LearningRate learning_rate = 0.001;
  double weight_decay = 0.0;        ///< decoupled: p −= p · weight_decay · lr before the step
  std::optional<double> clipnorm;   ///< clip each gradient to this L2 norm
  std::optional<double> clipvalue;  ///< clip each gradient element to ±clipvalue
  std::optional<double> global_clipnorm;  ///< scale all gradients so their joint norm ≤ this
};

/// Base of the optimizers. Updates run in place under NoGrad (nothing is recorded).
class Optimizer {
 public:
  Optimizer(std::string name, Common common) : name_(std::move(name)), common_(std::move(common)) {}
  virtual ~Optimizer() = default;

  /// One update of params from grads (same order; undefined grads are skipped).
  void apply_gradients(const std::vector<Tensor>& params, const std::vector<Tensor>& grads);
  /// One update from the params' own .grad().
  void step(const std::vector<Tensor>& params);
  /// Number of updates applied.
  int64_t iterations() const { return iterations_; }
  /// The learning rate the next update uses.
  double learning_rate() const { return common_.learning_rate.at(iterations_); }
  /// Replaces the learning rate by a constant (callbacks such as ReduceLROnPlateau use this).
  void set_learning_rate(double lr) { common_.learning_rate = lr; }
  const std::string& name() const { return name_; }
  /// Constructor arguments (for saving).
  virtual nn::Config config() const;
  /// Every state tensor (slots of each parameter in the order parameters were first seen, then
  /// the optimizer's own), named "<param index>/<slot>".
  std::vector<std::pair<std::string, Tensor>> state();
  /// The parameter each state() index refers to (first-seen order), by identity.
  std::vector<const TensorImpl*> state_params() const;
  /// Restores state written by state() for the same parameter list; sets the iteration count.
  void load_state(const std::vector<Tensor>& params,
                  const std::vector<std::pair<std::string, Tensor>>& state, int64_t iterations);
  /// Moves the optimizer state to device (after the parameters moved).
  void to(Device device);
  /// A fresh copy with the same settings and no state.
  virtual std::shared_ptr<Optimizer> clone() const = 0;

 protected:
  /// Updates parameter p (index i in first-seen order) with gradient g at learning rate lr.
  virtual void update(size_t i, Tensor& p, const Tensor& g, double lr) = 0;
  /// Hook before the per-parameter updates of a step.
  virtual void begin_step() {}
  /// Hook after load_state, to rebuild state derived from the iteration count.
  virtual void on_state_loaded() {}
  /// The state tensor `slot` of parameter i, created filled with init and shaped like p.
  Tensor slot(size_t i, const std::string& slot, const Tensor& p, double init = 0.0);
  /// Step number t = iterations + 1 of the update being applied.
  double t() const { return static_cast<double>(iterations_ + 1); }
  nn::Config common_config() const;

 private:
  size_t index_of(const Tensor& p);
  std::string name_;
  Common common_;
  int64_t iterations_ = 0;
  std::unordered_map<const TensorImpl*, size_t> index_;
  std::vector<std::vector<std::pair<std::string, Tensor>>> slots_;
};

/// Options of SGD (Keras defaults: learning_rate 0.01).
struct SGDOptions {
  LearningRate learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// Stochastic gradient descent with optional (Nesterov) momentum.
class SGD : public Optimizer {
 public:
  SGD(SGDOptions o = {});
  nn::Config config() const override;
  std::shared_ptr<Optimizer> clone() const override { return std::make_shared<SGD>(o_); }

 protected:
  void update(size_t i, Tensor& p, const Tensor& g, double lr) override;

 private:
  SGDOptions o_;
};

/// Options of RMSprop (Keras defaults; the seed's RMSprop(lr=0.001)).
struct RMSpropOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  bool centered = false;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// RMSprop, Keras form: v = ρv + (1−ρ)g²; p −= lr·g / sqrt(v + ε) (ε inside the root).
class RMSprop : public Optimizer {
 public:
  RMSprop(RMSpropOptions o = {});
  nn::Config config() const override;
  std::shared_ptr<Optimizer> clone() const override { return std::make_shared<RMSprop>(o_); }

 protected:
  void update(size_t i, Tensor& p, const Tensor& g, double lr) override;

 private:
  RMSpropOptions o_;
};

/// Options of Adam.
struct AdamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  bool amsgrad = false;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// Adam: p −= lr·sqrt(1−β₂ᵗ)/(1−β₁ᵗ) · m / (sqrt(v) + ε); amsgrad keeps the running max of v.
class Adam : public Optimizer {
 public:
  Adam(AdamOptions o = {});
  nn::Config config() const override;
  std::shared_ptr<Optimizer> clone() const override { return std::make_shared<Adam>(o_); }

 protected:
  Adam(std::string name, AdamOptions o);
  void update(size_t i, Tensor& p, const Tensor& g, double lr) override;
  AdamOptions o_;
};

/// Options of AdamW (weight_decay 0.004 by default).
struct AdamWOptions {
  LearningRate learning_rate = 0.001;
  double weight_decay = 0.004;
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  bool amsgrad = false;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// Adam with decoupled weight decay.
class AdamW : public Adam {
 public:
  AdamW(AdamWOptions o = {});
  std::shared_ptr<Optimizer> clone() const override;
};

/// Options of Adagrad.
struct AdagradOptions {
  LearningRate learning_rate = 0.001;
  double initial_accumulator_value = 0.1, epsilon = 1e-7;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// Adagrad: acc += g²; p −= lr·g / sqrt(acc + ε).
class Adagrad : public Optimizer {
 public:
  Adagrad(AdagradOptions o = {});
  nn::Config config() const override;
  std::shared_ptr<Optimizer> clone() const override { return std::make_shared<Adagrad>(o_); }

 protected:
  void update(size_t i, Tensor& p, const Tensor& g, double lr) override;

 private:
  AdagradOptions o_;
};

/// Options of Adadelta.
struct AdadeltaOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.95, epsilon = 1e-7;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// Adadelta with Keras' learning-rate factor.
class Adadelta : public Optimizer {
 public:
  Adadelta(AdadeltaOptions o = {});
  nn::Config config() const override;
  std::shared_ptr<Optimizer> clone() const override { return std::make_shared<Adadelta>(o_); }

 protected:
  void update(size_t i, Tensor& p, const Tensor& g, double lr) override;

 private:
  AdadeltaOptions o_;
};

/// Options of Adamax.
struct AdamaxOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// Adamax: u = max(β₂u, |g|); p −= lr/(1−β₁ᵗ) · m/(u + ε).
class Adamax : public Optimizer {
 public:
  Adamax(AdamaxOptions o = {});
  nn::Config config() const override;
  std::shared_ptr<Optimizer> clone() const override { return std::make_shared<Adamax>(o_); }

 protected:
  void update(size_t i, Tensor& p, const Tensor& g, double lr) override;

 private:
  AdamaxOptions o_;
};

/// Options of Nadam.
struct NadamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  double weight_decay = 0.0;
  std::optional<double> clipnorm = std::nullopt, clipvalue = std::nullopt,
                        global_clipnorm = std::nullopt;
};
/// Nadam with Keras' momentum schedule (0.96 decay).
class Nadam : public Optimizer {
 public:
  Nadam(NadamOptions o = {});
  nn::Config config() const override;
  std::shared_ptr<Optimizer> clone() const override { return std::make_shared<Nadam>(o_); }

 protected:
  void begin_step() override;
  void on_state_loaded() override;
  void update(size_t i, Tensor& p, const Tensor& g, double lr) override;

 private:
  NadamOptions o_;
  double u_product_ = 1.0, u_t_ = 0, u_t1_ = 0, u_prod_t_ = 1, u_prod_t1_ = 1;
};

/// An optimizer by name, without regard to case, with its default settings: the Keras names
/// ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam") and any name
/// registered with TG_REGISTER_OPTIMIZER (its factory gets a config holding only "name").
/// Throws ValueError for an unknown name.
std::shared_ptr<Optimizer> get(const std::string& name);

}  // namespace tg::optim
