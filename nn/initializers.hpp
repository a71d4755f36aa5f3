// Weight initializers (Keras names), all seeded through the global generator or an explicit seed.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "tapegrad/core/tensor.hpp"

namespace tg::nn {

/// Makes a tensor of a shape and dtype: the initial value of a weight.
using Initializer = std::function<Tensor(const Shape& shape, DType dtype)>;

/// Fan-in and fan-out of a kernel shape the Keras way: (in, out) for Dense; for conv kernels
/// (k..., in, out) the receptive field multiplies both.
std::pair<double, double> compute_fans(const Shape& shape);

namespace initializers {
/// Uniform in ±sqrt(6 / (fan_in + fan_out)): Keras' default for kernels.
Initializer glorot_uniform(std::optional<uint64_t> seed = std::nullopt);
/// Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).
Initializer glorot_normal(std::optional<uint64_t> seed = std::nullopt);
/// Uniform in ±sqrt(6 / fan_in).
Initializer he_uniform(std::optional<uint64_t> seed = std::nullopt);
/// Truncated normal with stddev sqrt(2 / fan_in).
Initializer he_normal(std::optional<uint64_t> seed = std::nullopt);
/// Uniform in ±sqrt(3 / fan_in).
Initializer lecun_uniform(std::optional<uint64_t> seed = std::nullopt);
/// Truncated normal with stddev sqrt(1 / fan_in).
Initializer lecun_normal(std::optional<uint64_t> seed = std::nullopt);
/// A (semi-)orthogonal matrix times gain, from the QR decomposition of a normal matrix:
/// Keras' default for recurrent kernels.
Initializer orthogonal(double gain = 1.0, std::optional<uint64_t> seed = std::nullopt);
/// Uniform in [minval, maxval).
Initializer random_uniform(double minval = -0.05, double maxval = 0.05,
                           std::optional<uint64_t> seed = std::nullopt);
/// Normal(mean, stddev).
Initializer random_normal(double mean = 0.0, double stddev = 0.05,
                          std::optional<uint64_t> seed = std::nullopt);
/// Normal(mean, stddev) redrawn outside two standard deviations.
Initializer truncated_normal(double mean = 0.0, double stddev = 0.05,
                             std::optional<uint64_t> seed = std::nullopt);
/// All zeros: Keras' default for biases.
Initializer zeros();
/// All ones.
Initializer ones();
/// All equal to value.
Initializer constant(double value);
}  // namespace initializers

/// An initializer by Keras name ("glorot_uniform", "he_normal", "zeros", "ones", "orthogonal",
/// ...); throws ValueError for an unknown name.
Initializer get_initializer(const std::string& name);

}  // namespace tg::nn
