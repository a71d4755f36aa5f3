// Keras losses written with differentiable tapegrad ops.
#include "tapegrad/nn/losses.hpp"

#include <cmath>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tg::nn {

namespace losses {
namespace {
/// Checks shapes (naming the loss) and returns y_true in y_pred's dtype.
Tensor prepare(const char* name, const Tensor& y_true, const Tensor& y_pred) {
  if (!y_true.defined() || !y_pred.defined())
    fail<ValueError>(name, ": undefined y_true or y_pred");
  // Keras aligns ranks that differ by a trailing axis of 1 ([N] against [N, 1]) instead of
  // broadcasting them to [N, N].
  Tensor yt = y_true;
  if (yt.dim() + 1 == y_pred.dim() && y_pred.shape().back() == 1)
    yt = yt.unsqueeze(-1);
  else if (yt.dim() == y_pred.dim() + 1 && yt.shape().back() == 1)
    yt = yt.squeeze(-1);
  if (yt.shape() != y_pred.shape()) {
    try {
      broadcast_shapes(name, y_true.shape(), y_pred.shape());
    } catch (const ShapeError&) {
      fail<ShapeError>(name, ": y_true shape ", y_true.shape(), " does not match y_pred shape ",
                       y_pred.shape());
    }
  }
  DType dt = is_floating(y_pred.dtype()) ? y_pred.dtype() : kFloat32;
  return yt.dtype() == dt ? yt : yt.to(dt);
}
Tensor mean_last(const Tensor& x) { return x.dim() == 0 ? x : mean(x, {-1}); }
Tensor pm_one(const Tensor& t) {
  // Keras maps {0, 1} labels to {−1, +1}; labels already in {−1, +1} stay.
  Tensor is01 = logical_or(eq(t, 0.0), eq(t, 1.0));
  bool all01 = sum(logical_not(is01)).item<int64_t>() == 0;
  return all01 ? sub(mul(t, 2.0), 1.0) : t;
}
}  // namespace

Tensor mean_squared_error(const Tensor& yt, const Tensor& yp) {
  Tensor t = prepare("mean_squared_error", yt, yp);
  return mean_last(square(sub(yp, t)));
}
Tensor mean_absolute_error(const Tensor& yt, const Tensor& yp) {
  Tensor t = prepare("mean_absolute_error", yt, yp);
  return mean_last(abs(sub(yp, t)));
}
Tensor mean_absolute_percentage_error(const Tensor& yt, const Tensor& yp) {
  Tensor t = prepare("mean_absolute_percentage_error", yt, yp);
  Tensor d = abs(div(sub(t, yp), maximum(abs(t), kEpsilon)));
  return mul(mean_last(d), 100.0);
}
Tensor mean_squared_logarithmic_error(const Tensor& yt, const Tensor& yp) {
  Tensor t = prepare("mean_squared_logarithmic_error", yt, yp);
  Tensor a = log(add(maximum(yp, kEpsilon), 1.0));
  Tensor b = log(add(maximum(t, kEpsilon), 1.0));
  return mean_last(square(sub(a, b)));
}
Tensor huber(const Tensor& yt, const Tensor& yp, double delta) {
  Tensor t = prepare("huber", yt, yp);
  Tensor err = abs(sub(yp, t));
  Tensor quad = mul(square(err), 0.5);
  Tensor lin = sub(mul(err, delta), 0.5 * delta * delta);
  return mean_last(where(le(err, delta), quad, lin));
}
Tensor log_cosh(const Tensor& yt, const Tensor& yp) {
  Tensor t = prepare("log_cosh", yt, yp);
  Tensor x = sub(yp, t);
  // log(cosh(x)) = x + softplus(−2x) − log 2
  return mean_last(sub(add(x, softplus(mul(x, -2.0))), std::log(2.0)));
}
Tensor binary_crossentropy(const Tensor& yt, const Tensor& yp, bool from_logits, double ls) {
  ErrorContext ctx("binary_crossentropy");
  Tensor t = prepare("binary_crossentropy", yt, yp);
  if (ls > 0) t = add(mul(t, 1.0 - ls), 0.5 * ls);
  Tensor per;
  if (from_logits) {
    // max(x, 0) − x·z + log(1 + exp(−|x|))
    per = add(sub(relu(yp), mul(yp, t)), log1p(exp(neg(abs(yp)))));
  } else {
    Tensor p = clip(yp, kEpsilon, 1.0 - kEpsilon);
    per = neg(add(mul(t, log(p)), mul(sub(1.0, t), log(sub(1.0, p)))));
  }
  return mean_last(per);
}
Tensor categorical_crossentropy(const Tensor& yt, const Tensor& yp, bool from_logits, double ls,
                                int64_t axis) {
  ErrorContext ctx("categorical_crossentropy");
  Tensor t = prepare("categorical_crossentropy", yt, yp);
  if (yp.dim() == 0)
    fail<ShapeError>("categorical_crossentropy: y_pred must have a class axis, got a scalar");
  axis = normalize_axis("categorical_crossentropy", axis, yp.dim());
  if (ls > 0) t = add(mul(t, 1.0 - ls), ls / static_cast<double>(yp.shape()[axis]));
  if (from_logits) return neg(sum(mul(t, log_softmax(yp, axis)), {axis}));
  Tensor p = div(yp, sum(yp, {axis}, true));
  p = clip(p, kEpsilon, 1.0 - kEpsilon);
  return neg(sum(mul(t, log(p)), {axis}));
}
Tensor sparse_categorical_crossentropy(const Tensor& yt, const Tensor& yp, bool from_logits,
                                       int64_t axis) {
  ErrorContext ctx("sparse_categorical_crossentropy");
  if (!yt.defined() || !yp.defined())
    fail<ValueError>("sparse_categorical_crossentropy: undefined y_true or y_pred");
  if (yp.dim() < 1)
    fail<ShapeError>(
        "sparse_categorical_crossentropy: y_pred must have a class axis, got a scalar");
  const int64_t ax = normalize_axis("sparse_categorical_crossentropy", axis, yp.dim());
  if (ax != yp.dim() - 1)
    fail<ValueError>("sparse_categorical_crossentropy: only the last axis holds classes");
  Tensor labels = yt;
  if (labels.dim() == yp.dim() && labels.shape().back() == 1) labels = labels.squeeze(-1);
  Shape want(yp.shape().begin(), yp.shape().end() - 1);
  if (labels.shape() != want)
    fail<ShapeError>("sparse_categorical_crossentropy: labels of shape ", yt.shape(),
                     " do not match predictions ", yp.shape());
  labels = labels.to(kInt64);
  if (labels.numel() > 0) {
    NoGrad ng;
    const int64_t classes = yp.shape().back();
    const int64_t lo = min(labels).item<int64_t>(), hi = max(labels).item<int64_t>();
    if (lo < 0 || hi >= classes)
      fail<IndexError>("sparse_categorical_crossentropy: label ", lo < 0 ? lo : hi,
                       " out of range for ", classes, " classes");
  }
  labels = labels.unsqueeze(-1);
  Tensor logp;
  if (from_logits) {
    logp = log_softmax(yp, -1);
  } else {
    Tensor p = div(yp, sum(yp, {-1}, true));
    logp = log(clip(p, kEpsilon, 1.0 - kEpsilon));
  }
  return neg(take_along_axis(logp, labels, -1).squeeze(-1));
}
Tensor kl_divergence(const Tensor& yt, const Tensor& yp) {
  ErrorContext ctx("kl_divergence");
  Tensor t = clip(prepare("kl_divergence", yt, yp), kEpsilon, 1.0);
  Tensor p = clip(yp, kEpsilon, 1.0);
  return sum(mul(t, log(div(t, p))), {-1});
}
Tensor poisson(const Tensor& yt, const Tensor& yp) {
  Tensor t = prepare("poisson", yt, yp);
  return mean_last(sub(yp, mul(t, log(add(yp, kEpsilon)))));
}
Tensor hinge(const Tensor& yt, const Tensor& yp) {
  Tensor t = pm_one(prepare("hinge", yt, yp));
  return mean_last(relu(sub(1.0, mul(t, yp))));
}
Tensor squared_hinge(const Tensor& yt, const Tensor& yp) {
  Tensor t = pm_one(prepare("squared_hinge", yt, yp));
  return mean_last(square(relu(sub(1.0, mul(t, yp)))));
}
Tensor categorical_hinge(const Tensor& yt, const Tensor& yp) {
  ErrorContext ctx("categorical_hinge");
  Tensor t = prepare("categorical_hinge", yt, yp);
  Tensor pos = sum(mul(t, yp), {-1});
  Tensor negv = max(mul(sub(1.0, t), yp), {-1});
  return relu(add(sub(negv, pos), 1.0));
}
Tensor cosine_similarity(const Tensor& yt, const Tensor& yp, int64_t axis) {
  ErrorContext ctx("cosine_similarity");
  Tensor t = prepare("cosine_similarity", yt, yp);
  auto l2n = [axis](const Tensor& x) {
    return div(x, sqrt(maximum(sum(square(x), {axis}, true), 1e-12)));
  };
  return neg(sum(mul(l2n(t), l2n(yp)), {axis}));
}
Tensor ctc(const Tensor& yt, const Tensor& yp, const Tensor& label_lengths,
           const Tensor& logit_lengths, int64_t blank) {
  ErrorContext ctx("ctc");
  if (!yt.defined() || !yp.defined()) fail<ValueError>("ctc: undefined y_true or y_pred");
  if (yt.dim() != 2)
    fail<ShapeError>("ctc: y_true must be [batch, max_label_length], got ", yt.shape());
  if (yp.dim() != 3)
    fail<ShapeError>("ctc: y_pred must be [batch, time, classes], got ", yp.shape());
  const Tensor labels = is_floating(yt.dtype()) ? yt.to(kInt64) : yt;
  const TensorOptions io{.dtype = kInt64, .device = yp.device()};
  // Absent lengths: every label and every time step counts (Keras' `ctc`).
  const Tensor ll = label_lengths.defined()
                        ? label_lengths
                        : full({yt.shape()[0]}, static_cast<double>(yt.shape()[1]), io);
  const Tensor tl = logit_lengths.defined()
                        ? logit_lengths
                        : full({yp.shape()[0]}, static_cast<double>(yp.shape()[1]), io);
  return ctc_loss(yp, labels, ll, tl, blank);
}
}  // namespace losses

