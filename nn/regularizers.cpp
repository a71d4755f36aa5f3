// l1, l2 and l1_l2 penalties.
#include "nn/regularizers.hpp"

#include "autograd/ops.hpp"

namespace tg::nn::regularizers {

Regularizer l1_l2(double a, double b) {
  Regularizer r;
  r.l1 = a;
  r.l2 = b;
  r.name = a && b ? "l1_l2" : (a ? "l1" : "l2");
  r.fn = [a, b](const Tensor& w) {
    Tensor p;
    if (a) p = mul(sum(abs(w)), a);
    if (b) {
      Tensor q = mul(sum(square(w)), b);
      p = p.defined() ? add(p, q) : q;
    }
    return p.defined() ? p : zeros({}, {.dtype = w.dtype(), .device = w.device()});
  };
  return r;
}
Regularizer l1(double a) { return l1_l2(a, 0.0); }
Regularizer l2(double b) { return l1_l2(0.0, b); }

}  // namespace tg::nn::regularizers
