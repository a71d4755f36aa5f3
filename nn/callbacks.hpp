// Callbacks: hooks into fit (epochs and batches), and the Keras built-ins.
#pragma once
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/autograd/anomaly.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg::nn {

class ModelImpl;

/// Values of an epoch or batch: "loss", metric names, "val_..." for validation.
using Logs = std::map<std::string, double>;

/// Base of callbacks; override the hooks you need.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(const Logs&) {}
  virtual void on_train_end(const Logs&) {}
  virtual void on_epoch_begin(int /*epoch*/, const Logs&) {}
  virtual void on_epoch_end(int /*epoch*/, const Logs&) {}
  virtual void on_train_batch_begin(int64_t /*batch*/, const Logs&) {}
  virtual void on_train_batch_end(int64_t /*batch*/, const Logs&) {}
  virtual void on_test_begin(const Logs&) {}
  virtual void on_test_end(const Logs&) {}
  /// The model being trained (set by fit before on_train_begin).
  void set_model(ModelImpl* m) { model_ = m; }
  ModelImpl* model() const { return model_; }

 private:
  ModelImpl* model_ = nullptr;
};

/// Per-epoch values returned by fit.
struct History {
  std::vector<int> epoch;
  std::map<std::string, std::vector<double>> history;
  /// The values of key over epochs (throws ValueError for an unknown key).
  const std::vector<double>& operator[](const std::string& key) const;
};

/// A callback made of lambdas.
struct LambdaCallback : Callback {
  std::function<void(int, const Logs&)> epoch_begin, epoch_end;
  std::function<void(int64_t, const Logs&)> batch_begin, batch_end;
  std::function<void(const Logs&)> train_begin, train_end;
  void on_epoch_begin(int e, const Logs& l) override {
    if (epoch_begin) epoch_begin(e, l);
  }
  void on_epoch_end(int e, const Logs& l) override {
    if (epoch_end) epoch_end(e, l);
  }
  void on_train_batch_begin(int64_t b, const Logs& l) override {
    if (batch_begin) batch_begin(b, l);
  }
  void on_train_batch_end(int64_t b, const Logs& l) override {
    if (batch_end) batch_end(b, l);
  }
  void on_train_begin(const Logs& l) override {
    if (train_begin) train_begin(l);
  }
  void on_train_end(const Logs& l) override {
    if (train_end) train_end(l);
  }
};

/// Options of EarlyStopping (Keras defaults).
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  std::string mode = "auto";  ///< "min", "max" or "auto" (max for accuracy-like names)
  std::optional<double> baseline = std::nullopt;
  bool restore_best_weights =
      false;  ///< at the end of training, the best epoch's weights (Keras 3)
  int start_from_epoch = 0;
  int verbose = 0;
};
/// Stops training when the monitored value stops improving.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions o = {});
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs&) override;
  /// Epoch at which training stopped (−1 if it did not stop early).
  int stopped_epoch() const { return stopped_epoch_; }
  int best_epoch() const { return best_epoch_; }

 private:
  bool improved(double v) const;
  EarlyStoppingOptions o_;
  bool maximize_ = false;
  double best_ = 0;
  int wait_ = 0, stopped_epoch_ = -1, best_epoch_ = 0;
  std::vector<Tensor> best_weights_;
};

/// Options of ModelCheckpoint.
struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;
  bool save_weights_only = false;
  std::string mode = "auto";
  int verbose = 0;
};
/// Saves the model (or its weights) after epochs; "{epoch}" in the path is replaced by the
/// 1-based epoch number.
class ModelCheckpoint : public Callback {
 public:
  ModelCheckpoint(std::string filepath, ModelCheckpointOptions o = {});
  void on_epoch_end(int epoch, const Logs& logs) override;

 private:
  std::string path_;
  ModelCheckpointOptions o_;
  bool maximize_ = false;
  std::optional<double> best_;
};

/// Sets the learning rate at the start of each epoch from schedule(epoch, current_lr).
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int, double)> schedule, int verbose = 0)
      : schedule_(std::move(schedule)), verbose_(verbose) {}
  void on_epoch_begin(int epoch, const Logs&) override;
  void on_epoch_end(int epoch, const Logs&) override;

 private:
  std::function<double(int, double)> schedule_;
  int verbose_;
};

/// Options of ReduceLROnPlateau (Keras defaults).
struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
  int verbose = 0;
};
/// Multiplies the learning rate by factor when the monitored value plateaus.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions o = {});
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;

 private:
  ReduceLROnPlateauOptions o_;
  bool maximize_ = false;
  double best_ = 0;
  int wait_ = 0, cooldown_left_ = 0;
};

/// Writes one CSV row per epoch (epoch, then the logs in name order).
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, char separator = ',', bool append = false);
  ~CSVLogger() override;
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs&) override;

 private:
  std::string filename_;
  char sep_;
  bool append_;
  std::FILE* f_ = nullptr;
  std::vector<std::string> keys_;
};

/// Options of TerminateOnNaN.
struct TerminateOnNaNOptions {
  /// Keep a recording autograd::detect_anomaly guard during fit, so that the message names the
  /// first op of the failing batch that made a NaN or infinity, and where that op was called.
  /// Slows every step (each recorded output and gradient is copied to the host and scanned): a
  /// tool for finding the op, not for every run.
  bool detect_anomaly = false;
};

/// Stops training when the loss becomes NaN or infinite (Keras' TerminateOnNaN), printing
/// `Batch 3: invalid loss, terminating training` and, with detect_anomaly, the op behind it.
class TerminateOnNaN : public Callback {
 public:
  TerminateOnNaN() = default;
  explicit TerminateOnNaN(TerminateOnNaNOptions opts);
  ~TerminateOnNaN() override;
  void on_train_begin(const Logs&) override;
  void on_train_end(const Logs&) override;
  void on_train_batch_begin(int64_t batch, const Logs&) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  /// The first anomaly of the batch that stopped training (with detect_anomaly; else empty).
  const std::optional<autograd::Anomaly>& anomaly() const { return anomaly_; }

 private:
  TerminateOnNaNOptions opts_;
  std::unique_ptr<autograd::detect_anomaly> guard_;
  std::optional<autograd::Anomaly> anomaly_;
};

/// True when a monitored name is better when larger ("accuracy", "auc", "precision", ...).
bool monitor_maximizes(const std::string& monitor, const std::string& mode);

}  // namespace tg::nn