Loss::Loss(const std::string& name) : name_(name) {
  using namespace losses;
  auto f2 = [](Tensor (*f)(const Tensor&, const Tensor&)) { return LossFunction(f); };
  if (name == "mse" || name == "mean_squared_error")
    fn_ = f2(mean_squared_error);
  else if (name == "mae" || name == "mean_absolute_error")
    fn_ = f2(mean_absolute_error);
  else if (name == "mape" || name == "mean_absolute_percentage_error")
    fn_ = f2(mean_absolute_percentage_error);
  else if (name == "msle" || name == "mean_squared_logarithmic_error")
    fn_ = f2(mean_squared_logarithmic_error);
  else if (name == "huber")
    fn_ = [](const Tensor& a, const Tensor& b) { return huber(a, b); };
  else if (name == "log_cosh" || name == "logcosh")
    fn_ = f2(log_cosh);
  else if (name == "binary_crossentropy")
    fn_ = [](const Tensor& a, const Tensor& b) { return binary_crossentropy(a, b); };
  else if (name == "categorical_crossentropy")
    fn_ = [](const Tensor& a, const Tensor& b) { return categorical_crossentropy(a, b); };
  else if (name == "sparse_categorical_crossentropy")
    fn_ = [](const Tensor& a, const Tensor& b) { return sparse_categorical_crossentropy(a, b); };
  else if (name == "kl_divergence" || name == "kld")
    fn_ = f2(kl_divergence);
  else if (name == "poisson")
    fn_ = f2(poisson);
  else if (name == "hinge")
    fn_ = f2(hinge);
  else if (name == "squared_hinge")
    fn_ = f2(squared_hinge);
  else if (name == "categorical_hinge")
    fn_ = f2(categorical_hinge);
  else if (name == "ctc")
    fn_ = [](const Tensor& a, const Tensor& b) { return ctc(a, b); };
  else if (name == "cosine_similarity")
    fn_ = [](const Tensor& a, const Tensor& b) { return cosine_similarity(a, b); };
  else
    fail<ValueError>("Loss: unknown loss '", name, "'");
}

