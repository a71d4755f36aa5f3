// Optimizer base: clipping, weight decay, slots, state; schedules; lookup by name.
#include "tapegrad/nn/optimizer.hpp"
#include "tapegrad/nn/optimizer_registry.hpp"

#include <charconv>
#include <cmath>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/optim.hpp"

namespace tg::optim {

namespace schedules {
Schedule exponential_decay(double initial, int64_t decay_steps, double rate, bool staircase) {
  if (decay_steps <= 0)
    fail<ValueError>("exponential_decay: decay_steps must be positive, got ", decay_steps);
  return [=](int64_t step) {
    double e = static_cast<double>(step) / static_cast<double>(decay_steps);
    if (staircase) e = std::floor(e);
    return initial * std::pow(rate, e);
  };
}
Schedule piecewise_constant(std::vector<int64_t> boundaries, std::vector<double> values) {
  if (values.size() != boundaries.size() + 1)
    fail<ValueError>("piecewise_constant: ", values.size(), " values for ", boundaries.size(),
                     " boundaries (need one more value)");
  return [=](int64_t step) {
    for (size_t i = 0; i < boundaries.size(); ++i)
      if (step <= boundaries[i]) return values[i];
    return values.back();
  };
}
Schedule cosine_decay(double initial, int64_t decay_steps, double alpha,
                      std::optional<double> warmup_target, int64_t warmup_steps) {
  if (decay_steps <= 0)
    fail<ValueError>("cosine_decay: decay_steps must be positive, got ", decay_steps);
  return [=](int64_t step) {
    const double peak = warmup_target ? *warmup_target : initial;
    if (warmup_target && step < warmup_steps)
      return initial +
             (peak - initial) * static_cast<double>(step) / static_cast<double>(warmup_steps);
    const double s =
        std::min<double>(static_cast<double>(step - (warmup_target ? warmup_steps : 0)),
                         static_cast<double>(decay_steps));
    const double cosine = 0.5 * (1.0 + std::cos(M_PI * s / static_cast<double>(decay_steps)));
    return peak * ((1.0 - alpha) * cosine + alpha);
  };
}
}  // namespace schedules

size_t Optimizer::index_of(const Tensor& p) {
  auto [it, fresh] = index_.emplace(p.impl(), slots_.size());
  if (fresh) slots_.emplace_back();
  return it->second;
}

Tensor Optimizer::slot(size_t i, const std::string& name, const Tensor& p, double init) {
  for (auto& [n, t] : slots_[i])
    if (n == name) return t;
  Tensor t = full(p.shape(), init, {.dtype = p.dtype(), .device = p.device()});
  slots_[i].emplace_back(name, t);
  return t;
}

void Optimizer::apply_gradients(const std::vector<Tensor>& params,
                                const std::vector<Tensor>& grads_in) {
  if (params.size() != grads_in.size())
    fail<ValueError>(name_, ": ", params.size(), " parameters but ", grads_in.size(), " gradients");
  NoGrad ng;
  std::vector<Tensor> grads = grads_in;
  for (size_t k = 0; k < params.size(); ++k) {
    if (!grads[k].defined()) continue;
    if (grads[k].shape() != params[k].shape())
      fail<ShapeError>(name_, ": gradient ", k, " has shape ", grads[k].shape(), ", parameter has ",
                       params[k].shape());
    if (grads[k].device() != params[k].device())
      fail<DeviceError>(name_, ": gradient ", k, " is on ", grads[k].device(), ", its parameter on ",
                        params[k].device());
  }
  // Slots made for a parameter on another device (the parameter moved without optimizer.to()).
  for (size_t k = 0; k < params.size(); ++k) {
    if (!grads[k].defined()) continue;
    auto it = index_.find(params[k].impl());
    if (it == index_.end()) continue;
    for (const auto& [slot_name, t] : slots_[it->second])
      if (t.device() != params[k].device())
        fail<DeviceError>(name_, ": slot '", slot_name, "' of parameter ", k, " is on ",
                          t.device(), ", the parameter on ", params[k].device(),
                          "; move the optimizer with to(device) or model.to(device)");
  }
  for (size_t k = 0; k < params.size(); ++k) {
    if (!grads[k].defined()) continue;
    grads[k] = grads[k].detach();
    if (common_.clipvalue) grads[k] = clip(grads[k], -*common_.clipvalue, *common_.clipvalue);
    if (common_.clipnorm) {
      const double n = norm(grads[k]).item<double>();
      if (n > *common_.clipnorm) grads[k] = mul(grads[k], *common_.clipnorm / n);
    }
  }
  if (common_.global_clipnorm) {
    double sq = 0;
    for (const Tensor& g : grads)
      if (g.defined()) sq += sum(square(g)).item<double>();
    const double n = std::sqrt(sq);
    if (n > *common_.global_clipnorm)
      for (Tensor& g : grads)
        if (g.defined()) g = mul(g, *common_.global_clipnorm / n);
  }
  const double lr = learning_rate();
  begin_step();
  for (size_t k = 0; k < params.size(); ++k) {
    if (!grads[k].defined()) continue;
    Tensor p = params[k];
    const size_t i = index_of(p);
    if (common_.weight_decay != 0.0) p.sub_(mul(p, common_.weight_decay * lr));
    update(i, p, grads[k], lr);
  }
  ++iterations_;
}

void Optimizer::to(Device device) {
  NoGrad ng;
  for (auto& slots : slots_)
    for (auto& [name, t] : slots)
      if (t.device() != device) t.set_data(t.to(device).contiguous());
}

void Optimizer::step(const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params) grads.push_back(p.grad());
  apply_gradients(params, grads);
}

