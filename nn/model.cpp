// Functional graph execution and the training loop (fit, evaluate, predict).
#include "tapegrad/nn/model.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "tapegrad/autograd/engine.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/progress_bar.hpp"

namespace tg::nn {

// ---------------------------------------------------------------- graph

ModelImpl::ModelImpl(std::vector<Symbol> inputs, std::vector<Symbol> outputs, std::string name)
    : Layer("Functional", std::move(name)) {
  set_graph(std::move(inputs), std::move(outputs));
}

ModelImpl::ModelImpl(std::string type, std::string name)
    : Layer(std::move(type), std::move(name)) {}

void ModelImpl::set_graph(std::vector<Symbol> inputs, std::vector<Symbol> outputs) {
  if (inputs.empty()) fail<ValueError>(label(), ": a model needs at least one input");
  if (outputs.empty()) fail<ValueError>(label(), ": a model needs at least one output");
  std::unordered_set<const SymbolState*> input_set;
  for (const Symbol& s : inputs) {
    if (!s.defined()) fail<ValueError>(label(), ": an input is undefined");
    if (s.state()->call) fail<ValueError>(label(), ": input '", s.name(), "' is not an nn::Input");
    input_set.insert(s.state().get());
  }
  // Post-order walk from the outputs (explicit stack): every call after the calls it reads.
  std::vector<std::shared_ptr<LayerCall>> order;
  std::unordered_set<const LayerCall*> done, open;
  std::vector<std::pair<std::shared_ptr<LayerCall>, bool>> stack;
  for (auto it = outputs.rbegin(); it != outputs.rend(); ++it) {
    if (!it->defined()) fail<ValueError>(label(), ": an output is undefined");
    if (it->state()->call)
      stack.emplace_back(it->state()->call, false);
    else if (!input_set.count(it->state().get()))
      fail<ValueError>(label(), ": output '", it->name(),
                       "' is an input that is not among the model's inputs");
  }
  while (!stack.empty()) {
    auto [call, expanded] = stack.back();
    stack.pop_back();
    if (done.count(call.get())) continue;
    if (expanded) {
      done.insert(call.get());
      order.push_back(call);
      continue;
    }
    stack.emplace_back(call, true);
    for (auto it = call->inputs.rbegin(); it != call->inputs.rend(); ++it) {
      const auto& st = it->state();
      if (st->call) {
        if (!done.count(st->call.get())) stack.emplace_back(st->call, false);
      } else if (!input_set.count(st.get())) {
        fail<ValueError>(label(), ": the outputs depend on input '", st->name,
                         "', which is not among the model's inputs");
      }
    }
  }
  // Weights are saved and loaded by layer name: two layers with one name would be mixed up.
  std::vector<std::shared_ptr<Layer>> layers;
  std::unordered_set<const Layer*> seen;
  std::unordered_set<std::string> names;
  for (const auto& c : order)
    if (seen.insert(c->layer.get()).second) {
      if (!names.insert(c->layer->name()).second)
        fail<ValueError>(label(), ": two layers are named '", c->layer->name(),
                         "'; layer names must be unique in a model");
      layers.push_back(c->layer);
    }
  inputs_ = std::move(inputs);
  outputs_ = std::move(outputs);
  order_ = std::move(order);
  layers_ = std::move(layers);
  Layer::ensure_built({});
}

void ModelImpl::clear_graph() {
  inputs_.clear();
  outputs_.clear();
  order_.clear();
  layers_.clear();
}

void ModelImpl::ensure_graph(const std::vector<Tensor>&) {}

std::vector<Tensor> ModelImpl::call_multi(const std::vector<Tensor>& xs, bool training) {
  ensure_graph(xs);
  if (xs.size() != inputs_.size())
    fail<ValueError>(label(), ": expected ", inputs_.size(), " inputs, got ", xs.size());
  std::unordered_map<const SymbolState*, Tensor> values;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& want = inputs_[i].shape();
    const Shape& got = xs[i].shape();
    bool ok = want.size() == got.size();
    for (size_t d = 0; ok && d < want.size(); ++d) ok = want[d] < 0 || want[d] == got[d];
    if (!ok)
      fail<ShapeError>(label(), ": input '", inputs_[i].name(), "' expects shape ", want,
                       " (-1: any), got ", got);
    values[inputs_[i].state().get()] = xs[i];
  }
  // Outputs of each call, looked up through the call pointer.
  std::unordered_map<const LayerCall*, std::vector<Tensor>> results;
  auto value_of = [&](const Symbol& s) -> const Tensor& {
    const auto& st = s.state();
    if (!st->call) return values.at(st.get());
    return results.at(st->call.get()).at(st->index);
  };
  for (const auto& call : order_) {
    std::vector<Tensor> ins;
    for (const Symbol& s : call->inputs) ins.push_back(value_of(s));
    results[call.get()] = (*call->layer)(ins, training);
  }
  std::vector<Tensor> outs;
  for (const Symbol& s : outputs_) outs.push_back(value_of(s));
  return outs;
}

