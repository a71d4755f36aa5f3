// Elementwise functions of two tensors (broadcasting, dtype promotion), comparisons, where,
// the C++ operators and the in-place forms.
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

namespace tg {

using autograd::SavedTensor;
using namespace ops;

namespace {
/// Result dtype of an arithmetic op.
DType arith_dtype(BinaryOp op, const Tensor& a, const Tensor& b) {
  DType t = promote_types(a.dtype(), b.dtype());
  if (op == BinaryOp::Div || op == BinaryOp::Pow) {
    if (!is_floating(t)) t = kFloat32;
  } else if (t == kBool && op != BinaryOp::Maximum && op != BinaryOp::Minimum) {
    t = kInt64;
  }
  return t;
}

/// Runs an arithmetic op and records formula(g, a, b, y) -> {da, db} when needed; the
/// gradients are summed back to the operand shapes. S says what to save: 1 a, 2 b, 4 y.
template <int S, class F>
Tensor binary_op(std::string_view name, BinaryOp op, const Tensor& a, const Tensor& b, F formula) {
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  const DType dt = arith_dtype(op, a, b);
  Tensor y = binary_kernel(name, op, a, b, dt, dt);
  if (autograd::needs_grad(a, b)) {
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    // Keep only what the needed gradients use.
    SavedTensor sa = (S & 1) && gb ? SavedTensor(a) : SavedTensor();
    SavedTensor sb = (S & 2) && ga ? SavedTensor(b) : SavedTensor();
    if constexpr ((S & 1) && (S & 8)) sa = SavedTensor(a);  // formula needs a for da too
    if constexpr ((S & 2) && (S & 8)) sb = SavedTensor(b);
    SavedTensor sy = (S & 4) ? SavedTensor(y, true) : SavedTensor();
    autograd::record(
        name, {&a, &b}, {&y},
        [sa, sb, sy, formula, shape_a = a.shape(), shape_b = b.shape()](const Tensor& g) {
          auto [da, db] = formula(g, sa.unpack(), sb.unpack(), sy.unpack());
          return std::vector<Tensor>{da.defined() ? sum_to(da, shape_a) : da,
                                     db.defined() ? sum_to(db, shape_b) : db};
        });
  }
  return y;
}

using Pair = std::pair<Tensor, Tensor>;
bool need(size_t i) { return autograd::needs_input_grad(i); }

Tensor compare(std::string_view name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  return binary_kernel(name, op, a, b, promote_types(a.dtype(), b.dtype()), kBool);
}
}  // namespace

TG_REGISTER_OP("add", "binary", true);
Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op<0>("add", BinaryOp::Add, a, b,
                      [](const Tensor& g, const auto&, const auto&, const auto&) {
                        return Pair{g, g};
                      });
}
TG_REGISTER_OP("sub", "binary", true);
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op<0>("sub", BinaryOp::Sub, a, b,
                      [](const Tensor& g, const auto&, const auto&, const auto&) {
                        return Pair{g, need(1) ? neg(g) : Tensor()};
                      });
}
TG_REGISTER_OP("mul", "binary", true);
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op<3>("mul", BinaryOp::Mul, a, b,
                      [](const Tensor& g, const auto& a, const auto& b, const auto&) {
                        return Pair{need(0) ? mul(g, b) : Tensor(), need(1) ? mul(g, a) : Tensor()};
                      });
}
TG_REGISTER_OP("div", "binary", true);
Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op<3 | 8>(
      "div", BinaryOp::Div, a, b, [](const Tensor& g, const auto& a, const auto& b, const auto&) {
        Tensor ga = div(g, b);
        return Pair{need(0) ? ga : Tensor(), need(1) ? neg(div(mul(ga, a), b)) : Tensor()};
      });
}
TG_REGISTER_OP("pow", "binary", true);
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary_op<3 | 4 | 8>("pow", BinaryOp::Pow, a, b,
                              [](const Tensor& g, const auto& a, const auto& b, const auto& y) {
                                Tensor da, db;
                                if (need(0)) da = mul(g, mul(b, pow(a, sub(b, 1.0))));
                                if (need(1)) db = mul(g, mul(y, log(a)));
                                return Pair{da, db};
                              });
}
TG_REGISTER_OP("maximum", "binary", true);
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary_op<3 | 8>(
      "maximum", BinaryOp::Maximum, a, b,
      [](const Tensor& g, const auto& a, const auto& b, const auto&) {
        Tensor m = mask_as(ge(a.detach(), b.detach()), g.dtype());  // ties go to a
        return Pair{need(0) ? mul(g, m) : Tensor(), need(1) ? mul(g, sub(1.0, m)) : Tensor()};
      });
}
TG_REGISTER_OP("minimum", "binary", true);
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary_op<3 | 8>(
      "minimum", BinaryOp::Minimum, a, b,
      [](const Tensor& g, const auto& a, const auto& b, const auto&) {
        Tensor m = mask_as(le(a.detach(), b.detach()), g.dtype());
        return Pair{need(0) ? mul(g, m) : Tensor(), need(1) ? mul(g, sub(1.0, m)) : Tensor()};
      });
}

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor maximum(const Tensor& a, double b) { return maximum(a, scalar_like(a, b)); }
Tensor minimum(const Tensor& a, double b) { return minimum(a, scalar_like(a, b)); }

