// Side by side: training workloads through tapegrad and through raw oneDNN primitives doing the
// same work, in one process: W4 (LSTM forward + backward; raw uses oneDNN's LSTM primitive),
// W2 (MLP training step; raw uses matmul primitives with bias and relu post-ops) and W3 (CNN
// training step with Adam; raw uses convolution, pooling, eltwise and inner-product primitives in
// oneDNN's preferred layouts, with a per-primitive breakdown). Prints medians and the ratio raw
// time / tapegrad time (1.0 = parity, higher is better for tapegrad).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <experimental/simd>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "workloads.hpp"

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
  const float lr = 0.01f;  // SGD's default, as bench::w2_mlp compiles it
  tg::manual_seed(1);
  tg::nn::Sequential model = tg::bench::w2_mlp();
  tg::Tensor x = tg::rand({B, I});
  tg::Tensor y = tg::bench::random_labels(B);
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

/// One named piece of the raw W3 step: a primitive execution (or a plain loop) followed by a wait,
/// so that it can be run as part of the step or timed on its own.
struct Stage {
  std::string name, impl;  // impl: oneDNN's implementation name ("" for plain loops)
  std::function<void()> run;
};

/// One trainable tensor of the raw W3 model in its primitive's (possibly blocked) layout, with its
/// gradient and Adam moments in the same layout, so the update is one flat loop.
struct AdamParam {
  memory w, g;
  std::vector<float> m, v;
};

/// Keras' Adam (beta1 0.9, beta2 0.999, epsilon 1e-7) on n floats; step_size already holds the
/// bias correction lr * sqrt(1 - beta2^t) / (1 - beta1^t). Written with std::experimental::simd:
/// the plain loop (kept for the tail) does not vectorize under the project's flags, because
/// std::sqrt must be able to set errno (no -fno-math-errno), and then costs about 4x as much.
void adam_update(float* w, const float* g, float* m, float* v, size_t n, float step_size) {
  namespace stdx = std::experimental;
  using V = stdx::native_simd<float>;
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
  size_t i = 0;
  for (; i + V::size() <= n; i += V::size()) {
    const V gi(g + i, stdx::element_aligned);
    V mi(m + i, stdx::element_aligned), vi(v + i, stdx::element_aligned),
        wi(w + i, stdx::element_aligned);
    mi = b1 * mi + (1.f - b1) * gi;
    vi = b2 * vi + (1.f - b2) * gi * gi;
    wi -= step_size * mi / (stdx::sqrt(vi) + eps);
    mi.copy_to(m + i, stdx::element_aligned);
    vi.copy_to(v + i, stdx::element_aligned);
    wi.copy_to(w + i, stdx::element_aligned);
  }
  for (; i < n; ++i) {
    m[i] = b1 * m[i] + (1.f - b1) * g[i];
    v[i] = b2 * v[i] + (1.f - b2) * g[i] * g[i];
    w[i] -= step_size * m[i] / (std::sqrt(v[i]) + eps);
  }
}

/// Mean softmax cross-entropy of logits z (n rows of k, plain) against labels; writes its gradient
/// (softmax - one_hot) / n into dz and returns the loss.
float softmax_xent(const float* z, const int64_t* label, float* dz, int64_t n, int64_t k) {
  double loss = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* zr = z + r * k;
    float* dr = dz + r * k;
    const float mx = *std::max_element(zr, zr + k);
    float s = 0;
    for (int64_t c = 0; c < k; ++c) s += (dr[c] = std::exp(zr[c] - mx));
    loss += std::log(s) - (zr[label[r]] - mx);
    for (int64_t c = 0; c < k; ++c)
      dr[c] = (dr[c] / s - (c == label[r] ? 1.f : 0.f)) / static_cast<float>(n);
  }
  return static_cast<float>(loss / static_cast<double>(n));
}