nn::Config Optimizer::common_config() const {
  nn::Config c;
  c.set("name", name_);
  c.set("learning_rate", learning_rate());
  c.set("weight_decay", common_.weight_decay);
  if (common_.clipnorm) c.set("clipnorm", *common_.clipnorm);
  if (common_.clipvalue) c.set("clipvalue", *common_.clipvalue);
  if (common_.global_clipnorm) c.set("global_clipnorm", *common_.global_clipnorm);
  return c;
}
nn::Config Optimizer::config() const { return common_config(); }

std::vector<std::pair<std::string, Tensor>> Optimizer::state() {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < slots_.size(); ++i)
    for (auto& [n, t] : slots_[i]) out.emplace_back(std::to_string(i) + "/" + n, t);
  return out;
}

std::vector<const TensorImpl*> Optimizer::state_params() const {
  std::vector<const TensorImpl*> out(slots_.size(), nullptr);
  for (const auto& [p, i] : index_) out[i] = p;
  return out;
}

void Optimizer::load_state(const std::vector<Tensor>& params,
                           const std::vector<std::pair<std::string, Tensor>>& st,
                           int64_t iterations) {
  index_.clear();
  slots_.clear();
  for (const Tensor& p : params) index_of(p);
  for (const auto& [key, t] : st) {
    const size_t slash = key.find('/');
    if (slash == std::string::npos) fail<ValueError>(name_, ": bad state entry name '", key, "'");
    size_t i = 0;
    const auto r = std::from_chars(key.data(), key.data() + slash, i);
    if (slash == 0 || r.ec != std::errc() || r.ptr != key.data() + slash)
      fail<ValueError>(name_, ": state entry '", key, "' does not start with a parameter number");
    if (i >= params.size())
      fail<ValueError>(name_, ": state entry '", key, "' refers to parameter ", i, " of ",
                       params.size());
    if (t.shape() != params[i].shape())
      fail<ShapeError>(name_, ": state entry '", key, "' has shape ", t.shape(), ", parameter ", i,
                       " has ", params[i].shape());
    slots_[i].emplace_back(key.substr(slash + 1),
                           t.to(params[i].dtype()).to(params[i].device()).clone());
  }
  iterations_ = iterations;
  on_state_loaded();
}

namespace {
/// The state tensor as the update ops require it: p's dtype and contiguous (a state loaded from
/// a file in another dtype is converted once, in place of the slot).
Tensor ready(Tensor slot, const Tensor& p) {
  if (slot.defined() && (slot.dtype() != p.dtype() || !slot.is_contiguous()))
    slot.set_data(slot.to(p.dtype()).contiguous());  // set_data: the optimizer's slot changes too
  return slot;
}
template <class O>
Common common_of(const O& o) {
  return {o.learning_rate, o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm};
}
}  // namespace