std::vector<Shape> ModelImpl::compute_output_shapes(const std::vector<Shape>& in) {
  if (!has_graph()) return Layer::compute_output_shapes(in);
  if (in.size() != inputs_.size())
    fail<ValueError>(label(), ": expected ", inputs_.size(), " inputs, got ", in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& want = inputs_[i].shape();
    bool ok = want.size() == in[i].size();
    for (size_t d = 1; ok && d < want.size(); ++d)
      ok = want[d] < 0 || in[i][d] < 0 || want[d] == in[i][d];
    if (!ok)
      fail<ShapeError>(label(), ": input '", inputs_[i].name(), "' expects shape ", want, ", got ",
                       in[i]);
  }
  std::vector<Shape> out;
  for (const Symbol& s : outputs_) out.push_back(s.shape());
  return out;
}

Config ModelImpl::config() const {
  Config c = Layer::config();
  std::vector<int64_t> n_in{static_cast<int64_t>(inputs_.size())};
  c.set("num_inputs", static_cast<int64_t>(inputs_.size()));
  c.set("num_outputs", static_cast<int64_t>(outputs_.size()));
  return c;
}

std::shared_ptr<Layer> ModelImpl::get_layer(const std::string& name) const {
  for (const auto& l : sublayers())
    if (l->name() == name) return l;
  fail<ValueError>(label(), ": no layer named '", name, "'");
}

void ModelImpl::to(Device device) {
  Layer::to(device);
  if (optimizer_) optimizer_->to(device);
}

// ---------------------------------------------------------------- compile

