// ctc_loss: connectionist temporal classification loss of logits against label sequences.
#include <algorithm>
#include <vector>

#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using autograd::SavedTensor;
using namespace ops;

namespace {
constexpr const char* kOp = "ctc_loss";
/// Log-weight of impossible states in the recorded recursions: finite, so that no adjoint meets
/// −inf − (−inf), yet exp() of it (or of sums of a few of it) is exactly 0.
constexpr double kImpossible = -1e30;

/// Everything backward needs to rebuild the alignment lattice, on the host.
struct CtcPlan {
  int64_t batch = 0, time = 0, classes = 0;
  int64_t states = 1;  // 2 · max label length + 1 (padded with blanks)
  int64_t blank = 0;
  std::vector<int64_t> ext;         // [batch, states]: l' = blank, l1, blank, l2, ..., blank
  std::vector<int64_t> num_states;  // 2 · label length + 1 per sample
  std::vector<int64_t> input_len;   // logit length per sample
  std::vector<bool> feasible;       // whether some alignment fits in the logit length
};

/// Values of an int tensor of per-sample lengths: shape [batch] (or [batch, 1]), values in
/// [0, max_len].
std::vector<int64_t> checked_lengths(const Tensor& t, const char* what, int64_t batch,
                                     int64_t max_len, const char* max_what) {
  check_defined(kOp, t, what);
  if (t.dtype() != kInt64 && t.dtype() != kInt32)
    fail<DTypeError>(kOp, ": ", what, " must be int32 or int64, got ", t.dtype());
  const bool ok = (t.dim() == 1 && t.shape()[0] == batch) ||
                  (t.dim() == 2 && t.shape()[0] == batch && t.shape()[1] == 1);
  if (!ok) fail<ShapeError>(kOp, ": ", what, " must have shape [", batch, "], got ", t.shape());
  std::vector<int64_t> v = t.to_vector<int64_t>();
  for (int64_t n = 0; n < batch; ++n) {
    if (v[n] < 0) fail<ValueError>(kOp, ": ", what, "[", n, "] = ", v[n], " is negative");
    if (v[n] > max_len)
      fail<ValueError>(kOp, ": ", what, "[", n, "] = ", v[n], " exceeds ", max_what, " ", max_len);
  }
  return v;
}

/// ∂loss/∂logits (per unit of incoming gradient) rebuilt from differentiable ops: log-space
/// α/β recursions over time on log_softmax(x). Used only when backward is itself recorded
/// (create_graph), so that gradients of this gradient are exact.
Tensor ctc_grad_graph(const Tensor& x, const CtcPlan& p) {
  const int64_t N = p.batch, T = p.time, C = p.classes, S = p.states;
  if (N == 0 || T == 0) return mul(x, 0.0);
  const TensorOptions fo{.dtype = x.dtype(), .device = x.device()};
  // Host-built constants: additive penalties (0 allowed, kImpossible not) and masks.
  std::vector<double> init_pen(N * S, kImpossible), end_pen(N * S, kImpossible);
  std::vector<double> skip_pen(N * S, kImpossible), skip_back_pen(N * S, kImpossible);
  std::vector<double> end_time_pen(N * T * S, kImpossible), one_hot_ext(N * S * C, 0.0);
  std::vector<bool> is_last(N * T, false), valid(N * T, false), feasible(N, false);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t* e = &p.ext[n * S];
    const int64_t Sn = p.num_states[n], Tn = p.input_len[n];
    feasible[n] = p.feasible[n];
    for (int64_t s = 0; s < S; ++s) {
      one_hot_ext[(n * S + s) * C + e[s]] = 1.0;
      if (s < std::min<int64_t>(2, Sn)) init_pen[n * S + s] = 0.0;
      if (s == Sn - 1 || s == Sn - 2) end_pen[n * S + s] = 0.0;
      if (s >= 2 && e[s] != p.blank && e[s] != e[s - 2]) skip_pen[n * S + s] = 0.0;
      if (s + 2 < S && e[s + 2] != p.blank && e[s + 2] != e[s]) skip_back_pen[n * S + s] = 0.0;
      if (Tn > 0 && (s == Sn - 1 || s == Sn - 2)) end_time_pen[(n * T + Tn - 1) * S + s] = 0.0;
    }
    for (int64_t t = 0; t < T; ++t) {
      is_last[n * T + t] = t == Tn - 1;
      valid[n * T + t] = p.feasible[n] && t < Tn;
    }
  }
  auto host = [&](const std::vector<double>& v, Shape s) { return tensor<double>(v, s, fo); };
  auto mask = [&](const std::vector<bool>& v, Shape s) {
    return tensor<bool>(v, s, {.dtype = kBool, .device = x.device()});
  };
  const Tensor pen_init = host(init_pen, {N, S}), pen_end = host(end_pen, {N, S});
  const Tensor pen_skip = host(skip_pen, {N, S}), pen_skip_back = host(skip_back_pen, {N, S});
  const Tensor last = mask(is_last, {N, T, 1});
  const Tensor impossible = full(Shape{}, kImpossible, fo);

