// Built-in callbacks.
#include "tapegrad/nn/callbacks.hpp"

#include <cmath>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/nn/model.hpp"
#include "tapegrad/nn/saving.hpp"

namespace tg::nn {

const std::vector<double>& History::operator[](const std::string& key) const {
  auto it = history.find(key);
  if (it == history.end()) fail<ValueError>("History: no values named '", key, "'");
  return it->second;
}

bool monitor_maximizes(const std::string& monitor, const std::string& mode) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  if (mode != "auto") fail<ValueError>("callback: mode must be auto, min or max, got '", mode, "'");
  for (const char* k : {"acc", "auc", "precision", "recall", "fmeasure"})
    if (monitor.find(k) != std::string::npos) return true;
  return false;
}

namespace {
std::optional<double> find_log(const Logs& logs, const std::string& key, const char* who) {
  auto it = logs.find(key);
  if (it == logs.end()) {
    std::fprintf(stderr, "%s: monitored value '%s' is not available (have:", who, key.c_str());
    for (const auto& [k, v] : logs) std::fprintf(stderr, " %s", k.c_str());
    std::fprintf(stderr, ")\n");
    return std::nullopt;
  }
  return it->second;
}
}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions o) : o_(std::move(o)) {
  maximize_ = monitor_maximizes(o_.monitor, o_.mode);
}
void EarlyStopping::on_train_begin(const Logs&) {
  wait_ = 0;
  stopped_epoch_ = -1;
  best_epoch_ = 0;
  best_ = o_.baseline ? *o_.baseline : (maximize_ ? -INFINITY : INFINITY);
  best_weights_.clear();
}
bool EarlyStopping::improved(double v) const {
  return maximize_ ? v - o_.min_delta > best_ : v + o_.min_delta < best_;
}
void EarlyStopping::on_epoch_end(int epoch, const Logs& logs) {
  auto v = find_log(logs, o_.monitor, "EarlyStopping");
  if (!v || epoch < o_.start_from_epoch) return;
  if (o_.restore_best_weights && best_weights_.empty()) {
    NoGrad ng;
    for (Weight* w : model()->weights()) best_weights_.push_back(w->value.clone());
  }
  ++wait_;
  if (improved(*v)) {
    best_ = *v;
    best_epoch_ = epoch;
    wait_ = 0;
    if (o_.restore_best_weights) {
      NoGrad ng;
      best_weights_.clear();
      for (Weight* w : model()->weights()) best_weights_.push_back(w->value.clone());
    }
    return;
  }
  if (wait_ >= o_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model()->stop_training = true;
  }
}
void EarlyStopping::on_train_end(const Logs&) {
  if (stopped_epoch_ >= 0 && o_.verbose)
    std::printf("Epoch %d: early stopping\n", stopped_epoch_ + 1);
  // Keras 3 restores the best epoch's weights at the end of training, stopped early or not.
  if (o_.restore_best_weights && !best_weights_.empty()) {
    NoGrad ng;
    auto ws = model()->weights();
    for (size_t i = 0; i < ws.size() && i < best_weights_.size(); ++i)
      ws[i]->value.copy_(best_weights_[i]);
    if (o_.verbose)
      std::printf("Restoring model weights from the end of the best epoch: %d.\n", best_epoch_ + 1);
  }
}

