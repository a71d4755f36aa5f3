// Side by side: training workloads through tapegrad and through raw oneDNN primitives doing the
// same work, in one process: W4 (LSTM forward + backward; raw uses oneDNN's LSTM primitive) and
// W2 (MLP training step; raw uses matmul primitives with bias and relu post-ops). Prints medians
// and the ratio raw time / tapegrad time (1.0 = parity, higher is better for tapegrad).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "tapegrad.hpp"

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

template <class F>
double median_ms(F f, int reps) {
  f();
  f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

memory reordered(const memory& user, const memory::desc& want, const dnnl::engine& eng, dnnl::stream& st) {
  memory m(want, eng);
  dnnl::reorder(user, m).execute(st, const_cast<memory&>(user), m);
  st.wait();
  return m;
}

void w4(int reps) {
  const int64_t T = 50, N = 32, F = 128, H = 256;
  tg::manual_seed(1);
  tg::nn::LSTM layer(H, {.return_sequences = true});
  tg::Tensor x = tg::randn({N, T, F});
  layer(x);
  std::vector<tg::Tensor> params = layer->trainable_weights();  // kernel (F,4H), recurrent (H,4H), bias (4H)
  double ours = median_ms([&] {
    tg::Tensor loss = tg::sum(layer(x));
    auto g = tg::autograd::grad({loss}, params);
  }, reps);

  // Raw oneDNN: the same weights (Keras' (F, 4H) gate-major layout is oneDNN's ldigo).
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  memory::desc src({T, N, F}, dt::f32, tag::ntc), dst({T, N, H}, dt::f32, tag::ntc);
  memory::desc wl_any({1, 1, F, 4, H}, dt::f32, tag::any), wi_any({1, 1, H, 4, H}, dt::f32, tag::any);
  memory::desc b_md({1, 1, 4, H}, dt::f32, tag::ldgo), none;
  dnnl::lstm_forward::primitive_desc fpd(
      dnnl::lstm_forward::desc(dnnl::prop_kind::forward_training, dnnl::rnn_direction::unidirectional_left2right, src,
                               none, none, wl_any, wi_any, b_md, dst, none, none),
      eng);
  dnnl::lstm_backward::primitive_desc bpd(
      dnnl::lstm_backward::desc(dnnl::prop_kind::backward, dnnl::rnn_direction::unidirectional_left2right, src, none,
                                none, wl_any, wi_any, b_md, dst, none, none, src, none, none, wl_any, wi_any, b_md,
                                dst, none, none),
      eng, fpd);
  memory user_wl({{1, 1, F, 4, H}, dt::f32, tag::ldigo}, eng, params[0].data<float>());
  memory user_wi({{1, 1, H, 4, H}, dt::f32, tag::ldigo}, eng, params[1].data<float>());
  memory bias(b_md, eng, params[2].data<float>());
  memory wl_f = reordered(user_wl, fpd.weights_layer_desc(), eng, st), wi_f = reordered(user_wi, fpd.weights_iter_desc(), eng, st);
  memory wl_b = reordered(user_wl, bpd.weights_layer_desc(), eng, st), wi_b = reordered(user_wi, bpd.weights_iter_desc(), eng, st);
  memory msrc(src, eng, x.data<float>()), mdst(dst, eng), ws(fpd.workspace_desc(), eng);
  std::vector<float> ones(static_cast<size_t>(T * N * H), 1.0f);
  memory mddst(dst, eng, ones.data()), mdsrc(src, eng);
  memory dwl(bpd.diff_weights_layer_desc(), eng), dwi(bpd.diff_weights_iter_desc(), eng), db(bpd.diff_bias_desc(), eng);
  dnnl::lstm_forward fwd(fpd);
  dnnl::lstm_backward bwd(bpd);
  auto zero = [](memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); };
  double raw = median_ms([&] {
    fwd.execute(st, {{DNNL_ARG_SRC_LAYER, msrc}, {DNNL_ARG_WEIGHTS_LAYER, wl_f}, {DNNL_ARG_WEIGHTS_ITER, wi_f},
                     {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST_LAYER, mdst}, {DNNL_ARG_WORKSPACE, ws}});
    zero(dwl);
    zero(dwi);
    zero(db);
    bwd.execute(st, {{DNNL_ARG_SRC_LAYER, msrc}, {DNNL_ARG_WEIGHTS_LAYER, wl_b}, {DNNL_ARG_WEIGHTS_ITER, wi_b},
                     {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST_LAYER, mdst}, {DNNL_ARG_DIFF_DST_LAYER, mddst},
                     {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_DIFF_SRC_LAYER, mdsrc}, {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},
                     {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi}, {DNNL_ARG_DIFF_BIAS, db}});
    st.wait();
  }, reps);
  std::printf("W4 LSTM T50 N32 F128 H256 fwd+bwd   tapegrad %8.2f ms   raw oneDNN LSTM primitive %8.2f ms   ratio %.3f\n",
              ours, raw, raw / ours);
}