void ModelImpl::compile(CompileOptions o) {
  // Everything is checked and built first: a compile that throws leaves the model as it was.
  if (o.loss.losses.empty()) fail<ValueError>(label(), ": compile needs a loss");
  const size_t n_out = has_graph() ? outputs_.size() : 1;
  if (o.loss.losses.size() != 1 && o.loss.losses.size() != n_out)
    fail<ValueError>(label(), ": ", o.loss.losses.size(), " losses given for ", n_out, " outputs");
  if (!o.loss_weights.empty() && o.loss_weights.size() != n_out)
    fail<ValueError>(label(), ": ", o.loss_weights.size(), " loss_weights given for ", n_out,
                     " outputs");
  if (!o.output_metrics.empty() && o.output_metrics.size() != n_out)
    fail<ValueError>(label(), ": ", o.output_metrics.size(), " output_metrics lists given for ",
                     n_out, " outputs");
  // Output names (the layers that produce them) for metrics_by_output.
  std::vector<std::string> out_names;
  for (size_t i = 0; has_graph() && i < n_out; ++i) {
    const auto& st = outputs_[i].state();
    out_names.push_back(st->call ? st->call->layer->name() : st->name);
  }
  for (const auto& [name, list] : o.metrics_by_output)
    if (std::find(out_names.begin(), out_names.end(), name) == out_names.end()) {
      std::string known;
      for (const std::string& n : out_names) known += (known.empty() ? "" : ", ") + n;
      fail<ValueError>(label(), ": metrics_by_output names '", name,
                       "', which is not an output of the model (outputs: ",
                       known.empty() ? "not built yet" : known, ")");
    }
  auto name_of = [](const MetricArg& m) { return m.metric ? std::string("custom") : m.name; };
  std::vector<OutputSpec> specs;
  std::vector<std::vector<std::string>> own_names(n_out);
  for (size_t i = 0; i < n_out; ++i) {
    OutputSpec s;
    s.loss = o.loss.losses.size() == 1 ? o.loss.losses[0] : o.loss.losses[i];
    s.weight = o.loss_weights.empty() ? 1.0 : o.loss_weights[i];
    if (n_out > 1) s.prefix = out_names[i] + "_";
    Shape out_shape = has_graph() ? outputs_[i].shape() : Shape{};
    std::vector<MetricArg> own;  // this output's metrics beyond those of every output
    if (!o.output_metrics.empty()) own = o.output_metrics[i];
    if (i < out_names.size()) {
      auto it = o.metrics_by_output.find(out_names[i]);
      if (it != o.metrics_by_output.end())
        own.insert(own.end(), it->second.begin(), it->second.end());
    }
    for (const MetricArg& m : own) own_names[i].push_back(name_of(m));
    std::vector<MetricArg> all = o.metrics;
    all.insert(all.end(), own.begin(), own.end());
    for (const MetricArg& m : all) {
      auto metric = m.metric ? m.metric->clone() : get_metric(m.name, s.loss.name(), out_shape);
      metric->set_name(s.prefix + metric->name());
      s.metrics.push_back(metric);
    }
    specs.push_back(std::move(s));
  }
  std::shared_ptr<optim::Optimizer> optimizer = o.optimizer.get();
  // All checked: apply.
  optimizer_ = std::move(optimizer);
  loss_names_.clear();
  for (const Loss& l : o.loss.losses) loss_names_.push_back(l.name());
  metric_names_.clear();
  for (const MetricArg& m : o.metrics) metric_names_.push_back(name_of(m));
  output_metric_names_ = std::move(own_names);
  loss_weights_ = o.loss_weights;
  specs_ = std::move(specs);
  compiled_ = true;
}

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out;
}
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}
}  // namespace

Config ModelImpl::compile_config() const {
  Config c;
  c.set("loss", join(loss_names_));
  c.set("metrics", join(metric_names_));
  // Per-output metrics: one comma list per output, separated by ';' (absent when none).
  bool any_own = false;
  std::string own;
  for (size_t i = 0; i < output_metric_names_.size(); ++i) {
    any_own |= !output_metric_names_[i].empty();
    own += (i ? ";" : "") + join(output_metric_names_[i]);
  }
  if (any_own) c.set("output_metrics", own);
  std::vector<std::string> w;
  for (double x : loss_weights_) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    w.push_back(buf);
  }
  c.set("loss_weights", join(w));
  return c;
}

