// A functional model with two inputs and two outputs: one loss per output, loss_weights,
// fit on lists of tensors, predict returning both outputs.
//   ./two_inputs_two_outputs [epochs]
//
// Each sample is a pair of vectors a, b of 8 standard-normal numbers. The model answers two
// questions at once:
//   "a_larger": is sum(a) > sum(b)?             (a probability, binary crossentropy)
//   "distance": the Euclidean distance |a − b|  (a number, mean squared error)
// Both inputs go through one shared encoder (the same weights for a and b), so the model is
// symmetric by construction. The total training loss is
//     1.0 · binary_crossentropy(a_larger) + 0.25 · mse(distance).
// The checks: test accuracy of a_larger ≥ 0.95 and mean absolute error of distance ≤ 0.35
// (the distances average about 4, with a standard deviation of about 1).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <tapegrad/tapegrad.hpp>

using namespace tg;

struct Pairs {
  Tensor a, b, a_larger, distance;
};

Pairs make_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(n * 8)), b(a.size()), larger(static_cast<size_t>(n)),
      dist(larger.size());
  for (size_t i = 0; i < larger.size(); ++i) {
    float sa = 0, sb = 0, d2 = 0;
    for (size_t k = 0; k < 8; ++k) {
      float& x = a[i * 8 + k];
      float& y = b[i * 8 + k];
      x = normal(rng);
      y = normal(rng);
      sa += x;
      sb += y;
      d2 += (x - y) * (x - y);
    }
    larger[i] = sa > sb ? 1.0f : 0.0f;
    dist[i] = std::sqrt(d2);
  }
  return {tensor(a, {n, 8}), tensor(b, {n, 8}), tensor(larger, {n, 1}), tensor(dist, {n, 1})};
}

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 20;
  manual_seed(2);
  Pairs train = make_data(8000, 1), test = make_data(2000, 2);

  // Two inputs, one shared encoder.
  nn::Symbol a = nn::Input({8}, {.name = "a"});
  nn::Symbol b = nn::Input({8}, {.name = "b"});
  nn::Dense encoder(64, {.activation = "relu", .name = "encoder"});
  nn::Symbol ea = encoder(a), eb = encoder(b);  // the same layer called twice: shared weights

  // Head 1 compares the encodings; head 2 reads their difference.
  nn::Symbol both = nn::Concatenate({.name = "both"})({ea, eb});
  nn::Symbol a_larger = nn::Dense(1, {.activation = "sigmoid", .name = "a_larger"})(both);
  nn::Symbol diff = nn::Subtract({.name = "diff"})({ea, eb});
  nn::Symbol h = nn::Dense(64, {.activation = "relu", .name = "distance_hidden"})(diff);
  nn::Symbol distance = nn::Dense(1, {.name = "distance"})(h);

  nn::Model model({a, b}, {a_larger, distance}, "pair_model");
  model.summary();

  // One loss per output, in the order of the outputs, and their weights in the total.
  model.compile({.optimizer = optim::Adam({.learning_rate = 0.002}),
                 .loss = {"binary_crossentropy", "mse"},
                 .loss_weights = {1.0, 0.25}});

  // Inputs and targets as lists, in the order given to nn::Model.
  nn::History hist = model.fit(
      {train.a, train.b}, {train.a_larger, train.distance},
      {.batch_size = 64, .epochs = epochs, .verbose = 2, .validation_split = 0.1, .seed = 1});
  std::printf("logged per epoch:");
  for (const auto& [key, values] : hist.history) std::printf(" %s", key.c_str());
  std::printf("\n");

  nn::Logs logs = model.evaluate({test.a, test.b}, {test.a_larger, test.distance}, {.verbose = 0});
  std::printf("test: loss %.4f = 1.0 × a_larger_loss %.4f + 0.25 × distance_loss %.4f\n",
              logs["loss"], logs["a_larger_loss"], logs["distance_loss"]);

  // predict returns one tensor per output.
  std::vector<Tensor> out = model.predict({test.a, test.b}, {.batch_size = 500});
  const double accuracy =
      mean(eq(gt(out[0], 0.5), gt(test.a_larger, 0.5)).to(kFloat32)).item<double>();
  const double mae = mean(abs(out[1] - test.distance)).item<double>();
  std::printf(
      "a_larger accuracy %.4f (target ≥ 0.95), distance mean absolute error %.4f (target ≤ 0.35)\n",
      accuracy, mae);
  for (int64_t i = 0; i < 3; ++i)
    std::printf("  pair %lld: P(a larger) %.3f (truth %.0f), distance %.3f (truth %.3f)\n",
                static_cast<long long>(i), out[0][i][0].item<double>(),
                test.a_larger[i][0].item<double>(), out[1][i][0].item<double>(),
                test.distance[i][0].item<double>());

  const bool ok = accuracy >= 0.95 && mae <= 0.35;
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
