// Whole float32 LSTM / GRU sequences on oneDNN's RNN primitives (lstm_forward / lstm_backward,
// lbr_gru_forward / lbr_gru_backward: "linear before reset" is Keras' reset_after GRU).
//
// Layouts: x (N, T, F) is oneDNN's ntc; Keras' kernels (F, G·H) and (H, G·H) are ldigo with the
// same gate order (LSTM i, f, c, o; GRU z = u, r, h = o); the LSTM bias (4H) is ldgo. The GRU's
// (2, 3H) bias becomes oneDNN's four rows (b_z + rb_z, b_r + rb_r, b_h, rb_h).
// go_backwards runs right to left; oneDNN then stores the state of input position t at t, so y
// (processing order) is the time-reversed copy.
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "tapegrad/backends/cpu/cpu_backend.hpp"
#include "tapegrad/backends/cpu/cpu_backend_impl.hpp"

namespace tg {

namespace {
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

/// What the forward keeps: oneDNN's workspace, and for go_backwards its dst in input order.
struct OnednnRnnWorkspace final : RnnWorkspace {
  Tensor workspace;  // the primitive's opaque workspace bytes
  Tensor dst;        // (N, T, H) in input order (go_backwards only; otherwise y is it)
};

/// Descriptors of one problem.
struct RnnGeometry {
  int64_t n, t, f, h;
  bool lstm, backwards;
  memory::desc src, dst, iter, user_wl, user_wi, any_wl, any_wi, bias;
  std::string key(bool training) const {
    return std::string("rnn:") + (lstm ? "lstm" : "gru") + (backwards ? ",r2l" : ",l2r") +
           (training ? ",train," : ",infer,") + std::to_string(n) + "," + std::to_string(t) + "," +
           std::to_string(f) + "," + std::to_string(h);
  }
};

RnnGeometry geometry(RnnCell cell, bool go_backwards, const RnnOperands& in) {
  RnnGeometry g;
  g.n = in.x.shape()[0];
  g.t = in.x.shape()[1];
  g.f = in.x.shape()[2];
  g.h = in.recurrent_kernel.shape()[0];
  g.lstm = cell == RnnCell::Lstm;
  g.backwards = go_backwards;
  const int64_t G = g.lstm ? 4 : 3;
  g.src = memory::desc({g.t, g.n, g.f}, dt::f32, tag::ntc);
  g.dst = memory::desc({g.t, g.n, g.h}, dt::f32, tag::ntc);
  g.iter = memory::desc({1, 1, g.n, g.h}, dt::f32, tag::ldnc);
  g.user_wl = memory::desc({1, 1, g.f, G, g.h}, dt::f32, tag::ldigo);
  g.user_wi = memory::desc({1, 1, g.h, G, g.h}, dt::f32, tag::ldigo);
  g.any_wl = memory::desc({1, 1, g.f, G, g.h}, dt::f32, tag::any);
  g.any_wi = memory::desc({1, 1, g.h, G, g.h}, dt::f32, tag::any);
  g.bias = memory::desc({1, 1, 4, g.h}, dt::f32, tag::ldgo);  // LSTM: 4 gates; LBR GRU: 3 + 1
  return g;
}

dnnl::rnn_direction direction(const RnnGeometry& g) {
  return g.backwards ? dnnl::rnn_direction::unidirectional_right2left
                     : dnnl::rnn_direction::unidirectional_left2right;
}

/// A reorder from a to b, or an empty one when the layouts agree.
dnnl::reorder reorder_between(const dnnl::engine& e, const memory::desc& a, const memory::desc& b) {
  if (a == b) return dnnl::reorder();
  return dnnl::reorder(dnnl::reorder::primitive_desc(e, a, e, b));
}

RnnEntry make_entry(const RnnGeometry& g, bool training, const dnnl::engine& e) {
  const auto prop =
      training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const memory::desc& it = g.iter;
  RnnEntry r;
  r.user_wl = g.user_wl;
  r.user_wi = g.user_wi;
  auto finish_forward = [&](const auto& pd) {
    r.fwd_wl = pd.weights_layer_desc();
    r.fwd_wi = pd.weights_iter_desc();
    if (training) r.ws = pd.workspace_desc();
    r.to_fwd_wl = reorder_between(e, g.user_wl, r.fwd_wl);
    r.to_fwd_wi = reorder_between(e, g.user_wi, r.fwd_wi);
  };
  auto finish_backward = [&](const auto& pd) {
    r.bwd_wl = pd.weights_layer_desc();
    r.bwd_wi = pd.weights_iter_desc();
    r.bwd_dwl = pd.diff_weights_layer_desc();
    r.bwd_dwi = pd.diff_weights_iter_desc();
    r.to_bwd_wl = reorder_between(e, g.user_wl, r.bwd_wl);
    r.to_bwd_wi = reorder_between(e, g.user_wi, r.bwd_wi);
    r.from_dwl = reorder_between(e, r.bwd_dwl, g.user_wl);
    r.from_dwi = reorder_between(e, r.bwd_dwi, g.user_wi);
  };
  if (g.lstm) {
    dnnl::lstm_forward::primitive_desc fpd(
        dnnl::lstm_forward::desc(prop, direction(g), g.src, it, it, g.any_wl, g.any_wi, g.bias,
                                 g.dst, it, it),
        e);
    r.fwd = dnnl::lstm_forward(fpd);
    finish_forward(fpd);
    if (training) {
      dnnl::lstm_backward::primitive_desc bpd(
          dnnl::lstm_backward::desc(dnnl::prop_kind::backward, direction(g), g.src, it, it,
                                    g.any_wl, g.any_wi, g.bias, g.dst, it, it, g.src, it, it,
                                    g.any_wl, g.any_wi, g.bias, g.dst, it, it),
          e, fpd);
      r.bwd = dnnl::lstm_backward(bpd);
      finish_backward(bpd);
    }
  } else {
    dnnl::lbr_gru_forward::primitive_desc fpd(
        dnnl::lbr_gru_forward::desc(prop, direction(g), g.src, it, g.any_wl, g.any_wi, g.bias,
                                    g.dst, it),
        e);
    r.fwd = dnnl::lbr_gru_forward(fpd);
    finish_forward(fpd);
    if (training) {
      dnnl::lbr_gru_backward::primitive_desc bpd(
          dnnl::lbr_gru_backward::desc(dnnl::prop_kind::backward, direction(g), g.src, it, g.any_wl,
                                       g.any_wi, g.bias, g.dst, it, g.src, it, g.any_wl, g.any_wi,
                                       g.bias, g.dst, it),
          e, fpd);
      r.bwd = dnnl::lbr_gru_backward(bpd);
      finish_backward(bpd);
    }
  }
  return r;
}

float* fdata(const Tensor& t) { return static_cast<float*>(t.storage()->data()) + t.offset(); }

/// oneDNN memories over tensors, and over scratch tensors it keeps alive until the stream is
/// done with them.
struct Scratch {
  const dnnl::engine& engine;
  std::vector<Tensor> held;
  memory make(const memory::desc& md) {
    held.push_back(scratch_tensor(md));
    return memory(md, engine, fdata(held.back()));
  }
  /// A memory over t's data.
  memory of(const memory::desc& md, const Tensor& t) const { return memory(md, engine, fdata(t)); }
  /// t (Keras layout user) as the layout want, through reorder r when they differ.
  memory reordered(dnnl::stream& st, const memory::desc& user, const memory::desc& want,
                   dnnl::reorder& r, const Tensor& t) {
    memory u = of(user, t);
    if (!r) return u;
    memory m = make(want);
    r.execute(st, u, m);
    return m;
  }
};

/// The arguments forward and backward share: the sequence, the states, oneDNN's bias, and the
/// outputs (dst in oneDNN's time order).
std::unordered_map<int, memory> common_args(const Scratch& m, const RnnGeometry& g,
                                            const RnnOperands& in, const Tensor& bias,
                                            const Tensor& dst, const Tensor& h_last,
                                            const Tensor& c_last) {
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC_LAYER, m.of(g.src, in.x)},
                                          {DNNL_ARG_SRC_ITER, m.of(g.iter, in.h0)},
                                          {DNNL_ARG_BIAS, m.of(g.bias, bias)},
                                          {DNNL_ARG_DST_LAYER, m.of(g.dst, dst)},
                                          {DNNL_ARG_DST_ITER, m.of(g.iter, h_last)}};
  if (g.lstm) {
    args[DNNL_ARG_SRC_ITER_C] = m.of(g.iter, in.c0);
    args[DNNL_ARG_DST_ITER_C] = m.of(g.iter, c_last);
  }
  return args;
}

