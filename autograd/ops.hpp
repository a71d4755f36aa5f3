// The public tensor functions: every op is differentiable through the tape unless noted.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "tapegrad/core/tensor.hpp"

namespace tg {

// ---- unary (floating ops promote integer inputs to float32) ----
Tensor neg(const Tensor& x);      ///< -x
Tensor abs(const Tensor& x);      ///< |x| (gradient 0 at 0)
Tensor sign(const Tensor& x);     ///< -1, 0 or 1 (gradient 0)
Tensor exp(const Tensor& x);      ///< e^x
Tensor log(const Tensor& x);      ///< natural logarithm
Tensor log1p(const Tensor& x);    ///< log(1 + x)
Tensor expm1(const Tensor& x);    ///< e^x - 1
Tensor sqrt(const Tensor& x);     ///< square root
Tensor rsqrt(const Tensor& x);    ///< 1 / sqrt(x)
Tensor square(const Tensor& x);   ///< x²
Tensor sin(const Tensor& x);      ///< sine
Tensor cos(const Tensor& x);      ///< cosine
Tensor tanh(const Tensor& x);     ///< hyperbolic tangent
Tensor sigmoid(const Tensor& x);  ///< 1 / (1 + e^-x), computed stably
Tensor relu(const Tensor& x);     ///< max(x, 0)
/// x for x > 0, negative_slope·x otherwise.
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.2);
/// x for x > 0, alpha·(e^x − 1) otherwise.
Tensor elu(const Tensor& x, double alpha = 1.0);
/// scale·elu(x, alpha) with the self-normalising constants.
Tensor selu(const Tensor& x);
/// Gaussian error linear unit: exact erf form, or the tanh approximation when approximate.
Tensor gelu(const Tensor& x, bool approximate = false);
Tensor softplus(const Tensor& x);  ///< log(1 + e^x), computed stably
Tensor softsign(const Tensor& x);  ///< x / (1 + |x|)
Tensor erf(const Tensor& x);       ///< error function
/// x^exponent elementwise for a scalar exponent.
Tensor pow(const Tensor& x, double exponent);
/// Clamps to [min, max] (gradient passes inside the interval).
Tensor clip(const Tensor& x, double min, double max);

// ---- binary, NumPy broadcasting, dtype promotion ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
/// True division (integer inputs give float32).
Tensor div(const Tensor& a, const Tensor& b);
/// a^b elementwise.
Tensor pow(const Tensor& a, const Tensor& b);
/// Elementwise maximum (the gradient goes to a on ties).
Tensor maximum(const Tensor& a, const Tensor& b);
/// Elementwise minimum (the gradient goes to a on ties).
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor maximum(const Tensor& a, double b);
Tensor minimum(const Tensor& a, double b);
/// a − b for a scalar a.
Tensor sub(double a, const Tensor& b);

// ---- comparisons and logic (bool results, not differentiable) ----
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
/// cond ? a : b elementwise with broadcasting (differentiable in a and b).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- reductions (axes empty = all axes) ----
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
/// Population variance (ddof = 0, as NumPy and Keras; PyTorch defaults to ddof = 1).
Tensor var(const Tensor& x, const Axes& axes = {}, bool keepdims = false, int64_t ddof = 0);
/// Population standard deviation (ddof = 0 by default).
Tensor std(const Tensor& x, const Axes& axes = {}, bool keepdims = false, int64_t ddof = 0);
/// Maximum (the gradient is shared evenly among tied maxima).
Tensor max(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
/// Minimum (the gradient is shared evenly among tied minima).
Tensor min(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor prod(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
/// log(sum(exp(x))), computed stably.
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
/// p-norm over axes (p = 2: Euclidean; p = 1: sum of |x|).
Tensor norm(const Tensor& x, double p = 2.0, const Axes& axes = {}, bool keepdims = false);
/// Index (int64) of the maximum along axis (flattened when axis is absent).
Tensor argmax(const Tensor& x, std::optional<int64_t> axis = std::nullopt, bool keepdims = false);
/// Index (int64) of the minimum along axis.
Tensor argmin(const Tensor& x, std::optional<int64_t> axis = std::nullopt, bool keepdims = false);
/// Sums a broadcast gradient back to shape (the reverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra ----
/// Matrix product with NumPy semantics: 1-D operands are promoted and squeezed, leading batch
/// axes broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- softmax ----
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

// ---- joining, splitting, padding ----
/// Joins tensors along an existing axis.
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
/// Joins tensors along a new axis.
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
/// Splits into pieces of the given sizes along axis (views).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis = 0);
/// The slices along axis as a list of views with that axis removed (stack's inverse).
std::vector<Tensor> unbind(const Tensor& x, int64_t axis = 0);
/// Splits into n nearly equal pieces along axis (views; the last may be smaller).
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t axis = 0);
/// Pads with value: pads[i] = {before, after} for axis i (fewer pairs pad the leading axes).
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads,
           double value = 0.0);

// ---- indexing ----
/// out[i][j] = x[index[i][j]][j] along axis (index int64 of the output's shape).
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
/// NumPy take_along_axis: gather with index broadcast against x on the other axes.
Tensor take_along_axis(const Tensor& x, const Tensor& index, int64_t axis);
/// Rows (along axis) picked by a 1-D int64 index.
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);
/// A copy of x with src added at index along axis (index has src's shape).
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
/// One-hot float32 encoding of int indices with num_classes classes (last axis).
Tensor one_hot(const Tensor& indices, int64_t num_classes, DType dtype = kFloat32);
/// Inclusive cumulative sum along axis.
Tensor cumsum(const Tensor& x, int64_t axis);
/// x converted to dtype (differentiable between floating dtypes).
Tensor cast(const Tensor& x, DType dtype);

