// Batch and layer normalization (composites of differentiable ops), and embedding lookup.
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using namespace ops;

namespace {
/// Reshapes a per-channel vector so it broadcasts against x along axis.
Tensor along(const Tensor& v, int64_t axis, int64_t rank) {
  Shape s(static_cast<size_t>(rank), 1);
  s[axis] = v.numel();
  return v.reshape(s);
}
}  // namespace

namespace {
/// Training-mode batch normalization of contiguous rows (M, C) through the backend kernel, with
/// the batch mean and biased variance written to mean_out / var_out.
Tensor batch_norm_rows(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                       Tensor& mean_out, Tensor& var_out) {
  const int64_t c = x.shape()[1];
  mean_out = Tensor::empty({c}, x.dtype(), x.device());
  var_out = Tensor::empty({c}, x.dtype(), x.device());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernel_backend("batch_norm", Kernel::BatchNorm, x).batch_norm(x, gamma, beta, mean_out, var_out, eps, true, y);
  if (autograd::needs_grad(x, gamma, beta)) {
    autograd::record(
        "batch_norm", {&x, &gamma, &beta}, {&y},
        [sx = autograd::SavedTensor(x), sg = autograd::SavedTensor(gamma),
         sb = autograd::SavedTensor(beta), bmean = mean_out, bvar = var_out, eps](const Tensor& g) {
          Tensor xs = sx.unpack(), gm = sg.unpack();
          if (autograd::grad_enabled()) {
            // create_graph: the closed-form gradient in differentiable ops, with
            // the statistics recomputed from x so that they are differentiated too.
            const double m = static_cast<double>(xs.shape()[0]);
            Tensor mu = mean(xs, {0}, true);
            Tensor rstd = rsqrt(add(mean(square(sub(xs, mu)), {0}, true), eps));
            Tensor xhat = mul(sub(xs, mu), rstd);
            Tensor sum_g = sum(g, {0}, true), sum_gx = sum(mul(g, xhat), {0}, true);
            Tensor gx = mul(mul(gm, div(rstd, m)), sub(sub(mul(g, m), sum_g), mul(xhat, sum_gx)));
            return std::vector<Tensor>{gx, sum_gx.reshape({-1}), sum_g.reshape({-1})};
          }
          Tensor gx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
          Tensor gg = Tensor::empty(gm.shape(), gm.dtype(), gm.device());
          Tensor gb = Tensor::empty(gm.shape(), gm.dtype(), gm.device());
          kernel_backend("batch_norm", Kernel::BatchNormBackward, xs).batch_norm_backward(xs, contiguous_raw(g), gm, bmean, bvar, eps, gx, gg,
                                             gb);
          return std::vector<Tensor>{gx, gg, gb};
        });
  }
  return y;
}
}  // namespace