// ---- SGD ----
SGD::SGD(SGDOptions o) : Optimizer("SGD", common_of(o)), o_(o) {
  if (o.momentum < 0 || o.momentum > 1)
    fail<ValueError>("SGD: momentum must be in [0, 1], got ", o.momentum);
}
void SGD::update(size_t i, Tensor& p, const Tensor& g, double lr) {
  OptimizerScalars u;
  u.lr = lr;
  u.momentum = o_.momentum;
  // m = μm − lr·g; p += m (Nesterov: p += μm − lr·g); without momentum p −= lr·g.
  const Tensor m = o_.momentum == 0.0 ? Tensor() : slot(i, "momentum", p);
  sgd_update_(p, g, ready(m, p), o_.nesterov, u);
}
nn::Config SGD::config() const {
  nn::Config c = common_config();
  c.set("momentum", o_.momentum);
  c.set("nesterov", o_.nesterov);
  return c;
}

// ---- RMSprop ----
RMSprop::RMSprop(RMSpropOptions o) : Optimizer("RMSprop", common_of(o)), o_(o) {}
void RMSprop::update(size_t i, Tensor& p, const Tensor& g, double lr) {
  // v = ρv + (1−ρ)g²; centered: mg = ρmg + (1−ρ)g, denom = v − mg²; inc = lr·g / sqrt(denom + ε);
  // momentum: m = μm + inc, p −= m; else p −= inc.
  OptimizerScalars u;
  u.lr = lr;
  u.rho = o_.rho;
  u.momentum = o_.momentum;
  u.epsilon = o_.epsilon;
  const Tensor v = slot(i, "velocity", p);
  const Tensor mg = o_.centered ? slot(i, "average_gradient", p) : Tensor();
  const Tensor m = o_.momentum > 0 ? slot(i, "momentum", p) : Tensor();
  rmsprop_update_(p, g, ready(v, p), ready(mg, p),
                  ready(m, p), u);
}
nn::Config RMSprop::config() const {
  nn::Config c = common_config();
  c.set("rho", o_.rho);
  c.set("momentum", o_.momentum);
  c.set("epsilon", o_.epsilon);
  c.set("centered", o_.centered);
  return c;
}

// ---- Adam / AdamW ----
Adam::Adam(AdamOptions o) : Adam("Adam", o) {}
Adam::Adam(std::string name, AdamOptions o) : Optimizer(std::move(name), common_of(o)), o_(o) {}
void Adam::update(size_t i, Tensor& p, const Tensor& g, double lr) {
  // m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; amsgrad: vhat = max(vhat, v) replaces v below;
  // p −= α·m / (sqrt(v) + ε) with α = lr·sqrt(1−β₂ᵗ)/(1−β₁ᵗ).
  OptimizerScalars u;
  u.lr = lr;
  u.beta_1 = o_.beta_1;
  u.beta_2 = o_.beta_2;
  u.epsilon = o_.epsilon;
  u.step_size = lr * std::sqrt(1.0 - std::pow(o_.beta_2, t())) / (1.0 - std::pow(o_.beta_1, t()));
  const Tensor m = slot(i, "m", p), v = slot(i, "v", p);
  const Tensor vhat = o_.amsgrad ? slot(i, "vhat", p) : Tensor();
  adam_update_(p, g, ready(m, p), ready(v, p), ready(vhat, p), u);
}
nn::Config Adam::config() const {
  nn::Config c = common_config();
  c.set("beta_1", o_.beta_1);
  c.set("beta_2", o_.beta_2);
  c.set("epsilon", o_.epsilon);
  c.set("amsgrad", o_.amsgrad);
  return c;
}
AdamW::AdamW(AdamWOptions o)
    : Adam("AdamW", AdamOptions{o.learning_rate, o.beta_1, o.beta_2, o.epsilon, o.amsgrad,
                                o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}) {}
std::shared_ptr<Optimizer> AdamW::clone() const {
  return std::make_shared<AdamW>(AdamWOptions{o_.learning_rate, o_.weight_decay, o_.beta_1,
                                              o_.beta_2, o_.epsilon, o_.amsgrad, o_.clipnorm,
                                              o_.clipvalue, o_.global_clipnorm});
}