  auto shift_right = [&](const Tensor& a, int64_t k) {  // out[s] = a[s − k]
    return pad(a, {{0, 0}, {k, 0}}, kImpossible).slice(1, 0, S);
  };
  auto shift_left = [&](const Tensor& a, int64_t k) {  // out[s] = a[s + k]
    return pad(a, {{0, 0}, {0, k}}, kImpossible).slice(1, k, S + k);
  };
  auto log_add3 = [](const Tensor& a, const Tensor& b, const Tensor& c) {
    return logsumexp(stack({a, b, c}, 0), {0});
  };

  const Tensor logp = log_softmax(x, -1);
  std::vector<int64_t> ext_idx(p.ext);
  const Tensor idx = tensor<int64_t>(ext_idx, {N, 1, S}, {.dtype = kInt64, .device = x.device()});
  const Tensor lpe = gather(logp, 2, idx.expand({N, T, S}));  // log y_t(l'_s), [N, T, S]

  std::vector<Tensor> alphas(static_cast<size_t>(T)), betas(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    if (t == 0) {
      alphas[0] = add(lpe.select(1, 0), pen_init);
    } else {
      const Tensor& a = alphas[t - 1];
      alphas[t] =
          add(lpe.select(1, t), log_add3(a, shift_right(a, 1), add(shift_right(a, 2), pen_skip)));
    }
  }
  Tensor next = full({N, S}, kImpossible, fo);
  for (int64_t t = T - 1; t >= 0; --t) {
    const Tensor lt = lpe.select(1, t);
    Tensor rec =
        add(lt, log_add3(next, shift_left(next, 1), add(shift_left(next, 2), pen_skip_back)));
    betas[t] = where(last.select(1, t), add(lt, pen_end), rec);
    next = betas[t];
  }
  const Tensor alpha = stack(alphas, 1), beta = stack(betas, 1);  // [N, T, S]
  Tensor log_p = logsumexp(add(alpha, host(end_time_pen, {N, T, S})), {1, 2});
  log_p = where(mask(feasible, {N}), log_p, zeros(Shape{}, fo)).reshape({N, 1, 1});
  // Posterior occupation of state s at time t, zero past the logit length and when infeasible.
  Tensor occ =
      exp(where(mask(valid, {N, T, 1}), sub(sub(add(alpha, beta), lpe), log_p), impossible));
  Tensor gamma = matmul(occ, host(one_hot_ext, {N, S, C}));  // [N, T, C]
  return sub(mul(exp(logp), sum(gamma, {2}, true)), gamma);
}
}  // namespace