// ---- convolution and pooling (channels-last by default, kernels as Keras stores them) ----
/// Padding of a convolution or pooling: "valid", "same" (TensorFlow's rule: the odd cell goes
/// at the end), "causal" (conv1d only), or explicit (before, after) pairs per spatial axis.
struct Padding {
  Padding(const char* m) : mode(m) {}
  Padding(std::string m) : mode(std::move(m)) {}
  Padding(std::vector<std::pair<int64_t, int64_t>> p) : mode("explicit"), pads(std::move(p)) {}
  std::string mode;
  std::vector<std::pair<int64_t, int64_t>> pads;
};

/// Options of conv2d (Keras Conv2D arguments).
struct Conv2dOptions {
  std::vector<int64_t> strides = {1, 1};
  Padding padding = "valid";
  std::vector<int64_t> dilation_rate = {1, 1};
  int64_t groups = 1;
  std::string data_format = "channels_last";  ///< or "channels_first" (NCHW)
  /// relu applied inside the convolution kernel (a oneDNN post-op): conv2d(..., {.fused_relu
  /// = true}) is relu(conv2d(...)) in one pass, its backward masked by the output.
  bool fused_relu = false;
};
/// 2-D convolution of x (N, H, W, C) with kernel (kh, kw, C / groups, filters).
Tensor conv2d(const Tensor& x, const Tensor& kernel, const Conv2dOptions& opts = {});
/// conv2d plus bias (filters) (undefined: none), added inside the convolution kernel (oneDNN
/// fuses it), with its gradient the sum of the output gradient over batch and pixels. (A bare
/// `{}` third argument is ambiguous between the two overloads: leave it out instead.)
Tensor conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias,
              const Conv2dOptions& opts = {});

/// Options of conv1d.
struct Conv1dOptions {
  int64_t strides = 1;
  Padding padding = "valid";  ///< "valid", "same" or "causal" (left padding only)
  int64_t dilation_rate = 1;
  int64_t groups = 1;
  std::string data_format = "channels_last";  ///< or "channels_first" (N, C, W)
  bool fused_relu = false;                    ///< as Conv2dOptions::fused_relu
};
/// 1-D convolution of x (N, W, C) with kernel (k, C / groups, filters).
Tensor conv1d(const Tensor& x, const Tensor& kernel, const Conv1dOptions& opts = {});
/// conv1d plus bias (filters) (undefined: none), fused as in conv2d.
Tensor conv1d(const Tensor& x, const Tensor& kernel, const Tensor& bias,
              const Conv1dOptions& opts = {});

/// Options of conv2d_transpose.
struct Conv2dTransposeOptions {
  std::vector<int64_t> strides = {1, 1};
  Padding padding = "valid";  ///< "valid" or "same"
  std::vector<int64_t> dilation_rate = {1, 1};
  std::string data_format = "channels_last";
};
/// Transposed convolution (the adjoint of conv2d) of x (N, H, W, C) with kernel
/// (kh, kw, filters, C); output length in·stride ("same") or in·stride + max(k − stride, 0).
Tensor conv2d_transpose(const Tensor& x, const Tensor& kernel,
                        const Conv2dTransposeOptions& opts = {});

/// The adjoint of conv2d in its input: grad_out (N, OH, OW, F) → (N, H, W, C) for the given
/// input shape (a differentiable op; conv2d's backward and conv2d_transpose use it).
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& kernel, const Shape& input_shape,
                             const Conv2dOptions& opts = {});
/// The adjoint of conv2d in its kernel: (x, grad_out) → kernel-shaped gradient.
Tensor conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Shape& kernel_shape,
                              const Conv2dOptions& opts = {});