bool ModelImpl::restore_compile(const Config& c, std::shared_ptr<optim::Optimizer> opt) {
  std::vector<Loss> losses;
  for (const std::string& n : split_list(c.get<std::string>("loss"))) {
    if (n == "custom") return false;
    try {
      losses.emplace_back(n);
    } catch (const ValueError&) {
      return false;  // a user loss saved under its own name: the caller compiles again
    }
  }
  std::vector<MetricArg> metrics;
  for (const std::string& n : split_list(c.get<std::string>("metrics"))) {
    if (n == "custom") return false;
    metrics.emplace_back(n);
  }
  std::vector<double> weights;
  for (const std::string& n : split_list(c.get<std::string>("loss_weights")))
    weights.push_back(std::stod(n));
  std::vector<std::vector<MetricArg>> own;
  if (c.has("output_metrics")) {
    const std::string s = c.get<std::string>("output_metrics");
    size_t start = 0;
    while (true) {
      const size_t end = s.find(';', start);
      std::vector<MetricArg> list;
      for (const std::string& n : split_list(s.substr(start, end - start))) {
        if (n == "custom") return false;
        list.emplace_back(n);
      }
      own.push_back(std::move(list));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  compile({.optimizer = std::move(opt),
           .loss = LossArg(losses),
           .metrics = metrics,
           .loss_weights = weights,
           .output_metrics = own});
  return true;
}

void ModelImpl::check_compiled(const char* what) const {
  if (!compiled_) fail<ValueError>(label(), ": call compile() before ", what);
}

void ModelImpl::check_batch(const char* what, const Batch& b) const {
  if (b.y.size() != specs_.size())
    fail<ValueError>(label(), ": ", what, " got ", b.y.size(), " targets for ", specs_.size(),
                     " outputs");
}

// ---------------------------------------------------------------- one step

Tensor ModelImpl::effective_sample_weight(const Batch& b,
                                          const std::map<int64_t, double>& class_weight) const {
  Tensor w = b.sample_weight;
  if (!class_weight.empty() && !b.y.empty()) {
    NoGrad ng;
    const Tensor& y = b.y[0];
    Tensor labels = (y.dim() >= 2 && y.shape().back() > 1) ? argmax(y, -1)
                                                           : y.reshape({y.shape()[0]}).to(kInt64);
    std::vector<int64_t> l = labels.to_vector<int64_t>();
    std::vector<float> cw(l.size());
    for (size_t i = 0; i < l.size(); ++i) {
      auto it = class_weight.find(l[i]);
      cw[i] = it == class_weight.end() ? 1.0f : static_cast<float>(it->second);
    }
    Tensor c = tensor(cw, {static_cast<int64_t>(cw.size())}, {.device = y.device()});
    w = w.defined() ? mul(w.reshape({-1}).to(kFloat32), c) : c;
  }
  return w;
}

ModelImpl::StepResult ModelImpl::forward_loss(const Batch& b, bool training) {
  StepResult r;
  collect_losses();  // drop penalties left by calls outside a training step (predict, eager use)
  r.predictions = call_multi(b.x, training);
  if (r.predictions.size() != specs_.size())
    fail<ValueError>(label(), ": the model has ", r.predictions.size(),
                     " outputs but was compiled for ", specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    Tensor l = specs_[i].loss(b.y[i], r.predictions[i], b.sample_weight);
    if (l.numel() != 1)
      fail<ShapeError>(label(), ": loss '", specs_[i].loss.name(), "' of output ", i,
                       " is not a scalar: ", l.shape());
    l = l.reshape({});
    r.per_output.push_back(l);
    Tensor wl = specs_[i].weight == 1.0 ? l : mul(l, specs_[i].weight);
    r.total = r.total.defined() ? add(r.total, wl) : wl;
  }
  for (const Tensor& extra : collect_losses()) r.total = add(r.total, extra.reshape({}));
  return r;
}

void ModelImpl::update_metrics(const Batch& b, const StepResult& r) {
  for (size_t i = 0; i < specs_.size(); ++i)
    for (auto& m : specs_[i].metrics) m->update(b.y[i], r.predictions[i], b.sample_weight);
}

void ModelImpl::reset_metrics() {
  for (auto& s : specs_)
    for (auto& m : s.metrics) m->reset();
}

Logs ModelImpl::metric_logs(double mean_loss, const std::vector<double>& output_losses) const {
  Logs logs;
  logs["loss"] = mean_loss;
  if (specs_.size() > 1)
    for (size_t i = 0; i < specs_.size(); ++i) logs[specs_[i].prefix + "loss"] = output_losses[i];
  for (const auto& s : specs_)
    for (const auto& m : s.metrics) logs[m->name()] = m->result();
  return logs;
}

namespace {
/// Running weighted means of the total loss and each output's loss over an epoch.
struct LossMeans {
  double total = 0, count = 0;
  std::vector<double> outputs;
  void add(double loss, const std::vector<double>& outs, double n) {
    total += loss * n;
    count += n;
    if (outputs.empty()) outputs.assign(outs.size(), 0.0);
    for (size_t i = 0; i < outs.size(); ++i) outputs[i] += outs[i] * n;
  }
  double mean() const { return count > 0 ? total / count : 0.0; }
  std::vector<double> output_means() const {
    std::vector<double> m = outputs;
    for (double& v : m) v = count > 0 ? v / count : 0.0;
    return m;
  }
};

std::vector<std::pair<std::string, double>> as_list(const Logs& l) {
  // "loss" first, then the rest by name (as Keras prints them).
  std::vector<std::pair<std::string, double>> v;
  if (l.count("loss")) v.emplace_back("loss", l.at("loss"));
  for (const auto& [k, x] : l)
    if (k != "loss") v.emplace_back(k, x);
  return v;
}

std::vector<double> values_of(const std::vector<Tensor>& ts) {
  std::vector<double> v;
  for (const Tensor& t : ts) v.push_back(t.item<double>());
  return v;
}
}  // namespace

Logs ModelImpl::train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                               const Tensor& sw) {
  check_compiled("train_on_batch");
  Batch b{x, y, sw};
  ensure_graph(b.x);
  check_batch("train_on_batch", b);
  reset_metrics();
  StepResult r = forward_loss(b, true);
  std::vector<Tensor> params = trainable_weights();
  std::vector<Tensor> grads = autograd::grad({r.total}, params, {}, {.allow_unused = true});
  optimizer_->apply_gradients(params, grads);
  update_metrics(b, r);
  return metric_logs(r.total.item<double>(), values_of(r.per_output));
}

Logs ModelImpl::test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                              const Tensor& sw) {
  check_compiled("test_on_batch");
  Batch b{x, y, sw};
  ensure_graph(b.x);
  check_batch("test_on_batch", b);
  reset_metrics();
  NoGrad ng;
  StepResult r = forward_loss(b, false);
  update_metrics(b, r);
  return metric_logs(r.total.item<double>(), values_of(r.per_output));
}

