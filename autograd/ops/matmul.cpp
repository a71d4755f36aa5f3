// Matrix product with NumPy semantics (1-D promotion, broadcast batch axes).
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using autograd::SavedTensor;
using namespace ops;

namespace {
/// The batched product of two operands of rank ≥ 2 (the recorded op).
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  const int64_t ra = a.dim(), rb = b.dim();
  const int64_t K = a.shape()[ra - 1];
  if (b.shape()[rb - 2] != K)
    fail<ShapeError>("matmul: inner dimensions differ: ", a.shape(), " @ ", b.shape(), " (", K,
                     " != ", b.shape()[rb - 2], ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes("matmul", ba, bb);
  Shape out_shape = batch, sa = batch, sb = batch;
  out_shape.push_back(a.shape()[ra - 2]);
  out_shape.push_back(b.shape()[rb - 1]);
  sa.push_back(a.shape()[ra - 2]);
  sa.push_back(K);
  sb.push_back(K);
  sb.push_back(b.shape()[rb - 1]);
  const DType dt = promote_types(a.dtype(), b.dtype());
  Tensor y = Tensor::empty(out_shape, dt, a.device(), "matmul");
  kernel_backend("matmul", Kernel::Matmul, a, dt).matmul(expand_raw(cast_raw(a, dt), sa), expand_raw(cast_raw(b, dt), sb), y);
  if (autograd::needs_grad(a, b)) {
    SavedTensor s_a = b.requires_grad() ? SavedTensor(a) : SavedTensor();
    SavedTensor s_b = a.requires_grad() ? SavedTensor(b) : SavedTensor();
    autograd::record("matmul", {&a, &b}, {&y},
                     [s_a, s_b, shape_a = a.shape(), shape_b = b.shape()](const Tensor& g) {
                       Tensor da, db;
                       if (autograd::needs_input_grad(0))
                         da = sum_to(matmul(g, s_b.unpack().transpose(-1, -2)), shape_a);
                       if (autograd::needs_input_grad(1))
                         db = sum_to(matmul(s_a.unpack().transpose(-1, -2), g), shape_b);
                       return std::vector<Tensor>{da, db};
                     });
  }
  return y;
}
}  // namespace

TG_REGISTER_OP("matmul", "matmul", true);
Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a, "first operand");
  check_defined("matmul", b, "second operand");
  check_same_device("matmul", a, b);
  if (a.dim() == 0 || b.dim() == 0)
    fail<ShapeError>("matmul: operands must have at least one axis, got ", a.shape(), " @ ",
                     b.shape());
  if (a.dtype() == kBool || b.dtype() == kBool)
    fail<DTypeError>("matmul: bool operands are not supported");
  if (a.dim() == 1 && b.dim() == 1) {
    if (a.shape()[0] != b.shape()[0])
      fail<ShapeError>("matmul: inner dimensions differ: ", a.shape(), " @ ", b.shape(), " (",
                       a.shape()[0], " != ", b.shape()[0], ")");
    return matmul_nd(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  }
  if (a.dim() == 1) {
    if (a.shape()[0] != b.shape()[b.dim() - 2])
      fail<ShapeError>("matmul: inner dimensions differ: ", a.shape(), " @ ", b.shape(), " (",
                       a.shape()[0], " != ", b.shape()[b.dim() - 2], ")");
    return matmul_nd(a.unsqueeze(0), b).squeeze(-2);
  }
  if (b.dim() == 1) {
    if (b.shape()[0] != a.shape()[a.dim() - 1])
      fail<ShapeError>("matmul: inner dimensions differ: ", a.shape(), " @ ", b.shape(), " (",
                       a.shape()[a.dim() - 1], " != ", b.shape()[0], ")");
    return matmul_nd(a, b.unsqueeze(1)).squeeze(-1);
  }
  return matmul_nd(a, b);
}

}  // namespace tg
