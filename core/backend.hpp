// The kernel interface every device backend implements. Kernels trust their arguments: all
// validation happens in the ops (autograd/ops) before a kernel is called.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/core/allocator.hpp"
#include "tapegrad/core/op_table.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg {

#define TG_OP_ENUMERATOR_(name, str, ocl) name,
#define TG_OP_COUNT_(name, str, ocl) +1
/// Elementwise functions of one tensor (the table in core/op_table.hpp, p0/p1 documented there).
enum class UnaryOp : uint8_t { TG_UNARY_OPS(TG_OP_ENUMERATOR_) };
/// Elementwise functions of two tensors; comparisons and logical ops write bool.
enum class BinaryOp : uint8_t { TG_BINARY_OPS(TG_OP_ENUMERATOR_) };
/// Reductions over the axes where the output has size 1 and the input does not.
enum class ReduceOp : uint8_t { TG_REDUCE_OPS(TG_OP_ENUMERATOR_) };
/// Number of codes of each kind (for tables indexed by the enums).
inline constexpr int kUnaryOpCount = 0 TG_UNARY_OPS(TG_OP_COUNT_);
inline constexpr int kBinaryOpCount = 0 TG_BINARY_OPS(TG_OP_COUNT_);
inline constexpr int kReduceOpCount = 0 TG_REDUCE_OPS(TG_OP_COUNT_);
#define TG_KERNEL_ENUMERATOR_(name, str, domain) name,
#define TG_KERNEL_COUNT_(name, str, domain) +1
/// The kernels of the Backend interface (the table TG_KERNELS in core/op_table.hpp).
enum class Kernel : uint8_t { TG_KERNELS(TG_KERNEL_ENUMERATOR_) };
inline constexpr int kKernelCount = 0 TG_KERNELS(TG_KERNEL_COUNT_);
#undef TG_KERNEL_ENUMERATOR_
#undef TG_KERNEL_COUNT_
#undef TG_OP_ENUMERATOR_
#undef TG_OP_COUNT_
/// Random distributions for Backend::random.
enum class Distribution : uint8_t { Uniform, Normal };

/// The op's name in the table (core/op_table.hpp).
std::string_view unary_op_name(UnaryOp op);
std::string_view binary_op_name(BinaryOp op);
std::string_view reduce_op_name(ReduceOp op);
/// The kernel's name in the table ("matmul", "adam_update").
std::string_view kernel_name(Kernel k);
/// Whether kernel k is defined for dtype dt at all (its domain in the table).
bool kernel_domain_has(Kernel k, DType dt);

/// How a backend runs a kernel for one dtype (Backend::supports).
enum class Support : uint8_t {
  None,      ///< not available: the ops raise an error naming op, kernel, dtype and device
  Native,    ///< this backend's own kernel (oneDNN primitive, OpenCL C kernel, CLBlast call)
  Fallback,  ///< a generic path: the reference loops, or a composition of other kernels
};
/// "none", "native", "fallback".
std::string_view support_name(Support s);
/// `#define TG_UNARY_NEG 0` ... for every code of the table: prepended to the OpenCL program so
/// that its kernels switch on the same numbers as the enums.
std::string op_table_defines();

/// Geometry of a 2-D convolution over NHWC tensors with kernels (kh, kw, in / groups, out).
/// Dilation is the Keras dilation_rate (1 = dense); padding is explicit per side.
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t groups = 1;
  bool relu = false;  ///< conv2d (forward) only: max(0, ·) after the bias, in the same kernel
};

/// Geometry of a 2-D pooling over NHWC tensors; padded cells never win a max and are not
/// counted by an average (Keras/TensorFlow semantics).
struct Pool2dParams {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
};

/// Scalars of the fused optimizer-update kernels (Backend::sgd_update and the rest; those a
/// rule does not use are ignored). The formulas are the Keras 3 ones, stated at each kernel.
struct OptimizerScalars {
  double lr = 0;
  double beta_1 = 0, beta_2 = 0;  ///< Adam, Adamax, Nadam
  double rho = 0;                 ///< RMSprop, Adadelta
  double momentum = 0;            ///< SGD, RMSprop
  double epsilon = 0;
  double step_size = 0;  ///< Adam: lr·sqrt(1−β₂ᵗ)/(1−β₁ᵗ); Adamax: lr/(1−β₁ᵗ)
  double m_coef = 0;     ///< Nadam: u_{t+1} / (1 − Π u up to t+1)
  double g_coef = 0;     ///< Nadam: (1 − u_t) / (1 − Π u up to t)
  double v_correction = 1;  ///< Nadam: 1 − β₂ᵗ
};

