// softmax and log_softmax along an axis.
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using autograd::SavedTensor;
using namespace ops;

namespace {
Tensor softmax_op(std::string_view name, const Tensor& x_in, int64_t axis_in, bool log) {
  check_defined(name, x_in);
  const int64_t axis = normalize_axis(name, axis_in, std::max<int64_t>(x_in.dim(), 1));
  Tensor x = is_floating(x_in.dtype()) ? x_in : cast_raw(x_in, kFloat32);
  if (x.dim() == 0) x = view_raw(x, {1}, {1}, x.offset());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernel_backend(log ? "log_softmax" : "softmax", Kernel::Softmax, x).softmax(x, axis, log, y);
  if (x_in.dim() == 0) y = y.reshape({});
  if (autograd::needs_grad(x_in)) {
    SavedTensor sy(y, true);
    autograd::record(name, {&x_in}, {&y}, [sy, axis, log](const Tensor& g) {
      Tensor y = sy.unpack();
      if (y.dim() == 0) return std::vector<Tensor>{log ? sub(g, g) : mul(g, 0.0)};
      if (log)  // g − softmax · Σg
        return std::vector<Tensor>{sub(g, mul(exp(y), sum(g, {axis}, true)))};
      return std::vector<Tensor>{mul(y, sub(g, sum(mul(g, y), {axis}, true)))};  // y (g − Σ g·y)
    });
  }
  return y;
}
}  // namespace

TG_REGISTER_OP("softmax", "softmax", true);
Tensor softmax(const Tensor& x, int64_t axis) { return softmax_op("softmax", x, axis, false); }
TG_REGISTER_OP("log_softmax", "softmax", true);
Tensor log_softmax(const Tensor& x, int64_t axis) {
  return softmax_op("log_softmax", x, axis, true);
}

}  // namespace tg
