// Recurrent ops (LSTM, GRU, simple RNN): the input projection for all steps in one matmul,
// then per step one matmul with the recurrent kernel and the gate arithmetic (LSTM and GRU:
// the fused lstm_cell / gru_cell ops, whose backward is a kernel of its own).
#include "autograd/op_registry.hpp"
#include "autograd/ops/op_util.hpp"

namespace tg {

using namespace ops;

namespace {
/// Validates x (N, T, F), kernel (F, G·H), recurrent kernel (H, G·H); returns H.
int64_t check_rnn(std::string_view op, const Tensor& x, const Tensor& k, const Tensor& rk,
                  int64_t gates) {
  check_defined(op, x);
  check_defined(op, k, "kernel");
  check_defined(op, rk, "recurrent_kernel");
  check_floating(op, x);
  if (x.dim() != 3)
    fail<ShapeError>(op, ": expected input (batch, timesteps, features), got ", x.shape());
  if (rk.dim() != 2 || rk.shape()[1] != gates * rk.shape()[0])
    fail<ShapeError>(op, ": recurrent_kernel must be (units, ", gates, "·units), got ", rk.shape());
  const int64_t h = rk.shape()[0];
  if (k.dim() != 2 || k.shape()[0] != x.shape()[2] || k.shape()[1] != gates * h)
    fail<ShapeError>(op, ": kernel must be (", x.shape()[2], ", ", gates * h, ") for input ",
                     x.shape(), ", got ", k.shape());
  return h;
}

Tensor initial_state(std::string_view op, const Tensor& s, const Tensor& x, int64_t h,
                     const char* what) {
  if (!s.defined()) return zeros({x.shape()[0], h}, {.dtype = x.dtype(), .device = x.device()});
  if (s.shape() != Shape{x.shape()[0], h})
    fail<ShapeError>(op, ": initial ", what, " must be (", x.shape()[0], ", ", h, "), got ",
                     s.shape());
  return s;
}

/// Step order and the output assembly shared by the three ops.
struct Steps {
  int64_t n;
  bool backwards;
  int64_t at(int64_t i) const { return backwards ? n - 1 - i : i; }
};

Tensor assemble(const std::vector<Tensor>& hs, const Tensor& last, bool return_sequences) {
  return return_sequences ? stack(hs, 1) : last;
}
}  // namespace

namespace {
/// Validates a (N, G·H) gate tensor against a (N, H) state tensor of the same dtype and device.
void check_cell(std::string_view op, const Tensor& gates_in, const char* gname, const Tensor& state,
                const char* sname, int64_t g) {
  check_defined(op, gates_in, gname);
  check_defined(op, state, sname);
  check_floating(op, gates_in);
  check_same_device(op, gates_in, state);
  if (state.dim() != 2)
    fail<ShapeError>(op, ": ", sname, " must be (batch, units), got ", state.shape());
  const int64_t n = state.shape()[0], h = state.shape()[1];
  if (gates_in.shape() != Shape{n, g * h})
    fail<ShapeError>(op, ": ", gname, " must be (", n, ", ", g * h, ") for ", sname, " ",
                     state.shape(), ", got ", gates_in.shape());
  if (gates_in.dtype() != state.dtype())
    fail<DTypeError>(op, ": ", gname, " is ", gates_in.dtype(), " but ", sname, " is ",
                     state.dtype());
}
}  // namespace

TG_REGISTER_OP("lstm_cell", "lstm_cell", true);
std::vector<Tensor> lstm_cell(const Tensor& z_in, const Tensor& c_in) {
  check_cell("lstm_cell", z_in, "z", c_in, "c_prev", 4);
  const Tensor z = contiguous_raw(z_in), cp = contiguous_raw(c_in);
  const Device dev = z.device();
  Tensor h = Tensor::empty(cp.shape(), cp.dtype(), dev);
  Tensor c = Tensor::empty(cp.shape(), cp.dtype(), dev);
  Tensor gates = Tensor::empty(z.shape(), z.dtype(), dev);
  backend_of(z).lstm_cell(z, cp, h, c, gates);
  if (autograd::needs_grad(z_in, c_in)) {
    const int64_t H = cp.shape()[1];
    autograd::record(
        "lstm_cell", {&z_in, &c_in}, {&h, &c},
        [sz = autograd::SavedTensor(z_in), scp = autograd::SavedTensor(c_in),
         sc = autograd::SavedTensor(c, true, 1), gates, H](std::vector<Tensor>& g) {
          Tensor dh = g[0], dc = g[1];
          if (autograd::grad_enabled()) {
            // create_graph: the same gradient in differentiable ops, with the gates recomputed
            // from z so that they are differentiated too.
            Tensor zs = sz.unpack(), cpv = scp.unpack();
            std::vector<Tensor> s = split(sigmoid(zs), {H, H, H, H}, -1);
            Tensor i = s[0], f = s[1], o = s[3];
            Tensor cc = tanh(zs.slice(-1, 2 * H, 3 * H));
            Tensor tc = tanh(add(mul(f, cpv), mul(i, cc)));
            Tensor dct = add(dc, mul(mul(dh, o), sub(1.0, square(tc))));
            Tensor dz = concat(
                {mul(mul(dct, cc), mul(i, sub(1.0, i))), mul(mul(dct, cpv), mul(f, sub(1.0, f))),
                 mul(mul(dct, i), sub(1.0, square(cc))), mul(mul(dh, tc), mul(o, sub(1.0, o)))},
                -1);
            return std::vector<Tensor>{dz, mul(dct, f)};
          }
          Tensor cpv = contiguous_raw(scp.unpack()), cv = sc.unpack();
          Tensor dz = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
          Tensor dcp = Tensor::empty(cpv.shape(), cpv.dtype(), cpv.device());
          backend_of(gates).lstm_cell_backward(contiguous_raw(cast_raw(dh, gates.dtype())),
                                               contiguous_raw(cast_raw(dc, gates.dtype())), gates,
                                               cpv, cv, dz, dcp);
          return std::vector<Tensor>{dz, dcp};
        });
  }
  return {h, c};
}

TG_REGISTER_OP("gru_cell", "gru_cell", true);
Tensor gru_cell(const Tensor& xz_in, const Tensor& hz_in, const Tensor& h_in) {
  check_cell("gru_cell", xz_in, "xz", h_in, "h_prev", 3);
  check_cell("gru_cell", hz_in, "hz", h_in, "h_prev", 3);
  const Tensor xz = contiguous_raw(xz_in), hz = contiguous_raw(hz_in), hp = contiguous_raw(h_in);
  const Device dev = xz.device();
  Tensor h = Tensor::empty(hp.shape(), hp.dtype(), dev);
  Tensor gates = Tensor::empty(xz.shape(), xz.dtype(), dev);
  backend_of(xz).gru_cell(xz, hz, hp, h, gates);
  if (autograd::needs_grad(xz_in, hz_in, h_in)) {
    const int64_t H = hp.shape()[1];
    autograd::record(
        "gru_cell", {&xz_in, &hz_in, &h_in}, {&h},
        [sx = autograd::SavedTensor(xz_in), su = autograd::SavedTensor(hz_in),
         shp = autograd::SavedTensor(h_in), gates, H](const Tensor& g) {
          if (autograd::grad_enabled()) {
            Tensor xzs = sx.unpack(), hzs = su.unpack(), hpv = shp.unpack();
            std::vector<Tensor> xg = split(xzs, {H, H, H}, -1), hg = split(hzs, {H, H, H}, -1);
            Tensor zg = sigmoid(add(xg[0], hg[0])), r = sigmoid(add(xg[1], hg[1]));
            Tensor hh = tanh(add(xg[2], mul(r, hg[2])));
            Tensor dpz = mul(mul(g, sub(hpv, hh)), mul(zg, sub(1.0, zg)));
            Tensor dph = mul(mul(g, sub(1.0, zg)), sub(1.0, square(hh)));
            Tensor dpr = mul(mul(dph, hg[2]), mul(r, sub(1.0, r)));
            return std::vector<Tensor>{concat({dpz, dpr, dph}, -1),
                                       concat({dpz, dpr, mul(dph, r)}, -1), mul(g, zg)};
          }
          Tensor hzv = contiguous_raw(su.unpack()), hpv = contiguous_raw(shp.unpack());
          Tensor dxz = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
          Tensor dhz = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
          Tensor dhp = Tensor::empty(hpv.shape(), hpv.dtype(), hpv.device());
          backend_of(gates).gru_cell_backward(contiguous_raw(cast_raw(g, gates.dtype())), gates,
                                              hzv, hpv, dxz, dhz, dhp);
          return std::vector<Tensor>{dxz, dhz, dhp};
        });
  }
  return h;
}

TG_REGISTER_OP("lstm", "composite", true);
std::vector<Tensor> lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& k,
                         const Tensor& rk, const Tensor& b, const RnnOptions& o) {
  const int64_t H = check_rnn("lstm", x, k, rk, 4);
  if (b.defined() && b.shape() != Shape{4 * H})
    fail<ShapeError>("lstm: bias must be (", 4 * H, "), got ", b.shape());
  Tensor h = initial_state("lstm", h0, x, H, "h"), c = initial_state("lstm", c0, x, H, "c");
  Tensor xw = matmul(x, k);  // (N, T, 4H): the input projection of every step at once
  if (b.defined()) xw = add(xw, b);
  Steps steps{x.shape()[1], o.go_backwards};
  std::vector<Tensor> xs = unbind(xw, 1);
  std::vector<Tensor> hs;
  for (int64_t i = 0; i < steps.n; ++i) {
    // The recurrent matmul, then the gate arithmetic in one fused kernel each way.
    std::vector<Tensor> hc = lstm_cell(add(xs[steps.at(i)], matmul(h, rk)), c);
    h = hc[0];
    c = hc[1];
    if (o.return_sequences) hs.push_back(h);
  }
  return {assemble(hs, h, o.return_sequences), h, c};
}