ModelCheckpoint::ModelCheckpoint(std::string path, ModelCheckpointOptions o)
    : path_(std::move(path)), o_(std::move(o)) {
  maximize_ = monitor_maximizes(o_.monitor, o_.mode);
}
void ModelCheckpoint::on_epoch_end(int epoch, const Logs& logs) {
  std::string path = path_;
  const std::string key = "{epoch}";
  for (size_t at = path.find(key); at != std::string::npos; at = path.find(key))
    path.replace(at, key.size(), std::to_string(epoch + 1));
  if (o_.save_best_only) {
    auto v = find_log(logs, o_.monitor, "ModelCheckpoint");
    if (!v) return;
    if (best_ && (maximize_ ? *v <= *best_ : *v >= *best_)) return;
    if (o_.verbose)
      std::printf("Epoch %d: %s improved to %.5f, saving model to %s\n", epoch + 1,
                  o_.monitor.c_str(), *v, path.c_str());
    best_ = *v;
  }
  if (o_.save_weights_only)
    save_weights(*model(), path);
  else
    save_model(*model(), path);
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs&) {
  auto& opt = model()->optimizer();
  if (!opt)
    fail<ValueError>("LearningRateScheduler: the model has no optimizer (call compile first)");
  const double lr = schedule_(epoch, opt->learning_rate());
  opt->set_learning_rate(lr);
  if (verbose_)
    std::printf("Epoch %d: LearningRateScheduler setting learning rate to %g.\n", epoch + 1, lr);
}
void LearningRateScheduler::on_epoch_end(int, const Logs&) {}

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions o) : o_(std::move(o)) {
  if (o_.factor >= 1.0) fail<ValueError>("ReduceLROnPlateau: factor must be < 1, got ", o_.factor);
  maximize_ = monitor_maximizes(o_.monitor, o_.mode);
}
void ReduceLROnPlateau::on_train_begin(const Logs&) {
  best_ = maximize_ ? -INFINITY : INFINITY;
  wait_ = 0;
  cooldown_left_ = 0;
}
void ReduceLROnPlateau::on_epoch_end(int epoch, const Logs& logs) {
  auto v = find_log(logs, o_.monitor, "ReduceLROnPlateau");
  if (!v) return;
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    wait_ = 0;
  }
  const bool better = maximize_ ? *v > best_ + o_.min_delta : *v < best_ - o_.min_delta;
  if (better) {
    best_ = *v;
    wait_ = 0;
  } else if (cooldown_left_ == 0 && ++wait_ >= o_.patience) {
    auto& opt = model()->optimizer();
    const double old_lr = opt->learning_rate();
    if (old_lr > o_.min_lr) {
      const double lr = std::max(old_lr * o_.factor, o_.min_lr);
      opt->set_learning_rate(lr);
      if (o_.verbose)
        std::printf("Epoch %d: ReduceLROnPlateau reducing learning rate to %g.\n", epoch + 1, lr);
      cooldown_left_ = o_.cooldown;
      wait_ = 0;
    }
  }
}

CSVLogger::CSVLogger(std::string filename, char sep, bool append)
    : filename_(std::move(filename)), sep_(sep), append_(append) {}
CSVLogger::~CSVLogger() {
  if (f_) std::fclose(f_);
}
void CSVLogger::on_train_begin(const Logs&) {
  keys_.clear();
  if (append_) {
    // Keras writes the header only into an empty file: reuse the columns of an existing one.
    if (std::FILE* old = std::fopen(filename_.c_str(), "r")) {
      std::string line;
      for (int ch = std::fgetc(old); ch != EOF && ch != '\n'; ch = std::fgetc(old))
        line += static_cast<char>(ch);
      std::fclose(old);
      for (size_t start = line.find(sep_); start != std::string::npos;) {
        const size_t end = line.find(sep_, start + 1);
        keys_.push_back(
            line.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1));
        start = end;
      }
    }
  }
  f_ = std::fopen(filename_.c_str(), append_ ? "a" : "w");
  if (!f_) fail<IOError>("CSVLogger: cannot open '", filename_, "' for writing");
}
void CSVLogger::on_epoch_end(int epoch, const Logs& logs) {
  if (!f_) return;
  if (keys_.empty()) {
    for (const auto& [k, v] : logs) keys_.push_back(k);
    std::fprintf(f_, "epoch");
    for (const auto& k : keys_) std::fprintf(f_, "%c%s", sep_, k.c_str());
    std::fprintf(f_, "\n");
  }
  std::fprintf(f_, "%d", epoch);
  for (const auto& k : keys_) {
    auto it = logs.find(k);
    if (it == logs.end())
      std::fprintf(f_, "%c", sep_);
    else
      std::fprintf(f_, "%c%.17g", sep_, it->second);
  }
  std::fprintf(f_, "\n");
  std::fflush(f_);
}
void CSVLogger::on_train_end(const Logs&) {
  if (f_) std::fclose(f_);
  f_ = nullptr;
}

TerminateOnNaN::TerminateOnNaN(TerminateOnNaNOptions opts) : opts_(opts) {}
TerminateOnNaN::~TerminateOnNaN() = default;

void TerminateOnNaN::on_train_begin(const Logs&) {
  anomaly_.reset();
  if (opts_.detect_anomaly)
    guard_ = std::make_unique<autograd::detect_anomaly>(
        autograd::detect_anomaly::Options{.raise = false});
}

void TerminateOnNaN::on_train_end(const Logs&) { guard_.reset(); }

void TerminateOnNaN::on_train_batch_begin(int64_t, const Logs&) {
  if (guard_) guard_->reset();
}

void TerminateOnNaN::on_train_batch_end(int64_t batch, const Logs& logs) {
  auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  std::printf("Batch %lld: invalid loss, terminating training\n", static_cast<long long>(batch));
  if (guard_ && guard_->first()) {
    anomaly_ = guard_->first();
    std::printf("%s\n", anomaly_->message().c_str());
  } else if (!guard_) {
    std::printf("(TerminateOnNaN({.detect_anomaly = true}) names the op that made it)\n");
  }
  model()->stop_training = true;
}

}  // namespace tg::nn