/// A parameter in layout `want`, Glorot-uniform values drawn in the plain layout `plain` and
/// reordered once (setup, not part of the step).
memory glorot(const memory::desc& plain, const memory::desc& want, int64_t fan_in, int64_t fan_out,
              std::mt19937& rng, const dnnl::engine& eng, dnnl::stream& st) {
  const float limit = std::sqrt(6.f / static_cast<float>(fan_in + fan_out));
  std::uniform_real_distribution<float> u(-limit, limit);
  memory user(plain, eng);
  float* p = static_cast<float*>(user.get_data_handle());
  for (size_t i = 0; i < plain.get_size() / sizeof(float); ++i) p[i] = u(rng);
  return reordered(user, want, eng, st);
}

/// A memory of `d` filled with zeros.
memory zeros(const memory::desc& d, const dnnl::engine& eng) {
  memory m(d, eng);
  std::memset(m.get_data_handle(), 0, d.get_size());
  return m;
}

/// W3 written directly against oneDNN 2.6, as an expert would: convolutions and pooling in the
/// layouts oneDNN prefers (format_tag::any, blocked on this CPU), bias + relu fused into the
/// forward primitives as post-ops, relu backward from the stored output
/// (eltwise_relu_use_dst_for_bwd, in place), max pooling with its workspace, conv backward data /
/// weights (+ bias) in the same blocked layouts. conv2's forward uses convolution_auto, which takes
/// Winograd where oneDNN has it (AVX-512) and measures faster than direct here; conv1 (one input
/// channel) stays direct, as auto would pad its input to 16 channels. The dense layers are inner
/// products that read the blocked pooling output as it is (their weights take the matching layout),
/// so no reorder is needed before the dense part. Backward primitives pick their weights layout
/// (any); where it differs from the forward one, the weights (or the weight gradient) are reordered
/// inside the step, and the input is reordered only if conv1 wants a layout other than the user's.
/// Softmax cross-entropy and Adam are plain C++ loops (Adam over all parameters, in their
/// primitives' layouts). All primitives and memories are created once, in the constructor; the step
/// is `stages` run in order.
class RawW3 {
 public:
  static constexpr int64_t N = 64, C1 = 32, C2 = 64, D = 128, K = 10;