std::vector<Tensor> ModelImpl::predict_on_batch(const std::vector<Tensor>& x) {
  NoGrad ng;
  std::vector<Tensor> out = call_multi(x, false);
  collect_losses();  // inference keeps no penalty terms
  return out;
}

// ---------------------------------------------------------------- fit

History ModelImpl::fit(const Tensor& x, const Tensor& y, FitOptions o) {
  return fit(std::vector<Tensor>{x}, std::vector<Tensor>{y}, std::move(o));
}

History ModelImpl::fit(const std::vector<Tensor>& x_in, const std::vector<Tensor>& y_in,
                       FitOptions o) {
  check_compiled("fit");
  if (x_in.empty() || !x_in[0].defined()) fail<ValueError>(label(), ": fit got no input data");
  std::vector<Tensor> x = x_in, y = y_in;
  Tensor sw = o.sample_weight;
  if (o.validation_split > 0.0) {
    if (o.validation_split >= 1.0)
      fail<ValueError>(label(), ": validation_split must be in [0, 1), got ", o.validation_split);
    if (!o.validation_data.empty())
      fail<ValueError>(label(), ": give validation_split or validation_data, not both");
    // Keras holds out the last fraction of the samples, before any shuffling.
    const int64_t n = x[0].shape()[0];
    const int64_t split =
        static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - o.validation_split)));
    std::vector<Tensor> vx, vy;
    for (Tensor& t : x) {
      vx.push_back(t.slice(0, split, n));
      t = t.slice(0, 0, split);
    }
    for (Tensor& t : y) {
      vy.push_back(t.slice(0, split, n));
      t = t.slice(0, 0, split);
    }
    // The held-out samples keep their weights for the validation loss, as in Keras.
    Tensor vsw;
    if (sw.defined()) {
      vsw = sw.slice(0, split, n);
      sw = sw.slice(0, 0, split);
    }
    o.validation_data = Data(vx, vy, vsw);
  }
  TensorDataset data(
      x, y,
      {.batch_size = o.batch_size, .shuffle = o.shuffle, .seed = o.seed, .sample_weight = sw});
  return fit(data, std::move(o));
}