/// Options of max_pool2d / avg_pool2d.
struct Pool2dOptions {
  std::vector<int64_t> pool_size = {2, 2};
  std::vector<int64_t> strides = {};  ///< empty: pool_size
  Padding padding = "valid";
  std::string data_format = "channels_last";
};
/// Max pooling of x (N, H, W, C); padded cells never win.
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opts = {});
/// Average pooling of x (N, H, W, C), dividing by the number of real (unpadded) cells.
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opts = {});
/// Mean over the spatial axes: (N, H, W, C) → (N, C) (keepdims: (N, 1, 1, C)).
Tensor global_avg_pool2d(const Tensor& x, bool keepdims = false,
                         const std::string& data_format = "channels_last");
/// Max over the spatial axes.
Tensor global_max_pool2d(const Tensor& x, bool keepdims = false,
                         const std::string& data_format = "channels_last");

// ---- normalization ----
/// Batch normalization over every axis but `axis` (the channels). training: normalise with
/// the batch statistics and update running_mean/running_var in place (moving = moving·momentum +
/// batch·(1 − momentum), biased variance, as Keras); inference: use the running statistics.
/// gamma/beta may be undefined (no scale/offset).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.99, double epsilon = 1e-3, int64_t axis = -1);
/// Layer normalization over axes (default the last), then gamma·x̂ + beta (either may be undefined).
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Axes& axes = {-1},
                  double epsilon = 1e-3);

// ---- embedding ----
/// Rows of table (vocabulary, dim) picked by integer indices of any shape → shape + [dim].
Tensor embedding(const Tensor& indices, const Tensor& table);

// ---- recurrent (batch-major (N, T, F), Keras weight layouts) ----
/// Options of the recurrent ops.
struct RnnOptions {
  bool return_sequences = false;  ///< outputs for every step (N, T, H), else the last (N, H)
  bool go_backwards = false;      ///< process the sequence in reverse (outputs in processing order)
};
/// LSTM: kernel (F, 4H), recurrent_kernel (H, 4H), bias (4H) or undefined, gate order i, f, c, o,
/// tanh activation and sigmoid recurrent activation; h0, c0 (N, H) may be undefined (zeros).
/// Returns {output, h_T, c_T}.
std::vector<Tensor> lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& kernel,
                         const Tensor& recurrent_kernel, const Tensor& bias,
                         const RnnOptions& opts = {});
/// GRU with Keras 3's reset_after = true: kernel (F, 3H), recurrent_kernel (H, 3H), bias (2, 3H)
/// (row 0 input, row 1 recurrent) or undefined, gate order z, r, h. Returns {output, h_T}.
std::vector<Tensor> gru(const Tensor& x, const Tensor& h0, const Tensor& kernel,
                        const Tensor& recurrent_kernel, const Tensor& bias,
                        const RnnOptions& opts = {});
/// Fully connected recurrence h = tanh(x·W + h·U + b). Returns {output, h_T}.
std::vector<Tensor> simple_rnn(const Tensor& x, const Tensor& h0, const Tensor& kernel,
                               const Tensor& recurrent_kernel, const Tensor& bias,
                               const RnnOptions& opts = {});
/// One LSTM step's gate arithmetic (gate order i, f, c, o): z (N, 4H) is the pre-activation
/// x·W + h·U + b, c_prev (N, H); c = σ(f)·c_prev + σ(i)·tanh(c̃), h = σ(o)·tanh(c), through one
/// fused kernel each way. Returns {h, c}.
std::vector<Tensor> lstm_cell(const Tensor& z, const Tensor& c_prev);
/// One GRU step's gate arithmetic, Keras 3 reset_after (gate order z, r, h): xz (N, 3H) is the
/// input projection with the input bias, hz (N, 3H) the recurrent projection with the recurrent
/// bias, h_prev (N, H). Returns h = z·h_prev + (1 − z)·tanh(xz_h + r·hz_h) (N, H).
Tensor gru_cell(const Tensor& xz, const Tensor& hz, const Tensor& h_prev);

// ---- regularization ----
/// Inverted dropout: zeroes each element with probability rate and scales the rest by
/// 1 / (1 − rate) when training; the identity otherwise. Seeded by the global generator or seed.
Tensor dropout(const Tensor& x, double rate, bool training = true,
               std::optional<uint64_t> seed = std::nullopt);

// ---- losses ----
/// Connectionist temporal classification loss, one value per sample (Keras 3's ctc_loss): logits
/// (batch, time, classes) go through log_softmax; labels (int, batch × max_label_length) are
/// read up to label_lengths; logit_lengths (int, [batch]) cut each sample's time axis; blank is
/// the blank class (negative counts from the last, e.g. −1 for older Keras). Returns
/// −log p(labels | logits), +inf where the label cannot fit (repeats need a blank between).
Tensor ctc_loss(const Tensor& logits, const Tensor& labels, const Tensor& label_lengths,
                const Tensor& logit_lengths, int64_t blank = 0);

// ---- operators ----
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace tg
