// Batch and layer normalization (composites of differentiable ops), and embedding lookup.
#include "autograd/op_registry.hpp"
#include "autograd/ops/op_util.hpp"

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

TG_REGISTER_OP("batch_norm", "composite", true);
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps, int64_t axis_in) {
  check_defined("batch_norm", x);
  check_floating("batch_norm", x);
  const int64_t axis = normalize_axis("batch_norm", axis_in, x.dim());
  const int64_t c = x.shape()[axis];
  auto check_vec = [&](const Tensor& v, const char* what) {
    if (v.defined() && v.shape() != Shape{c})
      fail<ShapeError>("batch_norm: ", what, " has shape ", v.shape(), ", expected [", c, "] for input ", x.shape(),
                       " along axis ", axis);
  };
  check_vec(gamma, "gamma");
  check_vec(beta, "beta");
  check_vec(running_mean, "moving_mean");
  check_vec(running_var, "moving_variance");
  Axes axes;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != axis) axes.push_back(d);
  Tensor mu, var;
  if (training) {
    mu = mean(x, axes, true);
    var = mean(square(sub(x, mu)), axes, true);  // biased, as Keras
    if (running_mean.defined() && running_var.defined()) {
      NoGrad ng;
      Tensor rm = running_mean, rv = running_var;
      rm.copy_(add(mul(rm, momentum), mul(mu.detach().reshape({c}), 1.0 - momentum)));
      rv.copy_(add(mul(rv, momentum), mul(var.detach().reshape({c}), 1.0 - momentum)));
    }
  } else {
    if (!running_mean.defined() || !running_var.defined())
      fail<ValueError>("batch_norm: inference needs the moving mean and variance");
    mu = along(running_mean, axis, x.dim());
    var = along(running_var, axis, x.dim());
  }
  Tensor y = mul(sub(x, mu), rsqrt(add(var, eps)));
  if (gamma.defined()) y = mul(y, along(gamma, axis, x.dim()));
  if (beta.defined()) y = add(y, along(beta, axis, x.dim()));
  return y;
}

TG_REGISTER_OP("layer_norm", "composite", true);
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Axes& axes_in, double eps) {
  check_defined("layer_norm", x);
  check_floating("layer_norm", x);
  Axes axes = normalize_axes("layer_norm", axes_in, x.dim());
  Shape ps;  // shape of gamma/beta: the normalized axes
  for (int64_t a : axes) ps.push_back(x.shape()[a]);
  Shape bs(static_cast<size_t>(x.dim()), 1);
  for (int64_t a : axes) bs[a] = x.shape()[a];
  auto check_vec = [&](const Tensor& v, const char* what) {
    if (v.defined() && v.shape() != ps)
      fail<ShapeError>("layer_norm: ", what, " has shape ", v.shape(), ", expected ", ps, " for input ", x.shape());
  };
  check_vec(gamma, "gamma");
  check_vec(beta, "beta");
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
  check_defined("embedding", indices, "indices");
  check_defined("embedding", table, "table");
  if (table.dim() != 2) fail<ShapeError>("embedding: table must be (vocabulary, dim), got ", table.shape());
  if (is_floating(indices.dtype()) || indices.dtype() == kBool)
    fail<DTypeError>("embedding: indices must be integers, got ", indices.dtype());
  Shape out = indices.shape();
  out.push_back(table.shape()[1]);
  return index_select(table, 0, indices.reshape({-1}).to(kInt64)).reshape(out);
}

}  // namespace tg