TG_REGISTER_OP("eq", "binary", false);
Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", BinaryOp::Eq, a, b); }
TG_REGISTER_OP("ne", "binary", false);
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", BinaryOp::Ne, a, b); }
TG_REGISTER_OP("lt", "binary", false);
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", BinaryOp::Lt, a, b); }
TG_REGISTER_OP("le", "binary", false);
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", BinaryOp::Le, a, b); }
TG_REGISTER_OP("gt", "binary", false);
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", BinaryOp::Gt, a, b); }
TG_REGISTER_OP("ge", "binary", false);
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", BinaryOp::Ge, a, b); }
Tensor eq(const Tensor& a, double b) { return eq(a, scalar_like(a, b)); }
Tensor ne(const Tensor& a, double b) { return ne(a, scalar_like(a, b)); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_like(a, b)); }
Tensor le(const Tensor& a, double b) { return le(a, scalar_like(a, b)); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_like(a, b)); }
Tensor ge(const Tensor& a, double b) { return ge(a, scalar_like(a, b)); }
TG_REGISTER_OP("logical_and", "binary", false);
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return compare("logical_and", BinaryOp::LogicalAnd, a, b);
}
TG_REGISTER_OP("logical_or", "binary", false);
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return compare("logical_or", BinaryOp::LogicalOr, a, b);
}

TG_REGISTER_OP("where", "where", true);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined("where", cond, "condition");
  check_defined("where", a, "first operand");
  check_defined("where", b, "second operand");
  check_same_device("where", cond, a);
  check_same_device("where", a, b);
  if (cond.dtype() != kBool) fail<DTypeError>("where: condition must be bool, got ", cond.dtype());
  Shape s =
      broadcast_shapes("where", broadcast_shapes("where", cond.shape(), a.shape()), b.shape());
  const DType dt = promote_types(a.dtype(), b.dtype());
  Tensor y = Tensor::empty(s, dt, a.device());
  kernel_backend("where", Kernel::Where, a, dt).where(expand_raw(cond, s), expand_raw(cast_raw(a, dt), s),
                      expand_raw(cast_raw(b, dt), s), y);
  if (autograd::needs_grad(a, b)) {
    autograd::record("where", {&a, &b}, {&y},
                     [c = cond.detach(), sa = a.shape(), sb = b.shape()](const Tensor& g) {
                       Tensor z = zeros(Shape{}, {.dtype = g.dtype(), .device = g.device()});
                       return std::vector<Tensor>{need(0) ? sum_to(where(c, g, z), sa) : Tensor(),
                                                  need(1) ? sum_to(where(c, z, g), sb) : Tensor()};
                     });
  }
  return y;
}

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }
Tensor sub(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }

// ---- in-place forms ----
namespace {
/// Applies y = f(self, other) into self. With grad recording, the out-of-place result is
/// computed on the tape and self takes over its history (self must not be a leaf that
/// requires grad, nor a view).
template <class F>
Tensor& inplace(Tensor& self, const Tensor& other, std::string_view name, BinaryOp op, F f) {
  check_defined(name, self, "target");
  check_defined(name, other, "operand");
  Shape s = broadcast_shapes(name, self.shape(), other.shape());
  if (s != self.shape())
    fail<ShapeError>(name, ": operand of shape ", other.shape(),
                     " does not broadcast to the target's shape ", self.shape());
  if (autograd::needs_grad(self, other)) {
    if (self.is_leaf() && self.requires_grad())
      fail<ValueError>(name, ": in-place operation on a leaf tensor that requires grad ",
                       self.shape(), "; wrap it in NoGrad");
    // A view's base would not see the new history (nor would a constant base gain one).
    if (self.impl()->is_view)
      fail<ValueError>(name, ": in-place operation with grad recording on a view ", self.shape(),
                       " (its base would not see the new history); apply it out of place or "
                       "clone() first");
    // mul and div save their first operand for backward, and self is overwritten below:
    // they get a copy (add and sub save nothing).
    const bool saves_self = op == BinaryOp::Mul || op == BinaryOp::Div;
    Tensor a = saves_self ? self.clone() : self;
    Tensor y = f(a, other.is_same(self) ? a : other);
    if (y.dtype() != self.dtype())
      fail<DTypeError>(name, ": result dtype ", y.dtype(), " cannot be stored in ", self.dtype());
    backend_of(self).copy(y, self);
    self.storage()->bump_version();
    TensorImpl* impl = self.impl();
    impl->requires_grad = true;
    impl->grad_fn = y.grad_fn();
    impl->output_nr = y.impl()->output_nr;
    return self;
  }
  check_same_device(name, self, other);
  autograd::note_dispatch(op);
  kernel_backend(binary_op_name(op), Kernel::Binary, self).binary(op, self, expand_raw(cast_raw(other, self.dtype()), s), self);
  self.storage()->bump_version();
  return self;
}
}  // namespace

Tensor& Tensor::add_(const Tensor& o) {
  return inplace(*this, o, "add_", BinaryOp::Add,
                 [](const auto& a, const auto& b) { return add(a, b); });
}
Tensor& Tensor::sub_(const Tensor& o) {
  return inplace(*this, o, "sub_", BinaryOp::Sub,
                 [](const auto& a, const auto& b) { return sub(a, b); });
}
Tensor& Tensor::mul_(const Tensor& o) {
  return inplace(*this, o, "mul_", BinaryOp::Mul,
                 [](const auto& a, const auto& b) { return mul(a, b); });
}
Tensor& Tensor::div_(const Tensor& o) {
  if (!is_floating(dtype())) fail<DTypeError>("div_: true division cannot be stored in ", dtype());
  return inplace(*this, o, "div_", BinaryOp::Div,
                 [](const auto& a, const auto& b) { return div(a, b); });
}
Tensor& Tensor::add_(double v) { return add_(scalar_like(*this, v)); }
Tensor& Tensor::mul_(double v) { return mul_(scalar_like(*this, v)); }

}  // namespace tg