  /// x: N×28×28×1 (NHWC, as tapegrad holds it), labels: N class ids; both must outlive the object.
  RawW3(const dnnl::engine& eng, const float* x, const int64_t* labels, unsigned seed)
      : eng_(eng), st_(eng), labels_(labels) {
    using namespace dnnl;
    auto any = [](memory::dims d) { return memory::desc(d, dt::f32, tag::any); };
    auto vec = [](int64_t n) { return memory::desc({n}, dt::f32, tag::x); };
    const memory::dims one{1, 1}, zero{0, 0}, two{2, 2};
    const auto fwd = prop_kind::forward_training;
    post_ops relu;
    relu.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    primitive_attr with_relu;
    with_relu.set_post_ops(relu);

    // Forward primitive descriptors; each layer consumes the layout its producer chose.
    convolution_forward::primitive_desc c1f(
        {fwd, algorithm::convolution_direct, any({N, 1, 28, 28}), any({C1, 1, 3, 3}), vec(C1),
         any({N, C1, 26, 26}), one, zero, zero},
        with_relu, eng);
    pooling_forward::primitive_desc p1f(
        {fwd, algorithm::pooling_max, c1f.dst_desc(), any({N, C1, 13, 13}), two, two, zero, zero},
        eng);
    convolution_forward::primitive_desc c2f(
        {fwd, algorithm::convolution_auto, p1f.dst_desc(), any({C2, C1, 3, 3}), vec(C2),
         any({N, C2, 11, 11}), one, zero, zero},
        with_relu, eng);
    pooling_forward::primitive_desc p2f(
        {fwd, algorithm::pooling_max, c2f.dst_desc(), any({N, C2, 5, 5}), two, two, zero, zero},
        eng);
    const memory::desc h1_md({N, D}, dt::f32, tag::nc), z_md({N, K}, dt::f32, tag::nc);
    inner_product_forward::primitive_desc f1f(
        {fwd, p2f.dst_desc(), any({D, C2, 5, 5}), vec(D), h1_md}, with_relu, eng);
    inner_product_forward::primitive_desc f2f({fwd, h1_md, any({K, D}), vec(K), z_md}, eng);

    // Backward primitive descriptors: activation gradients in the forward layouts; weights and
    // weight gradients in the layout each primitive prefers.
    const auto relu_bwd = algorithm::eltwise_relu_use_dst_for_bwd;
    auto relu_bwd_pd = [&](const memory::desc& d) {
      eltwise_forward::primitive_desc hint({fwd, relu_bwd, d, 0.f, 0.f}, eng);
      return eltwise_backward::primitive_desc({relu_bwd, d, d, 0.f, 0.f}, eng, hint);
    };
    convolution_backward_weights::primitive_desc c1w(
        {algorithm::convolution_direct, c1f.src_desc(), any({C1, 1, 3, 3}), vec(C1), c1f.dst_desc(),
         one, zero, zero},
        eng, c1f);
    pooling_backward::primitive_desc p1b(
        {algorithm::pooling_max, c1f.dst_desc(), p1f.dst_desc(), two, two, zero, zero}, eng, p1f);
    convolution_backward_data::primitive_desc c2d(
        {algorithm::convolution_direct, p1f.dst_desc(), any({C2, C1, 3, 3}), c2f.dst_desc(), one,
         zero, zero},
        eng, c2f);
    convolution_backward_weights::primitive_desc c2w(
        {algorithm::convolution_direct, p1f.dst_desc(), any({C2, C1, 3, 3}), vec(C2),
         c2f.dst_desc(), one, zero, zero},
        eng, c2f);
    pooling_backward::primitive_desc p2b(
        {algorithm::pooling_max, c2f.dst_desc(), p2f.dst_desc(), two, two, zero, zero}, eng, p2f);
    inner_product_backward_data::primitive_desc f1d({p2f.dst_desc(), any({D, C2, 5, 5}), h1_md},
                                                    eng, f1f);
    inner_product_backward_weights::primitive_desc f1w(
        {p2f.dst_desc(), any({D, C2, 5, 5}), vec(D), h1_md}, eng, f1f);
    inner_product_backward_data::primitive_desc f2d({h1_md, any({K, D}), z_md}, eng, f2f);
    inner_product_backward_weights::primitive_desc f2w({h1_md, any({K, D}), vec(K), z_md}, eng,
                                                       f2f);

    // Parameters (Glorot uniform kernels, zero biases, as Keras), gradients, Adam moments.
    std::mt19937 rng(seed);
    params_.reserve(8);  // the references below stay valid
    auto param = [&](memory w) -> const AdamParam& {
      const size_t n = w.get_desc().get_size() / sizeof(float);
      params_.push_back(
          {w, memory(w.get_desc(), eng), std::vector<float>(n, 0.f), std::vector<float>(n, 0.f)});
      return params_.back();
    };
    const AdamParam& k1 = param(
        glorot({{C1, 1, 3, 3}, dt::f32, tag::oihw}, c1f.weights_desc(), 9, C1 * 9, rng, eng, st_));
    const AdamParam& b1 = param(zeros(vec(C1), eng));
    const AdamParam& k2 = param(glorot({{C2, C1, 3, 3}, dt::f32, tag::oihw}, c2f.weights_desc(),
                                       C1 * 9, C2 * 9, rng, eng, st_));
    const AdamParam& b2 = param(zeros(vec(C2), eng));
    const AdamParam& k3 = param(
        glorot({{D, C2, 5, 5}, dt::f32, tag::oihw}, f1f.weights_desc(), C2 * 25, D, rng, eng, st_));
    const AdamParam& b3 = param(zeros(vec(D), eng));
    const AdamParam& k4 =
        param(glorot({{K, D}, dt::f32, tag::oi}, f2f.weights_desc(), D, K, rng, eng, st_));
    const AdamParam& b4 = param(zeros(vec(K), eng));

    // Activations and their gradients (relu gradients are made in place).
    memory a1(c1f.dst_desc(), eng), q1(p1f.dst_desc(), eng), a2(c2f.dst_desc(), eng),
        q2(p2f.dst_desc(), eng);
    memory h1(h1_md, eng), z(z_md, eng), ws1(p1f.workspace_desc(), eng),
        ws2(p2f.workspace_desc(), eng);
    memory da1(c1f.dst_desc(), eng), dq1(p1f.dst_desc(), eng), da2(c2f.dst_desc(), eng),
        dq2(p2f.dst_desc(), eng);
    memory dh1(h1_md, eng), dz(z_md, eng);

    // The input: with one channel NHWC and NCHW are the same bytes, so if conv1 wants plain NCHW
    // the user's buffer is used as it is; any other wish costs a reorder inside the step.
    memory x_user({{N, 1, 28, 28}, dt::f32, tag::nhwc}, eng, const_cast<float*>(x)), x_in = x_user;
    if (c1f.src_desc() == memory::desc({N, 1, 28, 28}, dt::f32, tag::nchw)) {
      x_in = memory(c1f.src_desc(), eng, const_cast<float*>(x));
    } else if (c1f.src_desc() != x_user.get_desc()) {
      x_in = memory(c1f.src_desc(), eng);
      add("reorder input", reorder(x_user, x_in), {{DNNL_ARG_FROM, x_user}, {DNNL_ARG_TO, x_in}},
          "reorder");
    }

    // The step, in order.
    add("fwd conv1 (+bias+relu)", convolution_forward(c1f),
        {{DNNL_ARG_SRC, x_in}, {DNNL_ARG_WEIGHTS, k1.w}, {DNNL_ARG_BIAS, b1.w}, {DNNL_ARG_DST, a1}},
        c1f.impl_info_str());
    add("fwd pool1", pooling_forward(p1f),
        {{DNNL_ARG_SRC, a1}, {DNNL_ARG_DST, q1}, {DNNL_ARG_WORKSPACE, ws1}}, p1f.impl_info_str());
    add("fwd conv2 (+bias+relu)", convolution_forward(c2f),
        {{DNNL_ARG_SRC, q1}, {DNNL_ARG_WEIGHTS, k2.w}, {DNNL_ARG_BIAS, b2.w}, {DNNL_ARG_DST, a2}},
        c2f.impl_info_str());
    add("fwd pool2", pooling_forward(p2f),
        {{DNNL_ARG_SRC, a2}, {DNNL_ARG_DST, q2}, {DNNL_ARG_WORKSPACE, ws2}}, p2f.impl_info_str());
    add("fwd dense1 (+bias+relu)", inner_product_forward(f1f),
        {{DNNL_ARG_SRC, q2}, {DNNL_ARG_WEIGHTS, k3.w}, {DNNL_ARG_BIAS, b3.w}, {DNNL_ARG_DST, h1}},
        f1f.impl_info_str());
    add("fwd dense2 (+bias)", inner_product_forward(f2f),
        {{DNNL_ARG_SRC, h1}, {DNNL_ARG_WEIGHTS, k4.w}, {DNNL_ARG_BIAS, b4.w}, {DNNL_ARG_DST, z}},
        f2f.impl_info_str());
    stages.push_back({"softmax cross-entropy", "", [this, z, dz] {
                        loss = softmax_xent(static_cast<const float*>(z.get_data_handle()), labels_,
                                            static_cast<float*>(dz.get_data_handle()), N, K);
                      }});
    memory dk4 = like(k4.g, f2w.diff_weights_desc()), k4d = like(k4.w, f2d.weights_desc());
    add("bwd dense2 weights (+bias)", inner_product_backward_weights(f2w),
        {{DNNL_ARG_SRC, h1},
         {DNNL_ARG_DIFF_DST, dz},
         {DNNL_ARG_DIFF_WEIGHTS, dk4},
         {DNNL_ARG_DIFF_BIAS, b4.g}},
        f2w.impl_info_str());
    copy_into(dk4, k4.g, "reorder dense2 dW");
    copy_into(k4.w, k4d, "reorder dense2 W for bwd data");
    add("bwd dense2 data", inner_product_backward_data(f2d),
        {{DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_WEIGHTS, k4d}, {DNNL_ARG_DIFF_SRC, dh1}},
        f2d.impl_info_str());
    auto relu1 = relu_bwd_pd(h1_md);
    add("bwd relu dense1", eltwise_backward(relu1),
        {{DNNL_ARG_DST, h1}, {DNNL_ARG_DIFF_DST, dh1}, {DNNL_ARG_DIFF_SRC, dh1}},
        relu1.impl_info_str());
    memory dk3 = like(k3.g, f1w.diff_weights_desc()), k3d = like(k3.w, f1d.weights_desc());
    add("bwd dense1 weights (+bias)", inner_product_backward_weights(f1w),
        {{DNNL_ARG_SRC, q2},
         {DNNL_ARG_DIFF_DST, dh1},
         {DNNL_ARG_DIFF_WEIGHTS, dk3},
         {DNNL_ARG_DIFF_BIAS, b3.g}},
        f1w.impl_info_str());
    copy_into(dk3, k3.g, "reorder dense1 dW");
    copy_into(k3.w, k3d, "reorder dense1 W for bwd data");
    add("bwd dense1 data", inner_product_backward_data(f1d),
        {{DNNL_ARG_DIFF_DST, dh1}, {DNNL_ARG_WEIGHTS, k3d}, {DNNL_ARG_DIFF_SRC, dq2}},
        f1d.impl_info_str());
    add("bwd pool2", pooling_backward(p2b),
        {{DNNL_ARG_DIFF_DST, dq2}, {DNNL_ARG_WORKSPACE, ws2}, {DNNL_ARG_DIFF_SRC, da2}},
        p2b.impl_info_str());
    auto relu2 = relu_bwd_pd(c2f.dst_desc());
    add("bwd relu conv2", eltwise_backward(relu2),
        {{DNNL_ARG_DST, a2}, {DNNL_ARG_DIFF_DST, da2}, {DNNL_ARG_DIFF_SRC, da2}},
        relu2.impl_info_str());
    memory dk2 = like(k2.g, c2w.diff_weights_desc()), k2d = like(k2.w, c2d.weights_desc());
    add("bwd conv2 weights (+bias)", convolution_backward_weights(c2w),
        {{DNNL_ARG_SRC, q1},
         {DNNL_ARG_DIFF_DST, da2},
         {DNNL_ARG_DIFF_WEIGHTS, dk2},
         {DNNL_ARG_DIFF_BIAS, b2.g}},
        c2w.impl_info_str());
    copy_into(dk2, k2.g, "reorder conv2 dW");
    copy_into(k2.w, k2d, "reorder conv2 W for bwd data");
    add("bwd conv2 data", convolution_backward_data(c2d),
        {{DNNL_ARG_DIFF_DST, da2}, {DNNL_ARG_WEIGHTS, k2d}, {DNNL_ARG_DIFF_SRC, dq1}},
        c2d.impl_info_str());
    add("bwd pool1", pooling_backward(p1b),
        {{DNNL_ARG_DIFF_DST, dq1}, {DNNL_ARG_WORKSPACE, ws1}, {DNNL_ARG_DIFF_SRC, da1}},
        p1b.impl_info_str());
    auto relu3 = relu_bwd_pd(c1f.dst_desc());
    add("bwd relu conv1", eltwise_backward(relu3),
        {{DNNL_ARG_DST, a1}, {DNNL_ARG_DIFF_DST, da1}, {DNNL_ARG_DIFF_SRC, da1}},
        relu3.impl_info_str());
    memory dk1 = like(k1.g, c1w.diff_weights_desc());
    add("bwd conv1 weights (+bias)", convolution_backward_weights(c1w),
        {{DNNL_ARG_SRC, x_in},
         {DNNL_ARG_DIFF_DST, da1},
         {DNNL_ARG_DIFF_WEIGHTS, dk1},
         {DNNL_ARG_DIFF_BIAS, b1.g}},
        c1w.impl_info_str());
    copy_into(dk1, k1.g, "reorder conv1 dW");
    stages.push_back({"Adam update (all params)", "", [this] {
                        ++t_;
                        const float step_size =
                            1e-3f * std::sqrt(1.f - std::pow(0.999f, static_cast<float>(t_))) /
                            (1.f - std::pow(0.9f, static_cast<float>(t_)));
                        for (AdamParam& p : params_)
                          adam_update(static_cast<float*>(p.w.get_data_handle()),
                                      static_cast<const float*>(p.g.get_data_handle()), p.m.data(),
                                      p.v.data(), p.m.size(), step_size);
                      }});
  }