TG_REGISTER_OP("ctc_loss", "ctc_loss", true);
Tensor ctc_loss(const Tensor& logits, const Tensor& labels, const Tensor& label_lengths,
                const Tensor& logit_lengths, int64_t blank_in) {
  check_defined(kOp, logits, "logits");
  check_defined(kOp, labels, "labels");
  check_same_device(kOp, logits, labels);
  if (label_lengths.defined()) check_same_device(kOp, logits, label_lengths);
  if (logit_lengths.defined()) check_same_device(kOp, logits, logit_lengths);
  if (!is_floating(logits.dtype()))
    fail<DTypeError>(kOp, ": logits must be float32 or float64, got ", logits.dtype());
  if (logits.dim() != 3)
    fail<ShapeError>(kOp, ": logits must be [batch, time, classes], got ", logits.shape());
  const int64_t N = logits.shape()[0], T = logits.shape()[1], C = logits.shape()[2];
  const int64_t blank = blank_in < 0 ? blank_in + C : blank_in;
  if (blank < 0 || blank >= C)
    fail<IndexError>(kOp, ": blank index ", blank_in, " out of range for ", C, " classes");
  if (labels.dtype() != kInt64 && labels.dtype() != kInt32)
    fail<DTypeError>(kOp, ": labels must be int32 or int64, got ", labels.dtype());
  if (labels.dim() != 2)
    fail<ShapeError>(kOp, ": labels must be [batch, max_label_length], got ", labels.shape());
  if (labels.shape()[0] != N)
    fail<ShapeError>(kOp, ": labels have batch ", labels.shape()[0], " but logits have batch ", N,
                     ": ", labels.shape(), " vs ", logits.shape());
  const int64_t L = labels.shape()[1];
  const std::vector<int64_t> lab_len =
      checked_lengths(label_lengths, "label_lengths", N, L, "the labels' max length");
  const std::vector<int64_t> in_len =
      checked_lengths(logit_lengths, "logit_lengths", N, T, "the logits' time steps");
  const std::vector<int64_t> lab = labels.to_vector<int64_t>();

  CtcPlan p{.batch = N, .time = T, .classes = C, .states = 2 * L + 1, .blank = blank};
  p.ext.assign(static_cast<size_t>(N * p.states), blank);
  for (int64_t n = 0; n < N; ++n) {
    int64_t repeats = 0;
    for (int64_t i = 0; i < lab_len[n]; ++i) {
      const int64_t c = lab[n * L + i];
      if (c < 0 || c >= C)
        fail<IndexError>(kOp, ": label ", c, " out of range for ", C, " classes (sample ", n,
                         ", position ", i, ")");
      if (c == blank)
        fail<ValueError>(kOp, ": label ", c, " equals the blank index (sample ", n, ", position ",
                         i, ")");
      if (i > 0 && c == lab[n * L + i - 1]) ++repeats;
      p.ext[n * p.states + 2 * i + 1] = c;
    }
    p.num_states.push_back(2 * lab_len[n] + 1);
    p.input_len.push_back(in_len[n]);
    p.feasible.push_back(in_len[n] >= lab_len[n] + repeats);
  }

  const TensorOptions io{.dtype = kInt64, .device = logits.device()};
  const Tensor lab_t = tensor<int64_t>(lab, {N, L}, io);
  const Tensor lab_len_t = tensor<int64_t>(lab_len, {N}, io);
  const Tensor in_len_t = tensor<int64_t>(in_len, {N}, io);
  Backend& be = kernel_backend("ctc_loss", Kernel::CtcLoss, logits);
  Tensor logp = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  if (logits.numel() > 0) be.softmax(logits, 2, true, logp);
  const bool need = autograd::needs_grad(logits);
  Tensor loss = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor g_logp = need ? Tensor::empty(logits.shape(), logits.dtype(), logits.device()) : Tensor();
  be.ctc_loss(logp, lab_t, lab_len_t, in_len_t, blank, loss, g_logp);
  if (need) {
    // The adjoint of log_softmax: g − softmax · Σ_c g, i.e. softmax − occupation for t < length,
    // 0 after it and for infeasible samples (their occupation is 0). No input requires grad
    // here, so nothing is recorded.
    Tensor d = sub(g_logp, mul(exp(logp), sum(g_logp, {2}, true)));
    autograd::record(kOp, {&logits}, {&loss},
                     [d, sx = SavedTensor(logits), p = std::move(p)](const Tensor& g) {
                       const Tensor gn = g.reshape({p.batch, 1, 1});
                       if (autograd::grad_enabled()) {  // create_graph: rebuild d from recorded ops
                         const Tensor x = sx.unpack();
                         if (x.requires_grad())
                           return std::vector<Tensor>{mul(ctc_grad_graph(x, p), gn)};
                       }
                       return std::vector<Tensor>{mul(d, gn)};
                     });
  }
  return loss;
}

}  // namespace tg
