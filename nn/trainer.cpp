// The trainer: compile, and fit / evaluate / predict and the *_on_batch calls around one
// overridable train_step, test_step and predict_step.
#include "tapegrad/nn/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tapegrad/autograd/engine.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/progress_bar.hpp"

namespace tg::nn {

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

// ---------------------------------------------------------------- batches and logs

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

Logs ModelImpl::metric_logs(double mean_loss, const std::vector<double>& output_losses) const {
  Logs logs;
  logs["loss"] = mean_loss;
  if (specs_.size() > 1)
    for (size_t i = 0; i < specs_.size(); ++i) logs[specs_[i].prefix + "loss"] = output_losses[i];
  for (const auto& s : specs_)
    for (const auto& m : s.metrics) logs[m->name()] = m->result();
  return logs;
}

std::vector<std::string> ModelImpl::loss_keys() const {
  std::vector<std::string> keys{"loss"};
  if (specs_.size() > 1)
    for (const auto& s : specs_) keys.push_back(s.prefix + "loss");
  return keys;
}

namespace {
/// The logs of the batches of an epoch so far: the loss entries as running means weighted by
/// batch size, every other entry as the last step returned it (metrics keep running results).
class RunningLogs {
 public:
  explicit RunningLogs(std::vector<std::string> loss_keys) : loss_keys_(std::move(loss_keys)) {}
  /// Adds a step's logs for a batch of n samples; returns the logs so far.
  const Logs& add(const Logs& step, double n) {
    for (const auto& [k, v] : step) {
      if (std::find(loss_keys_.begin(), loss_keys_.end(), k) == loss_keys_.end()) {
        logs_[k] = v;
        continue;
      }
      auto& [total, count] = sums_[k];
      total += v * n;
      count += n;
      logs_[k] = count > 0 ? total / count : 0.0;
    }
    ++batches_;
    return logs_;
  }
  int64_t batches() const { return batches_; }
  const Logs& logs() const { return logs_; }

 private:
  std::vector<std::string> loss_keys_;
  std::map<std::string, std::pair<double, double>> sums_;
  Logs logs_;
  int64_t batches_ = 0;
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

double batch_size_of(const Batch& b) { return static_cast<double>(b.x[0].shape()[0]); }
}  // namespace

// ---------------------------------------------------------------- the steps

std::vector<Tensor> ModelImpl::forward(const std::vector<Tensor>& x, bool training) {
  collect_losses();  // drop penalties left by calls outside a training step (predict, eager use)
  return call_multi(x, training);
}

ModelImpl::LossResult ModelImpl::compute_loss(const Batch& b, const std::vector<Tensor>& y_pred) {
  check_compiled("compute_loss");
  if (y_pred.size() != specs_.size())
    fail<ValueError>(label(), ": the model has ", y_pred.size(), " outputs but was compiled for ",
                     specs_.size());
  if (b.y.size() != specs_.size())
    fail<ValueError>(label(), ": compute_loss got ", b.y.size(), " targets for ", specs_.size(),
                     " outputs");
  LossResult r;
  for (size_t i = 0; i < specs_.size(); ++i) {
    Tensor l = specs_[i].loss(b.y[i], y_pred[i], b.sample_weight);
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

void ModelImpl::minimize(const Tensor& loss) {
  check_compiled("minimize");
  std::vector<Tensor> params = trainable_weights();
  std::vector<Tensor> grads = autograd::grad({loss}, params, {}, {.allow_unused = true});
  optimizer_->apply_gradients(params, grads);
}

void ModelImpl::update_metrics(const Batch& b, const std::vector<Tensor>& y_pred) {
  for (size_t i = 0; i < specs_.size(); ++i)
    for (auto& m : specs_[i].metrics) m->update(b.y[i], y_pred[i], b.sample_weight);
}

void ModelImpl::reset_metrics() {
  for (auto& s : specs_)
    for (auto& m : s.metrics) m->reset();
}

Logs ModelImpl::step_logs(const LossResult& loss) const {
  return metric_logs(loss.total.item<double>(), values_of(loss.per_output));
}

Logs ModelImpl::train_step(const Batch& b) {
  const std::vector<Tensor> y_pred = forward(b.x, true);
  const LossResult loss = compute_loss(b, y_pred);
  minimize(loss.total);
  update_metrics(b, y_pred);
  return step_logs(loss);
}

Logs ModelImpl::test_step(const Batch& b) {
  const std::vector<Tensor> y_pred = forward(b.x, false);
  const LossResult loss = compute_loss(b, y_pred);
  update_metrics(b, y_pred);
  return step_logs(loss);
}

std::vector<Tensor> ModelImpl::predict_step(const std::vector<Tensor>& x) {
  std::vector<Tensor> out = call_multi(x, false);
  collect_losses();  // inference keeps no penalty terms
  return out;
}

// ---------------------------------------------------------------- one batch

Logs ModelImpl::train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                               const Tensor& sw) {
  check_compiled("train_on_batch");
  Batch b{x, y, sw};
  ensure_graph(b.x);
  check_batch("train_on_batch", b);
  reset_metrics();
  return train_step(b);
}

Logs ModelImpl::test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                              const Tensor& sw) {
  check_compiled("test_on_batch");
  Batch b{x, y, sw};
  ensure_graph(b.x);
  check_batch("test_on_batch", b);
  reset_metrics();
  NoGrad ng;
  return test_step(b);
}

std::vector<Tensor> ModelImpl::predict_on_batch(const std::vector<Tensor>& x) {
  NoGrad ng;
  return predict_step(x);
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
    RunningLogs running(loss_keys());
    int64_t step = 0;
    Logs logs;
    while (auto batch = data.next()) {
      for (auto& cb : o.callbacks) cb->on_train_batch_begin(step, logs);
      ensure_graph(batch->x);
      check_batch("fit", *batch);
      batch->sample_weight = effective_sample_weight(*batch, o.class_weight);
      logs = running.add(train_step(*batch), batch_size_of(*batch));
      ++step;
      if (data.num_batches() < 0 || step < data.num_batches()) bar.update(step, as_list(logs));
      for (auto& cb : o.callbacks) cb->on_train_batch_end(step - 1, logs);
      if (stop_training) break;
    }
    epoch_logs = running.batches() > 0 ? running.logs()
                                       : metric_logs(0.0, std::vector<double>(specs_.size(), 0.0));
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
  RunningLogs running(loss_keys());
  ProgressBar bar(data.num_batches(), verbose);
  int64_t step = 0;
  NoGrad ng;
  while (auto batch = data.next()) {
    ensure_graph(batch->x);
    check_batch("evaluate", *batch);
    const Logs& so_far = running.add(test_step(*batch), batch_size_of(*batch));
    ++step;
    if (data.num_batches() < 0 || step < data.num_batches()) bar.update(step, as_list(so_far));
  }
  Logs logs = running.batches() > 0 ? running.logs()
                                    : metric_logs(0.0, std::vector<double>(specs_.size(), 0.0));
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
    std::vector<Tensor> outs = predict_step(batch->x);
    if (parts.empty()) parts.resize(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) parts[i].push_back(outs[i]);
    bar.update(++step, {});
  }
  std::vector<Tensor> result;
  for (auto& p : parts) result.push_back(p.size() == 1 ? p[0] : concat(p, 0));
  return result;
}

}  // namespace tg::nn