/// The cell of a whole-sequence recurrent kernel (Backend::rnn_forward).
enum class RnnCell : uint8_t {
  Lstm,  ///< gates i, f, c, o (4); lstm_cell's formulas
  Gru,   ///< gates z, r, h (3); gru_cell's formulas (Keras 3 reset_after)
};

/// Operands of a whole-sequence recurrent kernel, all contiguous, one floating dtype, one
/// device: x (N, T, F); h0 and, for the LSTM, c0 (N, H); kernel (F, G·H); recurrent_kernel
/// (H, G·H); bias (G·H) for the LSTM, (2, G·H) (input row, recurrent row) for the GRU. Every
/// operand is defined (zeros where the user gave none; c0 undefined for the GRU). Gradients
/// come back in the same struct (same shapes).
struct RnnOperands {
  Tensor x, h0, c0, kernel, recurrent_kernel, bias;
};

/// What a backend's whole-sequence forward keeps for its backward; opaque to the ops.
class RnnWorkspace {
 public:
  virtual ~RnnWorkspace() = default;
};

/// Kernels of one device kind. Inputs may have any strides (broadcast inputs come as views with
/// stride 0 on broadcast axes); outputs are preallocated with the result's shape and dtype.
class Backend {
 public:
  virtual ~Backend() = default;
  /// Short name: "reference", "cpu" (oneDNN), "opencl".
  virtual std::string_view name() const = 0;
  /// The allocator storages of this backend come from.
  virtual CachingAllocator& allocator() = 0;
  /// How this backend runs kernel k for dtype dt. Every kernel of every backend is Native or a
  /// declared Fallback on its domain (core/op_table.hpp; the registry test checks it); None
  /// where the device cannot run it (float64 without cl_khr_fp64), so the ops refuse before
  /// dispatch.
  virtual Support supports(Kernel k, DType dt) const = 0;