/// dst[n, i, :] = src[n, T − 1 − i, :] for (N, T, H) contiguous tensors.
void reverse_time(const Tensor& src, const Tensor& dst) {
  const int64_t n = src.shape()[0], t = src.shape()[1], h = src.shape()[2];
  const float* s = fdata(src);
  float* d = fdata(dst);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < t; ++i)
      std::memcpy(d + (b * t + i) * h, s + (b * t + (t - 1 - i)) * h,
                  static_cast<size_t>(h) * sizeof(float));
}

/// oneDNN's bias from the operand: the LSTM's as is, the GRU's (2, 3H) as four rows.
Tensor onednn_bias(const RnnGeometry& g, const Tensor& bias) {
  if (g.lstm) return bias;
  const int64_t h = g.h;
  Tensor b = Tensor::empty({4 * h}, kFloat32);
  const float* in = fdata(bias);  // row 0 input bias, row 1 recurrent bias
  float* out = fdata(b);
  for (int64_t j = 0; j < 2 * h; ++j) out[j] = in[j] + in[3 * h + j];
  for (int64_t j = 0; j < h; ++j) {
    out[2 * h + j] = in[2 * h + j];
    out[3 * h + j] = in[5 * h + j];
  }
  return b;
}

/// The GRU's (2, 3H) bias gradient from oneDNN's four rows.
void gru_bias_grad(int64_t h, const Tensor& onednn_db, const Tensor& grad_bias) {
  const float* in = fdata(onednn_db);
  float* out = fdata(grad_bias);
  for (int64_t j = 0; j < 2 * h; ++j) out[j] = out[3 * h + j] = in[j];
  for (int64_t j = 0; j < h; ++j) {
    out[2 * h + j] = in[2 * h + j];
    out[5 * h + j] = in[3 * h + j];
  }
}
}  // namespace