TG_REGISTER_OP("gru", "composite", true);
std::vector<Tensor> gru(const Tensor& x, const Tensor& h0, const Tensor& k, const Tensor& rk,
                        const Tensor& b, const RnnOptions& o) {
  const int64_t H = check_rnn("gru", x, k, rk, 3);
  if (b.defined() && b.shape() != Shape{2, 3 * H})
    fail<ShapeError>("gru: bias must be (2, ", 3 * H, "), got ", b.shape());
  Tensor h = initial_state("gru", h0, x, H, "h");
  Tensor xw = matmul(x, k);
  if (b.defined()) xw = add(xw, b.select(0, 0));
  Tensor rb = b.defined() ? b.select(0, 1) : Tensor();
  Steps steps{x.shape()[1], o.go_backwards};
  std::vector<Tensor> xs = unbind(xw, 1);
  std::vector<Tensor> hs;
  for (int64_t i = 0; i < steps.n; ++i) {
    Tensor hu = matmul(h, rk);
    if (rb.defined()) hu = add(hu, rb);
    h = gru_cell(xs[steps.at(i)], hu, h);  // reset after the recurrent matmul, fused gates
    if (o.return_sequences) hs.push_back(h);
  }
  return {assemble(hs, h, o.return_sequences), h};
}

TG_REGISTER_OP("simple_rnn", "composite", true);
std::vector<Tensor> simple_rnn(const Tensor& x, const Tensor& h0, const Tensor& k, const Tensor& rk,
                               const Tensor& b, const RnnOptions& o) {
  const int64_t H = check_rnn("simple_rnn", x, k, rk, 1);
  if (b.defined() && b.shape() != Shape{H})
    fail<ShapeError>("simple_rnn: bias must be (", H, "), got ", b.shape());
  Tensor h = initial_state("simple_rnn", h0, x, H, "h");
  Tensor xw = matmul(x, k);
  if (b.defined()) xw = add(xw, b);
  Steps steps{x.shape()[1], o.go_backwards};
  std::vector<Tensor> xs = unbind(xw, 1);
  std::vector<Tensor> hs;
  for (int64_t i = 0; i < steps.n; ++i) {
    h = tanh(add(xs[steps.at(i)], matmul(h, rk)));
    if (o.return_sequences) hs.push_back(h);
  }
  return {assemble(hs, h, o.return_sequences), h};
}

}  // namespace tg