  /// One full training step (forward, backward, update); returns the loss before the update.
  float step() {
    for (Stage& s : stages) s.run();
    return loss;
  }

  std::vector<Stage> stages;
  float loss = 0;

 private:
  /// Appends a stage that executes primitive p with args and waits for it.
  void add(const char* name, dnnl::primitive p, std::unordered_map<int, memory> args,
           const std::string& impl) {
    stages.push_back({name, impl, [this, p, args]() {
                        p.execute(st_, args);
                        st_.wait();
                      }});
  }

  /// m itself if it has layout d; otherwise a new memory of layout d (for copy_into to fill).
  memory like(const memory& m, const memory::desc& d) {
    return m.get_desc() == d ? m : memory(d, eng_);
  }

  /// Appends a reorder stage from -> to, unless both are the same memory.
  void copy_into(const memory& from, const memory& to, const char* name) {
    if (from.get_data_handle() != to.get_data_handle())
      add(name, dnnl::reorder(from, to), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}, "reorder");
  }

  dnnl::engine eng_;
  dnnl::stream st_;
  const int64_t* labels_;
  std::vector<AdamParam> params_;
  int64_t t_ = 0;  // Adam step count
};

/// Median times of one conv layer's forward, backward-weights and backward-data primitives (the
/// last only where the step needs it, i.e. input channels > 1) with activations in layout `act`
/// (tag::any: oneDNN's choice, blocked on this CPU; or tag::nhwc) and weights in the layout each
/// primitive picks, using algorithm `alg`; prints one line with the implementations chosen.
void conv_layout_line(const char* name, int64_t ic, int64_t oc, int64_t hw, tag act,
                      dnnl::algorithm alg, int reps) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream st(eng);
  const int64_t N = 64, ohw = hw - 2;
  const memory::dims one{1, 1}, zero{0, 0};
  memory::desc src({N, ic, hw, hw}, dt::f32, act), dst({N, oc, ohw, ohw}, dt::f32, act);
  memory::desc w({oc, ic, 3, 3}, dt::f32, tag::any), b({oc}, dt::f32, tag::x);
  convolution_forward::primitive_desc f(
      {prop_kind::forward_training, alg, src, w, b, dst, one, zero, zero}, eng);
  convolution_backward_weights::primitive_desc bw(
      {alg, f.src_desc(), w, b, f.dst_desc(), one, zero, zero}, eng, f);
  convolution_backward_data::primitive_desc bd(
      {alg, f.src_desc(), w, f.dst_desc(), one, zero, zero}, eng, f);
  memory s = zeros(f.src_desc(), eng), d = zeros(f.dst_desc(), eng),
         k = zeros(f.weights_desc(), eng);
  memory bias = zeros(b, eng), dk(bw.diff_weights_desc(), eng), db(b, eng);
  memory kd = zeros(bd.weights_desc(), eng), ds(f.src_desc(), eng);
  convolution_forward pf(f);
  convolution_backward_weights pbw(bw);
  convolution_backward_data pbd(bd);
  const double tf = median_ms(
      [&] {
        pf.execute(
            st,
            {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, k}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, d}});
        st.wait();
      },
      reps);
  const double tw = median_ms(
      [&] {
        pbw.execute(st, {{DNNL_ARG_SRC, s},
                         {DNNL_ARG_DIFF_DST, d},
                         {DNNL_ARG_DIFF_WEIGHTS, dk},
                         {DNNL_ARG_DIFF_BIAS, db}});
        st.wait();
      },
      reps);
  const double td = ic == 1 ? 0.0
                            : median_ms(
                                  [&] {
                                    pbd.execute(st, {{DNNL_ARG_DIFF_DST, d},
                                                     {DNNL_ARG_WEIGHTS, kd},
                                                     {DNNL_ARG_DIFF_SRC, ds}});
                                    st.wait();
                                  },
                                  reps);
  char data_ms[16] = "     -";
  if (ic > 1) std::snprintf(data_ms, sizeof data_ms, "%6.3f", td);
  std::printf("    %-5s %-7s %-6s fwd %6.3f   bwd weights %6.3f   bwd data %s   (%s / %s / %s)\n",
              name, act == tag::nhwc ? "nhwc" : "blocked",
              alg == algorithm::convolution_auto ? "auto" : "direct", tf, tw, data_ms,
              f.impl_info_str(), bw.impl_info_str(), ic == 1 ? "-" : bd.impl_info_str());
}