std::shared_ptr<RnnWorkspace> CpuBackend::rnn_forward(RnnCell cell, bool go_backwards,
                                                      bool training, const RnnOperands& in,
                                                      const Tensor& y, const Tensor& h_last,
                                                      const Tensor& c_last) {
  if (in.x.dtype() != kFloat32) return nullptr;  // float64: the step-by-step reference loops
  const RnnGeometry g = geometry(cell, go_backwards, in);
  if (g.f == 0 || g.h == 0) return nullptr;  // nothing oneDNN would take
  RnnEntry* entry = nullptr;
  try {
    entry =
        &impl_->rnn_entry(g.key(training), [&] { return make_entry(g, training, impl_->engine); });
  } catch (const BackendError&) {
    return nullptr;  // oneDNN has no RNN primitive for this problem: the step-by-step form
  }
  RnnEntry& e = *entry;
  auto ws = std::make_shared<OnednnRnnWorkspace>();
  if (training) ws->workspace = scratch_tensor(e.ws);
  Tensor dst = y;
  if (go_backwards) {
    dst = Tensor::empty(y.shape(), kFloat32);
    if (training) ws->dst = dst;
  }
  try {
    dnnl::stream& st = impl_->stream;
    Scratch scratch{impl_->engine, {}};
    Tensor bias = onednn_bias(g, in.bias);
    std::unordered_map<int, memory> args = common_args(scratch, g, in, bias, dst, h_last, c_last);
    args[DNNL_ARG_WEIGHTS_LAYER] =
        scratch.reordered(st, e.user_wl, e.fwd_wl, e.to_fwd_wl, in.kernel);
    args[DNNL_ARG_WEIGHTS_ITER] =
        scratch.reordered(st, e.user_wi, e.fwd_wi, e.to_fwd_wi, in.recurrent_kernel);
    if (training) args[DNNL_ARG_WORKSPACE] = scratch.of(e.ws, ws->workspace);
    e.fwd.execute(st, args);
    st.wait();
  } catch (const dnnl::error& err) {
    fail<BackendError>("oneDNN: executing ", g.lstm ? "lstm" : "gru",
                       " forward failed: ", err.what());
  }
  if (go_backwards) reverse_time(dst, y);
  return ws;
}