// ---- Adagrad ----
Adagrad::Adagrad(AdagradOptions o) : Optimizer("Adagrad", common_of(o)), o_(o) {}
void Adagrad::update(size_t i, Tensor& p, const Tensor& g, double lr) {
  // acc += g²; p −= lr·g / sqrt(acc + ε).
  OptimizerScalars u;
  u.lr = lr;
  u.epsilon = o_.epsilon;
  adagrad_update_(p, g, ready(slot(i, "accumulator", p, o_.initial_accumulator_value), p), u);
}
nn::Config Adagrad::config() const {
  nn::Config c = common_config();
  c.set("initial_accumulator_value", o_.initial_accumulator_value);
  c.set("epsilon", o_.epsilon);
  return c;
}

// ---- Adadelta ----
Adadelta::Adadelta(AdadeltaOptions o) : Optimizer("Adadelta", common_of(o)), o_(o) {}
void Adadelta::update(size_t i, Tensor& p, const Tensor& g, double lr) {
  // ag = ρag + (1−ρ)g²; δ = sqrt(ad + ε)/sqrt(ag + ε)·g; ad = ρad + (1−ρ)δ²; p −= lr·δ.
  OptimizerScalars u;
  u.lr = lr;
  u.rho = o_.rho;
  u.epsilon = o_.epsilon;
  adadelta_update_(p, g, ready(slot(i, "accumulated_grad", p), p),
                   ready(slot(i, "accumulated_delta_var", p), p), u);
}
nn::Config Adadelta::config() const {
  nn::Config c = common_config();
  c.set("rho", o_.rho);
  c.set("epsilon", o_.epsilon);
  return c;
}

// ---- Adamax ----
Adamax::Adamax(AdamaxOptions o) : Optimizer("Adamax", common_of(o)), o_(o) {}
void Adamax::update(size_t i, Tensor& p, const Tensor& g, double lr) {
  // m = β₁m + (1−β₁)g; u = max(β₂u, |g|); p −= lr/(1−β₁ᵗ) · m/(u + ε).
  OptimizerScalars u;
  u.lr = lr;
  u.beta_1 = o_.beta_1;
  u.beta_2 = o_.beta_2;
  u.epsilon = o_.epsilon;
  u.step_size = lr / (1.0 - std::pow(o_.beta_1, t()));
  adamax_update_(p, g, ready(slot(i, "m", p), p), ready(slot(i, "u", p), p), u);
}
nn::Config Adamax::config() const {
  nn::Config c = common_config();
  c.set("beta_1", o_.beta_1);
  c.set("beta_2", o_.beta_2);
  c.set("epsilon", o_.epsilon);
  return c;
}

// ---- Nadam ----
Nadam::Nadam(NadamOptions o) : Optimizer("Nadam", common_of(o)), o_(o) {}
void Nadam::begin_step() {
  const double step = t(), next = t() + 1;
  // Keras 3's momentum schedule: μ_t = β₁·(1 − ½·0.96^t) (Keras 2 used 0.96^(0.004·t)).
  u_t_ = o_.beta_1 * (1.0 - 0.5 * std::pow(0.96, step));
  u_t1_ = o_.beta_1 * (1.0 - 0.5 * std::pow(0.96, next));
  u_prod_t_ = u_product_ * u_t_;
  u_prod_t1_ = u_prod_t_ * u_t1_;
  u_product_ = u_prod_t_;
}
void Nadam::on_state_loaded() {
  u_product_ = 1.0;
  for (int64_t s = 1; s <= iterations(); ++s)
    u_product_ *= o_.beta_1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(s)));
}
void Nadam::update(size_t i, Tensor& p, const Tensor& g, double lr) {
  // m, v as Adam; m̂ = m·u_{t+1}/(1−Π_{t+1}) + g·(1−u_t)/(1−Π_t); v̂ = v/(1−β₂ᵗ);
  // p −= lr·m̂ / (sqrt(v̂) + ε).
  OptimizerScalars u;
  u.lr = lr;
  u.beta_1 = o_.beta_1;
  u.beta_2 = o_.beta_2;
  u.epsilon = o_.epsilon;
  u.m_coef = u_t1_ / (1.0 - u_prod_t1_);
  u.g_coef = (1.0 - u_t_) / (1.0 - u_prod_t_);
  u.v_correction = 1.0 - std::pow(o_.beta_2, t());
  nadam_update_(p, g, ready(slot(i, "m", p), p), ready(slot(i, "v", p), p), u);
}
nn::Config Nadam::config() const {
  nn::Config c = common_config();
  c.set("beta_1", o_.beta_1);
  c.set("beta_2", o_.beta_2);
  c.set("epsilon", o_.epsilon);
  return c;
}