Tensor reduce_loss(const Tensor& per, Reduction r, const Tensor& w, std::string_view name) {
  Tensor l = per;
  if (w.defined()) {
    Tensor wt = w.to(per.dtype());
    // One weight per sample: align with the leading (batch) axis.
    while (wt.dim() > l.dim() && wt.shape().back() == 1) wt = wt.squeeze(-1);
    if (wt.dim() > l.dim() || (wt.dim() > 0 && l.dim() > 0 && wt.shape()[0] != l.shape()[0]))
      fail<ShapeError>(name, ": sample_weight of shape ", w.shape(),
                       " does not match the per-sample loss ", l.shape());
    while (wt.dim() < l.dim()) wt = wt.unsqueeze(-1);
    l = mul(l, wt);
  }
  switch (r) {
    case Reduction::None:
      return l;
    case Reduction::Sum:
      return sum(l);
    case Reduction::SumOverBatchSize:
      return l.numel() ? div(sum(l), static_cast<double>(l.numel())) : sum(l);
  }
  return l;
}

Tensor Loss::operator()(const Tensor& y_true, const Tensor& y_pred,
                        const Tensor& sample_weight) const {
  if (!fn_) fail<ValueError>("Loss: no loss function set");
  ErrorContext ctx(name_.c_str());  // inner ops' errors name this loss
  return reduce_loss(fn_(y_true, y_pred), reduction_, sample_weight, name_);
}

}  // namespace tg::nn
