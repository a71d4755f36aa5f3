// Recurrent ops (LSTM, GRU, simple RNN). LSTM and GRU first ask the backend for a whole-sequence
// kernel (Backend::rnn_forward: oneDNN's RNN primitives for float32 on the CPU), recorded as one
// node; otherwise, and for the simple RNN, the input projection of all steps is one matmul,
// then per step one matmul with the recurrent kernel and the gate arithmetic (the fused
// lstm_cell / gru_cell ops, whose backward is a kernel of its own).
#include <optional>

#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops/op_util.hpp"

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

/// Checks a given initial state s (undefined: none given) against (batch, units).
void check_state(std::string_view op, const Tensor& s, const Tensor& x, int64_t h,
                 const char* what) {
  if (s.defined() && s.shape() != Shape{x.shape()[0], h})
    fail<ShapeError>(op, ": initial ", what, " must be (", x.shape()[0], ", ", h, "), got ",
                     s.shape());
  if (s.defined() && s.dtype() != x.dtype())
    fail<DTypeError>(op, ": initial ", what, " is ", s.dtype(), " but the input is ", x.dtype());
}

/// The checked initial state s, or zeros when none was given.
Tensor initial_state(std::string_view op, const Tensor& s, const Tensor& x, int64_t h,
                     const char* what) {
  check_state(op, s, x, h, what);
  return s.defined() ? s : zeros({x.shape()[0], h}, {.dtype = x.dtype(), .device = x.device()});
}

/// Step order and the output assembly shared by the three ops.
struct Steps {
  int64_t n;
  bool backwards;
  int64_t at(int64_t i) const { return backwards ? n - 1 - i : i; }
};