/// W3 (CNN training step, Adam): tapegrad's Sequential model against RawW3 on the same batch, the
/// loss of both over the first steps, the raw step's per-stage breakdown and a conv layout table.
void w3(int reps) {
  tg::manual_seed(1);
  tg::nn::Sequential model = tg::bench::w3_cnn();
  tg::Tensor x = tg::rand({64, 28, 28, 1});
  tg::Tensor y = tg::bench::random_labels(64);
  std::vector<int64_t> labels = y.to_vector<int64_t>();

  // Both sides train 30 steps from their initial weights first (warm-up, and a check that the
  // raw step's gradients are wired: its loss must fall).
  const int check_steps = 30;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  RawW3 raw_model(eng, x.data<float>(), labels.data(), 1);
  double ours_first = 0, ours_last = 0, raw_first = 0, raw_last = 0;
  for (int i = 0; i < check_steps; ++i) {
    const double l = model.train_on_batch(x, y).at("loss"), r = raw_model.step();
    (i == 0 ? ours_first : ours_last) = l;
    (i == 0 ? raw_first : raw_last) = r;
  }

  const double ours = median_ms([&] { model.train_on_batch(x, y); }, reps);
  const double raw = median_ms([&] { raw_model.step(); }, reps);
  std::printf(
      "W3 CNN step (Adam)                  tapegrad %8.2f ms   raw oneDNN primitives      %8.2f ms "
      "  ratio %.3f\n",
      ours, raw, raw / ours);
  std::printf(
      "  loss over %d steps on fixed random data: tapegrad %.4f -> %.4f   raw oneDNN %.4f -> "
      "%.4f\n",
      check_steps, ours_first, ours_last, raw_first, raw_last);

  // Per-stage breakdown of the raw step: each stage timed on its own (execute + wait), median of 20
  // steps.
  const int steps = 20;
  std::vector<std::vector<double>> t(raw_model.stages.size());
  for (int i = 0; i < steps; ++i)
    for (size_t s = 0; s < raw_model.stages.size(); ++s) {
      auto t0 = std::chrono::steady_clock::now();
      raw_model.stages[s].run();
      t[s].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  std::printf("  raw W3 step by stage (median of %d steps, ms):\n", steps);
  double total = 0;
  for (size_t s = 0; s < t.size(); ++s) {
    std::sort(t[s].begin(), t[s].end());
    total += t[s][t[s].size() / 2];
    std::printf("    %-30s %7.3f   %s\n", raw_model.stages[s].name.c_str(), t[s][t[s].size() / 2],
                raw_model.stages[s].impl.c_str());
  }
  std::printf("    %-30s %7.3f\n", "sum of stage medians", total);

  // What the blocked layouts buy for the convolutions, against nhwc (tapegrad's own activation
  // layout).
  std::printf(
      "  raw conv primitives alone by activation layout and algorithm (median of %d, ms):\n",
      steps);
  const auto direct = dnnl::algorithm::convolution_direct,
             autoalg = dnnl::algorithm::convolution_auto;
  conv_layout_line("conv1", 1, RawW3::C1, 28, tag::any, direct, steps);
  conv_layout_line("conv1", 1, RawW3::C1, 28, tag::nhwc, direct, steps);
  conv_layout_line("conv2", RawW3::C1, RawW3::C2, 13, tag::any, direct, steps);
  conv_layout_line("conv2", RawW3::C1, RawW3::C2, 13, tag::any, autoalg, steps);
  conv_layout_line("conv2", RawW3::C1, RawW3::C2, 13, tag::nhwc, direct, steps);
}

}  // namespace

int main() {
  std::printf("ratio = raw time / tapegrad time (1.0 = parity, higher is better for tapegrad)\n");
  w2(50);
  w3(40);
  w4(15);
  return 0;
}