  /// Copies host bytes into a contiguous tensor.
  virtual void copy_from_host(const void* src, const Tensor& dst) = 0;
  /// Copies a contiguous tensor to host bytes (waits for the device).
  virtual void copy_to_host(const Tensor& src, void* dst) = 0;
  /// dst = value everywhere (dst may be strided).
  virtual void fill(const Tensor& dst, double value) = 0;
  /// dst = cast(src); same shape, any strides on both sides.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  /// out = op(x) elementwise.
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) = 0;
  /// out = op(a, b); a and b have out's shape (broadcast axes have stride 0).
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  /// out = cond ? a : b; all have out's shape (broadcast as in binary).
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  /// Reduces x over the axes where out has size 1 and x does not (out has x's rank).
  virtual void reduce(ReduceOp op, const Tensor& x, const Tensor& out) = 0;
  /// Index (int64) of the max (or min) along axis; out has x's shape with size 1 at axis.
  virtual void arg_reduce(bool is_max, const Tensor& x, int64_t axis, const Tensor& out) = 0;
  /// out[..., M, N] = a[..., M, K] @ b[..., K, N]; batch axes already broadcast (stride 0).
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  /// Softmax (or log-softmax) of x along axis.
  virtual void softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) = 0;
  /// Inclusive cumulative sum along axis.
  virtual void cumsum(const Tensor& x, int64_t axis, const Tensor& out) = 0;
  /// out = x taken along axis at index (int64, out's shape; other axes may be broadcast).
  virtual void gather(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) = 0;
  /// dst[.. index[i] ..] += src[i] along axis; index has src's shape.
  virtual void scatter_add(const Tensor& dst, int64_t axis, const Tensor& index,
                           const Tensor& src) = 0;
  /// Fills a contiguous tensor with counter-based random numbers: element i uses counter
  /// offset + i of stream seed, so every device produces the same values.
  virtual void random(const Tensor& out, Distribution dist, double a, double b, uint64_t seed,
                      uint64_t offset) = 0;
  /// out (N, OH, OW, CO) = convolution of x (N, H, W, CI) with w (KH, KW, CI / groups, CO),
  /// plus bias (CO) at every output pixel when bias is defined; all contiguous.
  virtual void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                      const Conv2dParams& p) = 0;
  /// grad_in (N, H, W, CI) = the adjoint of conv2d in x, applied to grad_out (N, OH, OW, CO).
  virtual void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_in,
                                     const Conv2dParams& p) = 0;
  /// grad_w (KH, KW, CI / groups, CO) = the adjoint of conv2d in w, from x and grad_out.
  virtual void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_w,
                                      const Conv2dParams& p) = 0;
  /// Max pooling of x (N, H, W, C) into out (N, OH, OW, C); when indices (int64, out's shape)
  /// is defined it receives the flat offset into x of each maximum.
  virtual void max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices,
                          const Pool2dParams& p) = 0;
  /// The adjoint of max_pool2d: grad_in (N, H, W, C) = 0 plus grad_out (N, OH, OW, C) added at
  /// each window's winner, indices being what max_pool2d recorded (all contiguous). The default
  /// is a fill and a scatter_add.
  virtual void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices,
                                   const Tensor& grad_in, const Pool2dParams& p);
  /// Average pooling (dividing by the number of unpadded cells).
  virtual void avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) = 0;
  /// The adjoint of avg_pool2d: spreads grad_out (N, OH, OW, C) into grad_in (N, H, W, C).
  virtual void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_in,
                                   const Pool2dParams& p) = 0;
  /// CTC loss per sample from log-probabilities log_probs (N, T, C) (log-softmax over C), labels
  /// (int64, N × L), label_lengths and input_lengths (int64, [N]) and the blank class, in log
  /// space: loss [N] gets −log p(labels | log_probs), +inf where no alignment fits. When grad
  /// (log_probs' shape and dtype) is defined it gets ∂loss/∂log_probs: minus the posterior
  /// occupation of each class (alpha-beta), 0 for t ≥ input length and for infeasible samples.
  virtual void ctc_loss(const Tensor& log_probs, const Tensor& labels, const Tensor& label_lengths,
                        const Tensor& input_lengths, int64_t blank, const Tensor& loss,
                        const Tensor& grad) = 0;
  /// LSTM gate arithmetic of one step (gate order i, f, c, o; sigmoid and tanh): from the
  /// pre-activation z (N, 4H) (x·W + h·U + b) and c_prev (N, H), writes c = σ(f)·c_prev +
  /// σ(i)·tanh(c̃), h = σ(o)·tanh(c) and gates (N, 4H), the activated gates kept for backward.
  /// All contiguous, one floating dtype.
  virtual void lstm_cell(const Tensor& z, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                         const Tensor& gates) = 0;
  /// Backward of lstm_cell: from grad_h, grad_c (N, H), the saved gates, c_prev and c, writes
  /// grad_z (N, 4H) and grad_c_prev (N, H).
  virtual void lstm_cell_backward(const Tensor& grad_h, const Tensor& grad_c, const Tensor& gates,
                                  const Tensor& c_prev, const Tensor& c, const Tensor& grad_z,
                                  const Tensor& grad_c_prev) = 0;
  /// GRU gate arithmetic of one step, Keras 3 reset_after (gate order z, r, h): from the input
  /// projection xz (N, 3H) and the recurrent projection hz (N, 3H) (each with its bias) and
  /// h_prev (N, H): z = σ(xz_z + hz_z), r = σ(xz_r + hz_r), hh = tanh(xz_h + r·hz_h),
  /// h = z·h_prev + (1 − z)·hh; gates (N, 3H) gets z, r, hh. All contiguous.
  virtual void gru_cell(const Tensor& xz, const Tensor& hz, const Tensor& h_prev, const Tensor& h,
                        const Tensor& gates) = 0;
  /// Backward of gru_cell: from grad_h (N, H), the saved gates, hz and h_prev, writes grad_xz,
  /// grad_hz (N, 3H) and grad_h_prev (N, H) (the direct term z·grad_h).
  virtual void gru_cell_backward(const Tensor& grad_h, const Tensor& gates, const Tensor& hz,
                                 const Tensor& h_prev, const Tensor& grad_xz, const Tensor& grad_hz,
                                 const Tensor& grad_h_prev) = 0;
  /// Whole-sequence LSTM or GRU forward: writes y (N, T, H), the state after each step in
  /// processing order (go_backwards: step i consumes x[:, T − 1 − i]), h_last and, for the LSTM,
  /// c_last (N, H). training: keep in the workspace what rnn_backward needs. Returns the
  /// workspace (non-null), or nullptr when this backend has no whole-sequence kernel for these
  /// operands: the op then runs the steps one by one (matmul + lstm_cell / gru_cell), which is
  /// what the default does.
  virtual std::shared_ptr<RnnWorkspace> rnn_forward(RnnCell cell, bool go_backwards, bool training,
                                                    const RnnOperands& in, const Tensor& y,
                                                    const Tensor& h_last, const Tensor& c_last);
  /// Backward of an rnn_forward run with training = true, from its operands, outputs and
  /// workspace: from grad_y (N, T, H), grad_h_last and (LSTM) grad_c_last (N, H), all
  /// contiguous, writes the gradient of every operand into grads (defined, contiguous, the
  /// operands' shapes; overwritten, not accumulated).
  virtual void rnn_backward(RnnCell cell, bool go_backwards, const RnnOperands& in, const Tensor& y,
                            const Tensor& h_last, const Tensor& c_last, RnnWorkspace& workspace,
                            const Tensor& grad_y, const Tensor& grad_h_last,
                            const Tensor& grad_c_last, const RnnOperands& grads);
  /// Batch normalization of x viewed as rows (M, C) (contiguous, channels last):
  /// y = (x − mean) / sqrt(var + eps) · gamma + beta. training: writes the batch mean and biased
  /// variance into mean and var; otherwise reads them.
  virtual void batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                          const Tensor& mean, const Tensor& var, double eps, bool training,
                          const Tensor& y) = 0;
  /// Gradients of training-mode batch_norm (batch statistics mean and var) from grad_y.
  virtual void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                                   const Tensor& mean, const Tensor& var, double eps,
                                   const Tensor& grad_x, const Tensor& grad_gamma,
                                   const Tensor& grad_beta) = 0;

  // Fused optimizer updates: param and the state tensors ("slots") updated in place from grad,
  // elementwise, arithmetic in double (Keras 3 formulas). All operands contiguous, of param's
  // shape, floating dtype and device (autograd/ops/optim.cpp checks); an undefined slot selects
  // the variant without it.
  /// SGD: momentum undefined: p −= lr·g. Otherwise m = μ·m − lr·g; p += m, or with nesterov
  /// p += μ·m − lr·g.
  virtual void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum,
                          bool nesterov, const OptimizerScalars& s) = 0;
  /// RMSprop: v = ρv + (1−ρ)g²; centered (average_gradient defined): mg = ρ·mg + (1−ρ)g and
  /// denom = v − mg², else denom = v; inc = lr·g / sqrt(denom + ε); with momentum (defined):
  /// m = μm + inc, p −= m; else p −= inc.
  virtual void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                              const Tensor& average_gradient, const Tensor& momentum,
                              const OptimizerScalars& s) = 0;
  /// Adam: m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; amsgrad (vhat defined): vhat = max(vhat, v)
  /// replaces v below; p −= step_size·m / (sqrt(v) + ε).
  virtual void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                           const Tensor& v, const Tensor& vhat, const OptimizerScalars& s) = 0;
  /// Adagrad: acc += g²; p −= lr·g / sqrt(acc + ε).
  virtual void adagrad_update(const Tensor& param, const Tensor& grad, const Tensor& accumulator,
                              const OptimizerScalars& s) = 0;
  /// Adadelta: ag = ρ·ag + (1−ρ)g²; δ = sqrt(ad + ε) / sqrt(ag + ε)·g; ad = ρ·ad + (1−ρ)δ²;
  /// p −= lr·δ.
  virtual void adadelta_update(const Tensor& param, const Tensor& grad,
                               const Tensor& accumulated_grad, const Tensor& accumulated_delta_var,
                               const OptimizerScalars& s) = 0;
  /// Adamax: m = β₁m + (1−β₁)g; u = max(β₂u, |g|); p −= step_size·m / (u + ε).
  virtual void adamax_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                             const Tensor& u, const OptimizerScalars& s) = 0;
  /// Nadam: m, v as Adam; m̂ = m·m_coef + g·g_coef; v̂ = v / v_correction;
  /// p −= lr·m̂ / (sqrt(v̂) + ε).
  virtual void nadam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                            const Tensor& v, const OptimizerScalars& s) = 0;
};

}  // namespace tg
