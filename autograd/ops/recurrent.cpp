// Recurrent ops (LSTM, GRU, simple RNN): the input projection for all steps in one matmul,
// then per step one matmul with the recurrent kernel and the gate arithmetic.
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
    Tensor z = add(xs[steps.at(i)], matmul(h, rk));
    // One sigmoid over the whole (contiguous) pre-activation, then views: vectorised kernels
    // instead of four strided passes.
    std::vector<Tensor> s = split(sigmoid(z), {H, H, H, H}, -1);
    Tensor in = s[0], forget = s[1], out = s[3];
    Tensor cand = tanh(z.slice(-1, 2 * H, 3 * H).contiguous());
    c = add(mul(forget, c), mul(in, cand));
    h = mul(out, tanh(c));
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
    std::vector<Tensor> xg = split(xs[steps.at(i)], {2 * H, H}, -1);
    Tensor hu = matmul(h, rk);
    if (rb.defined()) hu = add(hu, rb);
    std::vector<Tensor> hg = split(hu, {2 * H, H}, -1);
    // z and r in one contiguous sigmoid, then views.
    std::vector<Tensor> zr = split(sigmoid(add(xg[0], hg[0])), {H, H}, -1);
    Tensor z = zr[0], r = zr[1];
    Tensor cand = tanh(add(xg[1], mul(r, hg[1])));  // reset after the recurrent matmul
    h = add(mul(z, h), mul(sub(1.0, z), cand));
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