TG_REGISTER_OP("batch_norm", "batch_norm", true);
Tensor batch_norm(const Tensor& x, const Tensor& gamma_in, const Tensor& beta_in,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps, int64_t axis_in) {
  check_defined("batch_norm", x);
  check_floating("batch_norm", x);
  const int64_t axis = normalize_axis("batch_norm", axis_in, x.dim());
  const int64_t c = x.shape()[axis];
  auto check_vec = [&](const Tensor& v, const char* what) {
    if (v.defined() && v.shape() != Shape{c})
      fail<ShapeError>("batch_norm: ", what, " has shape ", v.shape(), ", expected [", c,
                       "] for input ", x.shape(), " along axis ", axis);
    if (v.defined()) check_same_device("batch_norm", x, v);
  };
  check_vec(gamma_in, "gamma");
  check_vec(beta_in, "beta");
  check_vec(running_mean, "moving_mean");
  check_vec(running_var, "moving_variance");
  if (!training) {
    if (!running_mean.defined() || !running_var.defined())
      fail<ValueError>("batch_norm: inference needs the moving mean and variance");
    // Inference: a per-channel affine map of x, differentiable through ordinary ops.
    Shape s(static_cast<size_t>(x.dim()), 1);
    s[axis] = c;
    Tensor y = mul(sub(x, running_mean.reshape(s)), rsqrt(add(running_var.reshape(s), eps)));
    if (gamma_in.defined()) y = mul(y, gamma_in.reshape(s));
    if (beta_in.defined()) y = add(y, beta_in.reshape(s));
    return y;
  }
  // Training: channels last, rows (M, C), through the kernel.
  const TensorOptions o{.dtype = x.dtype(), .device = x.device()};
  Tensor gamma = gamma_in.defined() ? gamma_in.to(x.dtype()) : ones({c}, o);
  Tensor beta = beta_in.defined() ? beta_in.to(x.dtype()) : zeros({c}, o);
  Axes order;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != axis) order.push_back(d);
  order.push_back(axis);
  Tensor xl = axis == x.dim() - 1 ? x : x.permute(order);
  Shape ls = xl.shape();
  Tensor rows = xl.contiguous().reshape({-1, c});
  Tensor mean_b, var_b;
  Tensor y = batch_norm_rows(rows, gamma, beta, eps, mean_b, var_b).reshape(ls);
  if (axis != x.dim() - 1) {
    Axes inverse(order.size());
    for (size_t i = 0; i < order.size(); ++i) inverse[order[i]] = static_cast<int64_t>(i);
    y = y.permute(inverse);
  }
  if (running_mean.defined() && running_var.defined()) {
    NoGrad ng;
    Tensor rm = running_mean, rv = running_var;
    rm.copy_(add(mul(rm, momentum), mul(mean_b, 1.0 - momentum)));
    rv.copy_(add(mul(rv, momentum), mul(var_b, 1.0 - momentum)));
  }
  return y;
}

TG_REGISTER_OP("layer_norm", "composite", true);
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Axes& axes_in,
                  double eps) {
  ErrorContext ctx("layer_norm");
  check_defined("layer_norm", x);
  check_floating("layer_norm", x);
  Axes axes = normalize_axes("layer_norm", axes_in, x.dim());
  Shape ps;  // shape of gamma/beta: the normalized axes
  for (int64_t a : axes) ps.push_back(x.shape()[a]);
  Shape bs(static_cast<size_t>(x.dim()), 1);
  for (int64_t a : axes) bs[a] = x.shape()[a];
  auto check_vec = [&](const Tensor& v, const char* what) {
    if (v.defined() && v.shape() != ps)
      fail<ShapeError>("layer_norm: ", what, " has shape ", v.shape(), ", expected ", ps,
                       " for input ", x.shape());
  };
  check_vec(gamma, "gamma");
  check_vec(beta, "beta");
  check_same_device("layer_norm", {&x, &gamma, &beta});
  Tensor mu = mean(x, axes, true);
  Tensor centered = sub(x, mu);
  Tensor var = mean(square(centered), axes, true);
  Tensor y = mul(centered, rsqrt(add(var, eps)));
  if (gamma.defined()) y = mul(y, gamma.reshape(bs));
  if (beta.defined()) y = add(y, beta.reshape(bs));
  return y;
}

TG_REGISTER_OP("embedding", "gather", true);
Tensor embedding(const Tensor& indices, const Tensor& table) {
  ErrorContext ctx("embedding");
  check_defined("embedding", indices, "indices");
  check_defined("embedding", table, "table");
  check_same_device("embedding", table, indices);
  if (table.dim() != 2)
    fail<ShapeError>("embedding: table must be (vocabulary, dim), got ", table.shape());
  if (is_floating(indices.dtype()) || indices.dtype() == kBool)
    fail<DTypeError>("embedding: indices must be integers, got ", indices.dtype());
  Shape out = indices.shape();
  out.push_back(table.shape()[1]);
  return index_select(table, 0, indices.reshape({-1}).to(kInt64)).reshape(out);
}

}  // namespace tg