void CpuBackend::rnn_backward(RnnCell cell, bool go_backwards, const RnnOperands& in,
                              const Tensor& y, const Tensor& h_last, const Tensor& c_last,
                              RnnWorkspace& workspace, const Tensor& grad_y,
                              const Tensor& grad_h_last, const Tensor& grad_c_last,
                              const RnnOperands& grads) {
  auto* wsp = dynamic_cast<OnednnRnnWorkspace*>(&workspace);
  if (!wsp)
    fail<BackendError>("rnn_backward: the workspace did not come from the CPU backend's ",
                       "rnn_forward");
  OnednnRnnWorkspace& ws = *wsp;
  const RnnGeometry g = geometry(cell, go_backwards, in);
  RnnEntry& e = impl_->rnn_entry(g.key(true), [&] { return make_entry(g, true, impl_->engine); });
  Tensor dst = go_backwards ? ws.dst : y;
  Tensor ddst = grad_y;
  if (go_backwards) {
    ddst = Tensor::empty(grad_y.shape(), kFloat32);
    reverse_time(grad_y, ddst);
  }
  try {
    dnnl::stream& st = impl_->stream;
    Scratch scratch{impl_->engine, {}};
    // oneDNN accumulates into the weight and bias gradients: start them at zero.
    auto zeroed = [&](const memory::desc& want, const memory::desc& user, const Tensor& t) {
      memory m = want == user ? scratch.of(user, t) : scratch.make(want);
      std::memset(m.get_data_handle(), 0, want.get_size());
      return m;
    };
    memory wl = scratch.reordered(st, e.user_wl, e.bwd_wl, e.to_bwd_wl, in.kernel);
    memory wi = scratch.reordered(st, e.user_wi, e.bwd_wi, e.to_bwd_wi, in.recurrent_kernel);
    memory dwl = zeroed(e.bwd_dwl, e.user_wl, grads.kernel);
    memory dwi = zeroed(e.bwd_dwi, e.user_wi, grads.recurrent_kernel);
    Tensor bias = onednn_bias(g, in.bias);
    Tensor dbias = g.lstm ? grads.bias : Tensor::empty({4 * g.h}, kFloat32);
    std::memset(fdata(dbias), 0, static_cast<size_t>(4 * g.h) * sizeof(float));
    std::unordered_map<int, memory> args = common_args(scratch, g, in, bias, dst, h_last, c_last);
    args[DNNL_ARG_WEIGHTS_LAYER] = wl;
    args[DNNL_ARG_WEIGHTS_ITER] = wi;
    args[DNNL_ARG_WORKSPACE] = scratch.of(e.ws, ws.workspace);
    args[DNNL_ARG_DIFF_DST_LAYER] = scratch.of(g.dst, ddst);
    args[DNNL_ARG_DIFF_DST_ITER] = scratch.of(g.iter, grad_h_last);
    args[DNNL_ARG_DIFF_SRC_LAYER] = scratch.of(g.src, grads.x);
    args[DNNL_ARG_DIFF_SRC_ITER] = scratch.of(g.iter, grads.h0);
    args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = dwl;
    args[DNNL_ARG_DIFF_WEIGHTS_ITER] = dwi;
    args[DNNL_ARG_DIFF_BIAS] = scratch.of(g.bias, dbias);
    if (g.lstm) {
      args[DNNL_ARG_DIFF_DST_ITER_C] = scratch.of(g.iter, grad_c_last);
      args[DNNL_ARG_DIFF_SRC_ITER_C] = scratch.of(g.iter, grads.c0);
    }
    e.bwd.execute(st, args);
    if (e.from_dwl) {
      memory user = scratch.of(e.user_wl, grads.kernel);
      e.from_dwl.execute(st, dwl, user);
    }
    if (e.from_dwi) {
      memory user = scratch.of(e.user_wi, grads.recurrent_kernel);
      e.from_dwi.execute(st, dwi, user);
    }
    st.wait();
    if (!g.lstm) gru_bias_grad(g.h, dbias, grads.bias);
  } catch (const dnnl::error& err) {
    fail<BackendError>("oneDNN: executing ", g.lstm ? "lstm" : "gru",
                       " backward failed: ", err.what());
  }
}

}  // namespace tg
