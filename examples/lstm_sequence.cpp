// An LSTM learns the 3-marker "temporal order" task of Hochreiter & Schmidhuber (1997):
// which marker symbols appear in a noisy sequence, and in which order.
//   ./lstm_sequence [epochs]
//
// Each sample is a sequence of 45 one-hot symbols out of 6. Symbols a, b, c, d are noise;
// exactly three positions hold a marker, X or Y: the first at a random step in [5, 14], the
// second in [18, 27], the third in [31, 40]. The class is the ordered triple of markers read
// as a binary number with X = 0, Y = 1: XXX = 0, XXY = 1, ..., YYY = 7. Only memory of which
// marker came when separates the classes (chance is 12.5%). The check: test accuracy ≥ 95%.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <tapegrad/tapegrad.hpp>

using namespace tg;

constexpr int64_t kSteps = 45, kSymbols = 6, kClasses = 8;

// Sequences (n, 45, 6) as one-hot float32 and labels (n) as int64.
std::pair<Tensor, Tensor> make_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 3), marker(0, 1);
  std::uniform_int_distribution<int> where[3] = {std::uniform_int_distribution<int>(5, 14),
                                                 std::uniform_int_distribution<int>(18, 27),
                                                 std::uniform_int_distribution<int>(31, 40)};
  std::vector<float> x(static_cast<size_t>(n * kSteps * kSymbols), 0.0f);
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int> seq(kSteps);
    for (int& s : seq) s = noise(rng);
    int label = 0;
    for (auto& position : where) {
      const int m = marker(rng);  // 0 = X, 1 = Y
      seq[position(rng)] = 4 + m;
      label = 2 * label + m;
    }
    for (int64_t t = 0; t < kSteps; ++t)
      x[static_cast<size_t>((i * kSteps + t) * kSymbols + seq[t])] = 1.0f;
    y[static_cast<size_t>(i)] = label;
  }
  return {tensor(x, {n, kSteps, kSymbols}), tensor(y, {n})};
}

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 8;
  manual_seed(3);
  auto [x_train, y_train] = make_data(4000, 1);
  auto [x_test, y_test] = make_data(1000, 2);

  // 45 steps of 6 features → the LSTM's last output (32 units) → 8 class probabilities.
  nn::Sequential model;
  model.add(nn::LSTM(32, {.input_shape = {kSteps, kSymbols}}));
  model.add(nn::Dense(kClasses, {.activation = "softmax"}));
  model.summary();

  model.compile({.optimizer = optim::Adam({.learning_rate = 0.01}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});

  const auto start = std::chrono::steady_clock::now();
  model.fit(x_train, y_train,
            {.batch_size = 64, .epochs = epochs, .verbose = 2, .validation_split = 0.1, .seed = 5});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  nn::Logs test = model.evaluate(x_test, y_test, {.batch_size = 500, .verbose = 0});
  std::printf("trained in %.1f s - test loss %.4f - test accuracy %.4f\n", seconds, test["loss"],
              test["accuracy"]);

  // The first test sequences, decoded, with the predicted class.
  const char* names[] = {"XXX", "XXY", "XYX", "XYY", "YXX", "YXY", "YYX", "YYY"};
  Tensor probs = model.predict(x_test.slice(0, 0, 3));
  std::vector<int64_t> predicted = argmax(probs, 1).to_vector<int64_t>();
  std::vector<int64_t> truth = y_test.slice(0, 0, 3).to_vector<int64_t>();
  std::vector<int64_t> symbols = argmax(x_test.slice(0, 0, 3), 2).to_vector<int64_t>();
  for (int i = 0; i < 3; ++i) {
    std::printf("  ");
    for (int64_t t = 0; t < kSteps; ++t)
      std::putchar("abcdXY"[symbols[static_cast<size_t>(i * kSteps + t)]]);
    std::printf("  true %s, predicted %s\n", names[truth[i]], names[predicted[i]]);
  }

  const bool ok = test["accuracy"] >= 0.95;
  std::printf("%s: test accuracy %.4f (target ≥ 0.95)\n", ok ? "PASS" : "FAIL", test["accuracy"]);
  return ok ? 0 : 1;
}