History ModelImpl::fit(Dataset& data, FitOptions o) {
  check_compiled("fit");
  if (o.epochs < 0) fail<ValueError>(label(), ": epochs must be ≥ 0, got ", o.epochs);
  History history;
  stop_training = false;
  for (auto& cb : o.callbacks) cb->set_model(this);
  for (auto& cb : o.callbacks) cb->on_train_begin({});
  std::unique_ptr<TensorDataset> val;
  if (!o.validation_data.empty())
    val = std::make_unique<TensorDataset>(
        o.validation_data.x, o.validation_data.y,
        TensorDatasetOptions{.batch_size = o.batch_size,
                             .sample_weight = o.validation_data.sample_weight});
  Logs epoch_logs;
  for (int epoch = o.initial_epoch; epoch < o.epochs && !stop_training; ++epoch) {
    for (auto& cb : o.callbacks) cb->on_epoch_begin(epoch, epoch_logs);
    if (o.verbose) std::printf("Epoch %d/%d\n", epoch + 1, o.epochs);
    data.reset(epoch);
    ProgressBar bar(data.num_batches(), o.verbose);
    reset_metrics();
    LossMeans means;
    int64_t step = 0;
    Logs logs;
    while (auto batch = data.next()) {
      for (auto& cb : o.callbacks) cb->on_train_batch_begin(step, logs);
      ensure_graph(batch->x);
      check_batch("fit", *batch);
      batch->sample_weight = effective_sample_weight(*batch, o.class_weight);
      StepResult r = forward_loss(*batch, true);
      std::vector<Tensor> params = trainable_weights();
      std::vector<Tensor> grads = autograd::grad({r.total}, params, {}, {.allow_unused = true});
      optimizer_->apply_gradients(params, grads);
      update_metrics(*batch, r);
      means.add(r.total.item<double>(), values_of(r.per_output),
                static_cast<double>(batch->x[0].shape()[0]));
      ++step;
      logs = metric_logs(means.mean(), means.output_means());
      if (data.num_batches() < 0 || step < data.num_batches()) bar.update(step, as_list(logs));
      for (auto& cb : o.callbacks) cb->on_train_batch_end(step - 1, logs);
      if (stop_training) break;
    }
    epoch_logs = metric_logs(means.mean(), means.output_means());
    if (val) {
      Logs v = run_evaluation(*val, 0, o.callbacks);  // validation fires on_test_* as in Keras
      for (const auto& [k, x] : v) epoch_logs["val_" + k] = x;
    }
    bar.update(step, as_list(epoch_logs), true);
    history.epoch.push_back(epoch);
    for (const auto& [k, x] : epoch_logs) history.history[k].push_back(x);
    for (auto& cb : o.callbacks) cb->on_epoch_end(epoch, epoch_logs);
  }
  for (auto& cb : o.callbacks) cb->on_train_end(epoch_logs);
  return history;
}

// ---------------------------------------------------------------- evaluate / predict

