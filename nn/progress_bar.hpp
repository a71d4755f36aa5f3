// Keras-style progress display for fit/evaluate/predict.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace tg::nn {

/// Prints "469/469 [=====>....] - ETA: 3s - loss: 0.51 - accuracy: 0.82". verbose 1: a bar
/// redrawn in place on a terminal (plain lines, about every 10%, when stdout is not one);
/// verbose 2: one line at the end; verbose 0: silent.
class ProgressBar {
 public:
  /// target: number of steps (-1 when unknown).
  ProgressBar(int64_t target, int verbose, std::FILE* out = stdout);
  /// Shows step `current` (1-based) with the running values.
  void update(int64_t current, const std::vector<std::pair<std::string, double>>& values,
              bool finalize = false);

 private:
  std::string format_values(const std::vector<std::pair<std::string, double>>& values) const;
  int64_t target_;
  int verbose_;
  std::FILE* out_;
  bool tty_;
  int64_t last_printed_ = 0;
  std::chrono::steady_clock::time_point start_;
  size_t last_width_ = 0;
};

/// Formats a duration like Keras ("2s", "1:02", "35ms").
std::string format_duration(double seconds);

}  // namespace tg::nn