std::shared_ptr<Optimizer> get(const std::string& name) {
  auto lower = [](const std::string& x) {
    std::string out;
    for (char c : x) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  // Keras names are matched without case ("rmsprop", "RMSprop"); user-registered ones too.
  for (const std::string& registered : registered_optimizers())
    if (lower(registered) == lower(name)) {
      nn::Config c;
      c.set("name", registered);
      return from_config(c);  // every setting absent: the options' defaults
    }
  fail<ValueError>("optim::get: unknown optimizer '", name, "' (registered: ",
                   registered_optimizers().size(), " names, e.g. sgd, rmsprop, adam)");
}

}  // namespace tg::optim

// ---- registration: load_model rebuilds each optimizer from its config() by name ----

namespace tg::optim {
namespace {
/// field = the config's value under key, when the config has it (a setting a file leaves out
/// keeps the options' default, so optim::get builds an optimizer from its name alone).
template <class T>
void read(const nn::Config& c, const char* key, T& field) {
  if (c.has(key)) field = c.get<T>(key);
}
/// The settings every optimizer's options hold: learning rate, weight decay and clipping.
template <class O>
O with_common(const nn::Config& c, O o) {
  if (c.has("learning_rate")) o.learning_rate = learning_rate_from_config(c);
  read(c, "weight_decay", o.weight_decay);
  for (auto [key, field] : {std::pair{"clipnorm", &o.clipnorm}, std::pair{"clipvalue", &o.clipvalue},
                            std::pair{"global_clipnorm", &o.global_clipnorm}})
    if (c.has(key)) *field = optional_from_config(c, key);
  return o;
}
/// beta_1, beta_2 and epsilon: the settings of Adam, AdamW, Adamax and Nadam.
template <class O>
O with_betas(const nn::Config& c, O o) {
  read(c, "beta_1", o.beta_1);
  read(c, "beta_2", o.beta_2);
  read(c, "epsilon", o.epsilon);
  return o;
}
}  // namespace

TG_REGISTER_OPTIMIZER("SGD", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  SGDOptions o = with_common(c, SGDOptions{});
  read(c, "momentum", o.momentum);
  read(c, "nesterov", o.nesterov);
  return std::make_shared<SGD>(o);
});
TG_REGISTER_OPTIMIZER("RMSprop", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  RMSpropOptions o = with_common(c, RMSpropOptions{});
  read(c, "rho", o.rho);
  read(c, "momentum", o.momentum);
  read(c, "epsilon", o.epsilon);
  read(c, "centered", o.centered);
  return std::make_shared<RMSprop>(o);
});
TG_REGISTER_OPTIMIZER("Adam", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  AdamOptions o = with_betas(c, with_common(c, AdamOptions{}));
  read(c, "amsgrad", o.amsgrad);
  return std::make_shared<Adam>(o);
});
TG_REGISTER_OPTIMIZER("AdamW", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  AdamWOptions o = with_betas(c, with_common(c, AdamWOptions{}));
  read(c, "amsgrad", o.amsgrad);
  return std::make_shared<AdamW>(o);
});
TG_REGISTER_OPTIMIZER("Adagrad", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  AdagradOptions o = with_common(c, AdagradOptions{});
  read(c, "initial_accumulator_value", o.initial_accumulator_value);
  read(c, "epsilon", o.epsilon);
  return std::make_shared<Adagrad>(o);
});
TG_REGISTER_OPTIMIZER("Adadelta", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  AdadeltaOptions o = with_common(c, AdadeltaOptions{});
  read(c, "rho", o.rho);
  read(c, "epsilon", o.epsilon);
  return std::make_shared<Adadelta>(o);
});
TG_REGISTER_OPTIMIZER("Adamax", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  AdamaxOptions o = with_betas(c, with_common(c, AdamaxOptions{}));
  return std::make_shared<Adamax>(o);
});
TG_REGISTER_OPTIMIZER("Nadam", [](const nn::Config& c) -> std::shared_ptr<Optimizer> {
  NadamOptions o = with_betas(c, with_common(c, NadamOptions{}));
  return std::make_shared<Nadam>(o);
});

}  // namespace tg::optim
