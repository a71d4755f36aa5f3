// Datasets: sources of (x, y) batches for fit/evaluate/predict, with seeded shuffling.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "tapegrad/core/tensor.hpp"

namespace tg::nn {

/// One batch: inputs, targets (empty for predict) and optional per-sample weights.
struct Batch {
  std::vector<Tensor> x, y;
  Tensor sample_weight;
};

/// A source of batches, read once per epoch (reset, then next until it returns nullopt).
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Starts an epoch (a shuffling dataset reshuffles with the epoch number).
  virtual void reset(int64_t epoch) = 0;
  /// The next batch of the epoch, or nullopt at its end.
  virtual std::optional<Batch> next() = 0;
  /// Batches per epoch, or -1 when unknown.
  virtual int64_t num_batches() const { return -1; }
};

/// Options of TensorDataset.
struct TensorDatasetOptions {
  int64_t batch_size = 32;
  bool shuffle = false;
  uint64_t seed = 0;  ///< shuffling of epoch e uses seed + e: runs are reproducible
  bool drop_remainder = false;
  Tensor sample_weight = {};  ///< one weight per sample, or undefined
};

/// Batches of in-memory tensors that share their first (sample) axis.
class TensorDataset : public Dataset {
 public:
  TensorDataset(std::vector<Tensor> x, std::vector<Tensor> y, TensorDatasetOptions opts = {});
  void reset(int64_t epoch) override;
  std::optional<Batch> next() override;
  int64_t num_batches() const override;
  /// Number of samples.
  int64_t size() const { return n_; }

 private:
  Tensor take(const Tensor& t, int64_t start, int64_t stop) const;
  std::vector<Tensor> x_, y_;
  TensorDatasetOptions o_;
  int64_t n_ = 0, pos_ = 0;
  Tensor order_;  // int64 permutation when shuffling (on the CPU)
  // The permutation copied to each device that holds data (one upload per device and epoch).
  mutable std::vector<std::pair<Device, Tensor>> order_on_;
};

/// A random permutation of 0..n-1 (int64) from a seed.
Tensor random_permutation(int64_t n, uint64_t seed);

/// One-hot float32 encoding of integer labels (Keras' to_categorical).
Tensor to_categorical(const Tensor& labels, int64_t num_classes = -1);

}  // namespace tg::nn