Logs ModelImpl::run_evaluation(Dataset& data, int verbose,
                               const std::vector<std::shared_ptr<Callback>>& cbs) {
  for (auto& cb : cbs) cb->on_test_begin({});
  data.reset(0);
  reset_metrics();
  LossMeans means;
  ProgressBar bar(data.num_batches(), verbose);
  int64_t step = 0;
  NoGrad ng;
  while (auto batch = data.next()) {
    ensure_graph(batch->x);
    check_batch("evaluate", *batch);
    StepResult r = forward_loss(*batch, false);
    update_metrics(*batch, r);
    means.add(r.total.item<double>(), values_of(r.per_output),
              static_cast<double>(batch->x[0].shape()[0]));
    ++step;
    if (data.num_batches() < 0 || step < data.num_batches())
      bar.update(step, as_list(metric_logs(means.mean(), means.output_means())));
  }
  Logs logs = metric_logs(means.mean(), means.output_means());
  bar.update(step, as_list(logs), true);
  for (auto& cb : cbs) cb->on_test_end(logs);
  return logs;
}

Logs ModelImpl::evaluate(const Tensor& x, const Tensor& y, EvaluateOptions o) {
  return evaluate(std::vector<Tensor>{x}, std::vector<Tensor>{y}, std::move(o));
}

Logs ModelImpl::evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                         EvaluateOptions o) {
  check_compiled("evaluate");
  TensorDataset data(x, y, {.batch_size = o.batch_size, .sample_weight = o.sample_weight});
  return run_evaluation(data, o.verbose, o.callbacks);
}

Logs ModelImpl::evaluate(Dataset& data, EvaluateOptions o) {
  check_compiled("evaluate");
  return run_evaluation(data, o.verbose, o.callbacks);
}

Tensor ModelImpl::predict(const Tensor& x, PredictOptions o) {
  return predict(std::vector<Tensor>{x}, o)[0];
}

std::vector<Tensor> ModelImpl::predict(const std::vector<Tensor>& x, PredictOptions o) {
  TensorDataset data(x, {}, {.batch_size = o.batch_size});
  data.reset(0);
  ProgressBar bar(data.num_batches(), o.verbose);
  std::vector<std::vector<Tensor>> parts;
  NoGrad ng;
  int64_t step = 0;
  while (auto batch = data.next()) {
    std::vector<Tensor> outs = call_multi(batch->x, false);
    if (parts.empty()) parts.resize(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) parts[i].push_back(outs[i]);
    collect_losses();  // inference keeps no penalty terms
    bar.update(++step, {});
  }
  std::vector<Tensor> result;
  for (auto& p : parts) result.push_back(p.size() == 1 ? p[0] : concat(p, 0));
  return result;
}

// ---------------------------------------------------------------- summary

void ModelImpl::summary(std::ostream& os) {
  struct Row {
    std::string name, shape;
    int64_t params;
  };
  std::vector<Row> rows;
  auto shape_text = [](const Shape& s) {
    std::ostringstream o;
    o << '(';
    for (size_t i = 0; i < s.size(); ++i)
      o << (i ? ", " : "") << (s[i] < 0 ? std::string("None") : std::to_string(s[i]));
    if (s.size() == 1) o << ',';
    o << ')';
    return o.str();
  };
  std::unordered_map<const Layer*, std::vector<Shape>> out_shapes;
  for (const auto& c : order_) {
    auto& v = out_shapes[c->layer.get()];
    if (v.empty())
      v = c->layer->compute_output_shapes([&] {
        std::vector<Shape> in;
        for (const Symbol& s : c->inputs) in.push_back(s.shape());
        return in;
      }());
  }
  for (const auto& l : sublayers()) {
    std::string shape = "?";
    auto it = out_shapes.find(l.get());
    if (it != out_shapes.end()) {
      shape.clear();
      for (size_t i = 0; i < it->second.size(); ++i)
        shape += (i ? ", " : "") + shape_text(it->second[i]);
    }
    rows.push_back({l->name() + " (" + l->type() + ")", shape, l->built() ? l->count_params() : 0});
  }
  const int w1 = 34, w2 = 26, w3 = 12;
  const std::string rule(w1 + w2 + w3, '-'), thick(w1 + w2 + w3, '=');
  os << "Model: \"" << name() << "\"\n" << rule << "\n";
  os << std::left << std::setw(w1) << "Layer (type)" << std::setw(w2) << "Output Shape"
     << std::right << std::setw(w3) << "Param #"
     << "\n"
     << thick << "\n";
  for (const Row& r : rows)
    os << std::left << std::setw(w1) << r.name << std::setw(w2) << r.shape << std::right
       << std::setw(w3) << r.params << "\n";
  int64_t trainable = 0, total = count_params();
  for (const Tensor& t : trainable_weights()) trainable += t.numel();
  os << thick << "\n";
  os << "Total params: " << total << "\n";
  os << "Trainable params: " << trainable << "\n";
  os << "Non-trainable params: " << (total - trainable) << "\n" << rule << "\n";
}