Tensor assemble(const std::vector<Tensor>& hs, const Tensor& last, bool return_sequences) {
  if (return_sequences && hs.empty())  // zero time steps: an empty sequence of outputs
    return zeros({last.shape()[0], 0, last.shape()[1]},
                 {.dtype = last.dtype(), .device = last.device()});
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

namespace {
/// lstm_cell's gradient {grad_z, grad_c_prev} in differentiable ops (for create_graph), the gates
/// recomputed from z so that they are differentiated too.
std::vector<Tensor> lstm_cell_grad_graph(const Tensor& z, const Tensor& c_prev, const Tensor& dh,
                                         const Tensor& dc, int64_t H) {
  std::vector<Tensor> s = split(sigmoid(z), {H, H, H, H}, -1);
  Tensor i = s[0], f = s[1], o = s[3];
  Tensor cc = tanh(z.slice(-1, 2 * H, 3 * H));
  Tensor tc = tanh(add(mul(f, c_prev), mul(i, cc)));
  Tensor dct = add(dc, mul(mul(dh, o), sub(1.0, square(tc))));
  Tensor dz =
      concat({mul(mul(dct, cc), mul(i, sub(1.0, i))), mul(mul(dct, c_prev), mul(f, sub(1.0, f))),
              mul(mul(dct, i), sub(1.0, square(cc))), mul(mul(dh, tc), mul(o, sub(1.0, o)))},
             -1);
  return {dz, mul(dct, f)};
}

/// gru_cell's gradient {grad_xz, grad_hz, grad_h_prev (direct term)} in differentiable ops.
std::vector<Tensor> gru_cell_grad_graph(const Tensor& xz, const Tensor& hz, const Tensor& h_prev,
                                        const Tensor& g, int64_t H) {
  std::vector<Tensor> xg = split(xz, {H, H, H}, -1), hg = split(hz, {H, H, H}, -1);
  Tensor zg = sigmoid(add(xg[0], hg[0])), r = sigmoid(add(xg[1], hg[1]));
  Tensor hh = tanh(add(xg[2], mul(r, hg[2])));
  Tensor dpz = mul(mul(g, sub(h_prev, hh)), mul(zg, sub(1.0, zg)));
  Tensor dph = mul(mul(g, sub(1.0, zg)), sub(1.0, square(hh)));
  Tensor dpr = mul(mul(dph, hg[2]), mul(r, sub(1.0, r)));
  return {concat({dpz, dpr, dph}, -1), concat({dpz, dpr, mul(dph, r)}, -1), mul(g, zg)};
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
  kernel_backend("lstm_cell", Kernel::LstmCell, z).lstm_cell(z, cp, h, c, gates);
  if (autograd::needs_grad(z_in, c_in)) {
    const int64_t H = cp.shape()[1];
    autograd::record("lstm_cell", {&z_in, &c_in}, {&h, &c},
                     [sz = autograd::SavedTensor(z_in), scp = autograd::SavedTensor(c_in),
                      sc = autograd::SavedTensor(c, true, 1), gates, H](std::vector<Tensor>& g) {
                       Tensor dh = g[0], dc = g[1];
                       if (autograd::grad_enabled())  // create_graph
                         return lstm_cell_grad_graph(sz.unpack(), scp.unpack(), dh, dc, H);
                       Tensor cpv = contiguous_raw(scp.unpack()), cv = sc.unpack();
                       Tensor dz = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
                       Tensor dcp = Tensor::empty(cpv.shape(), cpv.dtype(), cpv.device());
                       kernel_backend("lstm_cell", Kernel::LstmCellBackward, gates).lstm_cell_backward(
                           contiguous_raw(cast_raw(dh, gates.dtype())),
                           contiguous_raw(cast_raw(dc, gates.dtype())), gates, cpv, cv, dz, dcp);
                       return std::vector<Tensor>{dz, dcp};
                     });
  }
  return {h, c};
}

TG_REGISTER_OP("gru_cell", "gru_cell", true);
Tensor gru_cell(const Tensor& xz_in, const Tensor& hz_in, const Tensor& h_in) {
  check_same_device("gru_cell", {&xz_in, &hz_in, &h_in});
  check_cell("gru_cell", xz_in, "xz", h_in, "h_prev", 3);
  check_cell("gru_cell", hz_in, "hz", h_in, "h_prev", 3);
  const Tensor xz = contiguous_raw(xz_in), hz = contiguous_raw(hz_in), hp = contiguous_raw(h_in);
  const Device dev = xz.device();
  Tensor h = Tensor::empty(hp.shape(), hp.dtype(), dev);
  Tensor gates = Tensor::empty(xz.shape(), xz.dtype(), dev);
  kernel_backend("gru_cell", Kernel::GruCell, xz).gru_cell(xz, hz, hp, h, gates);
  if (autograd::needs_grad(xz_in, hz_in, h_in)) {
    const int64_t H = hp.shape()[1];
    autograd::record("gru_cell", {&xz_in, &hz_in, &h_in}, {&h},
                     [sx = autograd::SavedTensor(xz_in), su = autograd::SavedTensor(hz_in),
                      shp = autograd::SavedTensor(h_in), gates, H](const Tensor& g) {
                       if (autograd::grad_enabled())  // create_graph
                         return gru_cell_grad_graph(sx.unpack(), su.unpack(), shp.unpack(), g, H);
                       Tensor hzv = contiguous_raw(su.unpack()), hpv = contiguous_raw(shp.unpack());
                       Tensor dxz = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
                       Tensor dhz = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
                       Tensor dhp = Tensor::empty(hpv.shape(), hpv.dtype(), hpv.device());
                       kernel_backend("gru_cell", Kernel::GruCellBackward, gates).gru_cell_backward(
                           contiguous_raw(cast_raw(g, gates.dtype())), gates, hzv, hpv, dxz, dhz,
                           dhp);
                       return std::vector<Tensor>{dxz, dhz, dhp};
                     });
  }
  return h;
}

namespace {
/// One recurrent sequence as the ops see it: the user's tensors (h0, c0, bias may be undefined).
struct Sequence {
  RnnCell cell;
  Tensor x, h0, c0, k, rk, b;
  RnnOptions o;
  int64_t H;
  bool lstm() const { return cell == RnnCell::Lstm; }
};

/// The backend's operands for s: contiguous, zeros where the user gave none.
RnnOperands operands(const Sequence& s) {
  const int64_t N = s.x.shape()[0], G = s.lstm() ? 4 : 3;
  const TensorOptions opt{.dtype = s.x.dtype(), .device = s.x.device()};
  auto or_zeros = [&](const Tensor& t, const Shape& shape) {
    return t.defined() ? contiguous_raw(t) : zeros(shape, opt);
  };
  return {contiguous_raw(s.x),
          or_zeros(s.h0, {N, s.H}),
          s.lstm() ? or_zeros(s.c0, {N, s.H}) : Tensor(),
          contiguous_raw(s.k),
          contiguous_raw(s.rk),
          or_zeros(s.b, s.lstm() ? Shape{G * s.H} : Shape{2, G * s.H})};
}

/// What the step-by-step form saw at each step (in processing order), for the replay below.
struct StepTrace {
  std::vector<Tensor> pre;    // the cell's input: LSTM z without the recurrent part; GRU xz
  std::vector<Tensor> hz;     // GRU: the recurrent projection h·U + rb
  std::vector<Tensor> hprev;  // the state before the step
  std::vector<Tensor> cprev;  // LSTM: the cell state before the step
};

/// The step-by-step form of s: the input projection of all steps in one matmul, then per step
/// the recurrent matmul and the fused lstm_cell / gru_cell op, all recorded on the tape.
/// Returns {output, h_T} and, for the LSTM, c_T; fills trace when given.
std::vector<Tensor> run_steps(const Sequence& s, StepTrace* trace) {
  const int64_t N = s.x.shape()[0], T = s.x.shape()[1];
  const TensorOptions opt{.dtype = s.x.dtype(), .device = s.x.device()};
  Tensor h = s.h0.defined() ? s.h0 : zeros({N, s.H}, opt);
  Tensor c = s.c0.defined() ? s.c0 : zeros({N, s.H}, opt);
  Tensor xw = matmul(s.x, s.k);  // (N, T, G·H): the input projection of every step at once
  if (s.b.defined()) xw = add(xw, s.lstm() ? s.b : s.b.select(0, 0));
  Tensor rb = s.b.defined() && !s.lstm() ? s.b.select(0, 1) : Tensor();
  Steps steps{T, s.o.go_backwards};
  std::vector<Tensor> xs = unbind(xw, 1);
  std::vector<Tensor> hs;
  for (int64_t i = 0; i < T; ++i) {
    Tensor hprev = h, hu = matmul(h, s.rk);
    if (s.lstm()) {
      Tensor z = add(xs[steps.at(i)], hu);
      if (trace) {
        trace->pre.push_back(z);
        trace->cprev.push_back(c);
      }
      std::vector<Tensor> hc = lstm_cell(z, c);  // the gate arithmetic, one fused kernel
      h = hc[0];
      c = hc[1];
    } else {
      if (rb.defined()) hu = add(hu, rb);
      if (trace) {
        trace->pre.push_back(xs[steps.at(i)]);
        trace->hz.push_back(hu);
      }
      h = gru_cell(xs[steps.at(i)], hu, h);  // reset after the recurrent matmul, fused gates
    }
    if (trace) trace->hprev.push_back(hprev);
    if (s.o.return_sequences) hs.push_back(h);
  }
  std::vector<Tensor> r = {assemble(hs, h, s.o.return_sequences), h};
  if (s.lstm()) r.push_back(c);
  return r;
}

/// The gradient of a sequence in differentiable ops, for create_graph through the whole-sequence
/// kernel: replays the steps with run_steps (recorded, so that the result is differentiable in
/// the inputs) and runs backpropagation through time with the cells' closed-form derivatives.
/// dy (N, T, H) in processing order (undefined without return_sequences), dh and dc (LSTM) the
/// gradients of the last state. Returns one gradient per input of the op.
std::vector<Tensor> sequence_grad_graph(const Sequence& s, const Tensor& dy, Tensor dh, Tensor dc) {
  const int64_t N = s.x.shape()[0], T = s.x.shape()[1], F = s.x.shape()[2];
  const int64_t GH = s.rk.shape()[1];
  StepTrace tr;
  run_steps(s, &tr);
  const std::vector<Tensor>&pre = tr.pre, &hz = tr.hz, &hprev = tr.hprev, &cprev = tr.cprev;
  Steps steps{T, s.o.go_backwards};
  // Backpropagation through time.
  std::vector<Tensor> dxw(T);
  Tensor drk, drb;
  auto acc = [](const Tensor& a, const Tensor& b) { return a.defined() ? add(a, b) : b; };
  for (int64_t i = T - 1; i >= 0; --i) {
    if (dy.defined()) dh = add(dh, dy.select(1, i));
    Tensor dpre, drec;  // gradients of the step's input projection and recurrent projection
    if (s.lstm()) {
      std::vector<Tensor> g = lstm_cell_grad_graph(pre[i], cprev[i], dh, dc, s.H);
      dpre = drec = g[0];
      dc = g[1];
      dh = matmul(drec, s.rk.t());
    } else {
      std::vector<Tensor> g = gru_cell_grad_graph(pre[i], hz[i], hprev[i], dh, s.H);
      dpre = g[0];
      drec = g[1];
      drb = acc(drb, sum(drec, {0}));
      dh = add(g[2], matmul(drec, s.rk.t()));
    }
    drk = acc(drk, matmul(hprev[i].t(), drec));
    dxw[steps.at(i)] = dpre;
  }
  Tensor dXW = stack(dxw, 1);  // (N, T, G·H), input order
  Tensor dx = matmul(dXW, s.k.t());
  Tensor dk = matmul(s.x.reshape({N * T, F}).t(), dXW.reshape({N * T, GH}));
  Tensor db;
  if (s.b.defined()) {
    db = sum(dXW, {0, 1});
    if (!s.lstm()) db = stack({db, drb}, 0);
  }
  std::vector<Tensor> r = {dx, s.h0.defined() ? dh : Tensor()};
  if (s.lstm()) r.push_back(s.c0.defined() ? dc : Tensor());
  for (const Tensor& t : {dk, drk, db}) r.push_back(t);
  return r;
}

/// Runs s on the backend's whole-sequence kernel, recorded as one node; nullopt when the backend
/// has none for these operands (or they mix dtypes or devices, which the step-by-step form
/// reports). Returns {output, h_T} and, for the LSTM, c_T.
std::optional<std::vector<Tensor>> whole_sequence(const Sequence& s) {
  const Tensor& x = s.x;
  for (const Tensor* t : {&s.h0, &s.c0, &s.k, &s.rk, &s.b})
    if (t->defined() && (t->dtype() != x.dtype() || t->device() != x.device())) return std::nullopt;
  const int64_t N = x.shape()[0], T = x.shape()[1];
  if (T == 0 || N == 0) return std::nullopt;
  const bool training = autograd::needs_grad(x, s.h0, s.c0, s.k, s.rk, s.b);
  RnnOperands in = operands(s);
  Tensor y = Tensor::empty({N, T, s.H}, x.dtype(), x.device());
  Tensor hT = Tensor::empty({N, s.H}, x.dtype(), x.device());
  Tensor cT = s.lstm() ? Tensor::empty({N, s.H}, x.dtype(), x.device()) : Tensor();
  // The backend that ran the forward runs the backward, whatever backend_for says by then.
  Backend* be = &kernel_backend(s.lstm() ? "lstm" : "gru", Kernel::RnnForward, x);
  std::shared_ptr<RnnWorkspace> ws =
      be->rnn_forward(s.cell, s.o.go_backwards, training, in, y, hT, cT);
  if (!ws) return std::nullopt;
  // Without return_sequences the output is the last state: a copy of its own (also for T = 1,
  // where the slice would already be contiguous), so that the node's outputs are distinct
  // tensors and none of them shares storage with what backward reads.
  Tensor out = y;
  if (!s.o.return_sequences) {
    out = Tensor::empty({N, s.H}, x.dtype(), x.device());
    be->copy(y.select(1, T - 1), out);
  }
  if (training) {
    using autograd::SavedTensor;
    auto backward = [sx = SavedTensor(x), sh0 = SavedTensor(s.h0), sc0 = SavedTensor(s.c0),
                     sk = SavedTensor(s.k), srk = SavedTensor(s.rk), sb = SavedTensor(s.b),
                     // y is read back only in processing order (go_backwards keeps its own)
                     sy =
                         s.o.go_backwards ? SavedTensor() : SavedTensor(y, s.o.return_sequences, 0),
                     shT = SavedTensor(hT, true, 1), be, scT = SavedTensor(cT, true, 2), ws,
                     cell = s.cell, o = s.o, H = s.H](std::vector<Tensor>& g) {
      Sequence q{cell,         sx.unpack(), sh0.unpack(),
                 sc0.unpack(), sk.unpack(), srk.unpack(),
                 sb.unpack(),  o,           H};
      const bool lstm = q.lstm();
      // Without return_sequences output 0 is h_T: its gradient joins h_T's.
      Tensor dy = o.return_sequences ? g[0] : Tensor();
      Tensor dh = o.return_sequences ? g[1] : add(g[0], g[1]);
      Tensor dc = lstm ? g[2] : Tensor();
      if (autograd::grad_enabled()) return sequence_grad_graph(q, dy, dh, dc);
      const DType dt = q.x.dtype();
      auto raw = [&](const Tensor& t) { return contiguous_raw(cast_raw(t, dt)); };
      RnnOperands in = operands(q);
      const int64_t n = q.x.shape()[0], t = q.x.shape()[1];
      if (!dy.defined()) dy = zeros({n, t, H}, {.dtype = dt, .device = q.x.device()});
      auto like = [](const Tensor& t) {
        return t.defined() ? Tensor::empty(t.shape(), t.dtype(), t.device()) : Tensor();
      };
      RnnOperands gr{
          like(in.x),   like(in.h0), like(in.c0), like(in.kernel), like(in.recurrent_kernel),
          like(in.bias)};
      be->rnn_backward(cell, o.go_backwards, in, sy.unpack(), shT.unpack(),
                       lstm ? scT.unpack() : Tensor(), *ws, raw(dy), raw(dh),
                       lstm ? raw(dc) : Tensor(), gr);
      std::vector<Tensor> r = {gr.x, q.h0.defined() ? gr.h0 : Tensor()};
      if (lstm) r.push_back(q.c0.defined() ? gr.c0 : Tensor());
      r.push_back(gr.kernel);
      r.push_back(gr.recurrent_kernel);
      r.push_back(q.b.defined() ? gr.bias : Tensor());
      return r;
    };
    if (s.lstm())
      autograd::record("lstm", {&x, &s.h0, &s.c0, &s.k, &s.rk, &s.b}, {&out, &hT, &cT},
                       std::move(backward));
    else
      autograd::record("gru", {&x, &s.h0, &s.k, &s.rk, &s.b}, {&out, &hT}, std::move(backward));
  }
  std::vector<Tensor> r = {out, hT};
  if (s.lstm()) r.push_back(cT);
  return r;
}
}  // namespace

TG_REGISTER_OP("lstm", "rnn_forward", true);  // or matmul + lstm_cell per step
std::vector<Tensor> lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& k,
                         const Tensor& rk, const Tensor& b, const RnnOptions& o) {
  ErrorContext ctx("lstm");
  check_same_device("lstm", {&x, &h0, &c0, &k, &rk, &b});
  const int64_t H = check_rnn("lstm", x, k, rk, 4);
  if (b.defined() && b.shape() != Shape{4 * H})
    fail<ShapeError>("lstm: bias must be (", 4 * H, "), got ", b.shape());
  check_state("lstm", h0, x, H, "h");
  check_state("lstm", c0, x, H, "c");
  const Sequence s{RnnCell::Lstm, x, h0, c0, k, rk, b, o, H};
  if (auto r = whole_sequence(s)) return *r;
  return run_steps(s, nullptr);
}

TG_REGISTER_OP("gru", "rnn_forward", true);  // or matmul + gru_cell per step
std::vector<Tensor> gru(const Tensor& x, const Tensor& h0, const Tensor& k, const Tensor& rk,
                        const Tensor& b, const RnnOptions& o) {
  ErrorContext ctx("gru");
  check_same_device("gru", {&x, &h0, &k, &rk, &b});
  const int64_t H = check_rnn("gru", x, k, rk, 3);
  if (b.defined() && b.shape() != Shape{2, 3 * H})
    fail<ShapeError>("gru: bias must be (2, ", 3 * H, "), got ", b.shape());
  check_state("gru", h0, x, H, "h");
  const Sequence s{RnnCell::Gru, x, h0, Tensor(), k, rk, b, o, H};
  if (auto r = whole_sequence(s)) return *r;
  return run_steps(s, nullptr);
}

TG_REGISTER_OP("simple_rnn", "composite", true);
std::vector<Tensor> simple_rnn(const Tensor& x, const Tensor& h0, const Tensor& k, const Tensor& rk,
                               const Tensor& b, const RnnOptions& o) {
  ErrorContext ctx("simple_rnn");
  check_same_device("simple_rnn", {&x, &h0, &k, &rk, &b});
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