void w2(int reps) {
  const int64_t B = 128, I = 784, H = 512, O = 10;
  const float lr = 0.01f;
  tg::manual_seed(1);
  tg::nn::Sequential model;
  model.add(tg::nn::Dense(H, {.activation = "relu", .input_shape = {I}}));
  model.add(tg::nn::Dense(H, {.activation = "relu"}));
  model.add(tg::nn::Dense(O));
  model.compile({.optimizer = tg::optim::SGD({.learning_rate = lr}),
                 .loss = tg::nn::Loss([](const tg::Tensor& t, const tg::Tensor& p) {
                   return tg::nn::losses::sparse_categorical_crossentropy(t, p, true);
                 })});
  tg::Tensor x = tg::rand({B, I});
  tg::Tensor y = tg::cast(tg::mul(tg::rand({B}), 10.0), tg::kInt64);
  double ours = median_ms([&] { model.train_on_batch(x, y); }, reps);

  // Raw oneDNN: matmul primitives (bias and relu as post-ops / fused), log-softmax, plain SGD.
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  std::vector<int64_t> label = y.to_vector<int64_t>();
  struct Lin {
    int64_t in, out;
    std::vector<float> w, b, dw, db;
  };
  std::vector<Lin> L = {{I, H}, {H, H}, {H, O}};
  for (auto& l : L) {
    l.w.assign(static_cast<size_t>(l.in * l.out), 0.01f);
    l.b.assign(static_cast<size_t>(l.out), 0.0f);
    l.dw.resize(l.w.size());
    l.db.resize(l.b.size());
  }
  std::vector<std::vector<float>> act = {x.to_vector<float>(), std::vector<float>(B * H), std::vector<float>(B * H),
                                         std::vector<float>(B * O)};
  std::vector<std::vector<float>> grad = {std::vector<float>(B * I), std::vector<float>(B * H),
                                          std::vector<float>(B * H), std::vector<float>(B * O)};
  auto md = [](int64_t r, int64_t c, bool t = false) {
    return t ? memory::desc({r, c}, dt::f32, memory::dims{1, r}) : memory::desc({r, c}, dt::f32, tag::ab);
  };
  std::vector<dnnl::matmul> fwd, bwd_x, bwd_w;
  for (size_t k = 0; k < L.size(); ++k) {
    dnnl::primitive_attr attr;
    if (k + 1 < L.size()) {
      dnnl::post_ops po;
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(po);
    }
    fwd.emplace_back(dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(md(B, L[k].in), md(L[k].in, L[k].out), memory::desc({1, L[k].out}, dt::f32, tag::ab),
                           md(B, L[k].out)),
        attr, eng));
    bwd_x.emplace_back(dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(md(B, L[k].out), md(L[k].out, L[k].in, true), md(B, L[k].in)), eng));
    bwd_w.emplace_back(dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(md(L[k].in, B, true), md(B, L[k].out), md(L[k].in, L[k].out)), eng));
  }
  auto mem = [&](const memory::desc& d, std::vector<float>& v) { return memory(d, eng, v.data()); };
  double raw = median_ms([&] {
    for (size_t k = 0; k < L.size(); ++k)
      fwd[k].execute(st, {{DNNL_ARG_SRC, mem(md(B, L[k].in), act[k])},
                          {DNNL_ARG_WEIGHTS, mem(md(L[k].in, L[k].out), L[k].w)},
                          {DNNL_ARG_BIAS, mem(memory::desc({1, L[k].out}, dt::f32, tag::ab), L[k].b)},
                          {DNNL_ARG_DST, mem(md(B, L[k].out), act[k + 1])}});
    st.wait();
    // Softmax cross-entropy gradient of the mean loss, row by row.
    float* z = act[3].data();
    float* g = grad[3].data();
    for (int64_t r = 0; r < B; ++r) {
      float m = *std::max_element(z + r * O, z + r * O + O), s = 0;
      for (int64_t c = 0; c < O; ++c) s += std::exp(z[r * O + c] - m);
      for (int64_t c = 0; c < O; ++c)
        g[r * O + c] = (std::exp(z[r * O + c] - m) / s - (c == label[r] ? 1.f : 0.f)) / static_cast<float>(B);
    }
    for (size_t k = L.size(); k-- > 0;) {
      bwd_w[k].execute(st, {{DNNL_ARG_SRC, mem(md(L[k].in, B, true), act[k])},
                            {DNNL_ARG_WEIGHTS, mem(md(B, L[k].out), grad[k + 1])},
                            {DNNL_ARG_DST, mem(md(L[k].in, L[k].out), L[k].dw)}});
      if (k > 0)
        bwd_x[k].execute(st, {{DNNL_ARG_SRC, mem(md(B, L[k].out), grad[k + 1])},
                              {DNNL_ARG_WEIGHTS, mem(md(L[k].out, L[k].in, true), L[k].w)},
                              {DNNL_ARG_DST, mem(md(B, L[k].in), grad[k])}});
      st.wait();
      std::fill(L[k].db.begin(), L[k].db.end(), 0.f);
      for (int64_t r = 0; r < B; ++r)
        for (int64_t c = 0; c < L[k].out; ++c) L[k].db[c] += grad[k + 1][r * L[k].out + c];
      if (k > 0)  // relu backward through the stored activation
        for (size_t i = 0; i < grad[k].size(); ++i) grad[k][i] = act[k][i] > 0 ? grad[k][i] : 0.f;
    }
    for (auto& l : L) {
      for (size_t i = 0; i < l.w.size(); ++i) l.w[i] -= lr * l.dw[i];
      for (size_t i = 0; i < l.b.size(); ++i) l.b[i] -= lr * l.db[i];
    }
  }, reps);
  std::printf("W2 MLP 784-512-512-10 SGD step      tapegrad %8.2f ms   raw oneDNN matmuls         %8.2f ms   ratio %.3f\n",
              ours, raw, raw / ours);
}

}  // namespace

int main() {
  std::printf("ratio = raw time / tapegrad time (1.0 = parity, higher is better for tapegrad)\n");
  w2(50);
  w4(15);
  return 0;
}