// ---------------------------------------------------------------- Sequential

SequentialImpl::SequentialImpl(std::vector<std::shared_ptr<Layer>> layers, std::string name)
    : ModelImpl("Sequential", std::move(name)) {
  for (auto& l : layers) add(l);
}

void SequentialImpl::add(std::shared_ptr<Layer> layer) {
  if (!layer) fail<ValueError>(label(), ": add() got a null layer");
  for (const auto& l : stack_) {
    if (l == layer) fail<ValueError>(label(), ": layer '", layer->name(), "' was already added");
    if (l->name() == layer->name())
      fail<ValueError>(label(), ": a layer named '", layer->name(),
                       "' is already in the model; names must be unique");
  }
  if (stack_.empty() && layer->declared_input_shape())
    input_shape_ = *layer->declared_input_shape();
  stack_.push_back(layer);
  if (input_shape_) {
    try {
      rebuild();
    } catch (...) {
      stack_.pop_back();  // leave the model as it was
      if (stack_.empty()) input_shape_.reset();
      throw;
    }
  }
}

void SequentialImpl::pop() {
  if (stack_.empty()) fail<ValueError>(label(), ": pop() on an empty model");
  stack_.pop_back();
  if (stack_.empty()) {
    input_shape_.reset();
    clear_graph();
  } else if (input_shape_) {
    rebuild();
  }
}

void SequentialImpl::rebuild() {
  Symbol in = Input(*input_shape_);
  Symbol x = in;
  for (const auto& l : stack_) x = l->call_symbolic({x})[0];
  set_graph({in}, {x});
}

void SequentialImpl::build_for(const Shape& input_shape) {
  input_shape_ = input_shape;
  if (!stack_.empty()) rebuild();
}

void SequentialImpl::ensure_graph(const std::vector<Tensor>& x) {
  if (has_graph()) return;
  if (stack_.empty()) fail<ValueError>(label(), ": the model has no layers");
  if (x.size() != 1)
    fail<ValueError>(label(), ": a Sequential model takes 1 input, got ", x.size());
  Shape s = x[0].shape();
  if (s.empty()) fail<ShapeError>(label(), ": inputs need a batch axis, got a scalar");
  s.erase_at(0);
  build_for(s);
}

std::vector<Tensor> SequentialImpl::call_multi(const std::vector<Tensor>& xs, bool training) {
  ensure_graph(xs);
  return ModelImpl::call_multi(xs, training);
}

std::vector<Shape> SequentialImpl::compute_output_shapes(const std::vector<Shape>& in) {
  if (!has_graph()) {
    if (in.size() != 1)
      fail<ValueError>(label(), ": a Sequential model takes 1 input, got ", in.size());
    Shape s = in[0];
    s.erase_at(0);
    build_for(s);
  }
  return ModelImpl::compute_output_shapes(in);
}

}  // namespace tg::nn
