// Convolution, pooling, normalization, embedding, merge and recurrent layers: values against
// hand-worked numbers and independent double-precision loops, shapes, errors, training, saving
// and gradient checks of the ops the layers call.
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
using tg::test::f32;
using tg::test::set_values;
using tg::test::error_of;
using V = std::vector<double>;

Tensor rnd(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return uniform(s, lo, hi, seed);
}
V vals(const Tensor& t) { return t.to_vector<double>(); }



/// The weight named name of layer l (own weights and sublayers').
Tensor weight_of(nn::Layer& l, const std::string& name) {
  for (nn::Weight* w : l.weights())
    if (w->name == name) return w->value;
  FAIL("layer " << l.name() << " has no weight " << name);
  return {};
}

// ---------------------------------------------------------------------------------------------
// An independent NHWC convolution in double precision.

/// (before, after) padding of one axis: TF "same" (the odd cell after), "causal" (all before).
std::pair<int64_t, int64_t> pads_for(const std::string& mode, int64_t in, int64_t k, int64_t s,
                                     int64_t d) {
  const int64_t eff = (k - 1) * d + 1;
  if (mode == "valid") return {0, 0};
  if (mode == "causal") return {eff - 1, 0};
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + eff - in, 0);
  return {total / 2, total - total / 2};
}

struct ConvSpec {
  std::array<int64_t, 2> strides{1, 1}, dilation{1, 1};
  int64_t groups = 1;
  std::string padding = "valid";
};

/// y (N, OH, OW, F) of x (N, H, W, C) convolved with k (KH, KW, C / groups, F), written as the
/// definition: y[n, oh, ow, f] = Σ x[n, oh·s − pad + i·d, ow·s − pad + j·d, g·Cg + c]·k[i, j, c,
/// f].
V naive_conv2d(const V& x, const Shape& xs, const V& k, const Shape& ks, const ConvSpec& sp,
               Shape& ys) {
  const int64_t N = xs[0], H = xs[1], W = xs[2], C = xs[3];
  const int64_t KH = ks[0], KW = ks[1], CG = ks[2], F = ks[3], FG = F / sp.groups;
  REQUIRE(CG * sp.groups == C);
  auto [pt, pb] = pads_for(sp.padding, H, KH, sp.strides[0], sp.dilation[0]);
  auto [pl, pr] = pads_for(sp.padding, W, KW, sp.strides[1], sp.dilation[1]);
  const int64_t OH = (H + pt + pb - (KH - 1) * sp.dilation[0] - 1) / sp.strides[0] + 1;
  const int64_t OW = (W + pl + pr - (KW - 1) * sp.dilation[1] - 1) / sp.strides[1] + 1;
  ys = Shape{N, OH, OW, F};
  V y(static_cast<size_t>(N * OH * OW * F), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t f = 0; f < F; ++f) {
          const int64_t g = f / FG;
          double acc = 0;
          for (int64_t i = 0; i < KH; ++i)
            for (int64_t j = 0; j < KW; ++j) {
              const int64_t ih = oh * sp.strides[0] - pt + i * sp.dilation[0];
              const int64_t iw = ow * sp.strides[1] - pl + j * sp.dilation[1];
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              for (int64_t c = 0; c < CG; ++c)
                acc += x[((n * H + ih) * W + iw) * C + g * CG + c] *
                       k[((i * KW + j) * CG + c) * F + f];
            }
          y[((n * OH + oh) * OW + ow) * F + f] = acc;
        }
  return y;
}

/// Adds a per-channel bias to an NHWC (channels-last) buffer.
V plus_bias(V y, const V& b) {
  for (size_t i = 0; i < y.size(); ++i) y[i] += b[i % b.size()];
  return y;
}

/// Permutes a rank-4 buffer of shape s by order (out axis a = in axis order[a]).
V permute4(const V& x, const Shape& s, std::array<int, 4> order, Shape& out_shape) {
  out_shape = Shape{s[order[0]], s[order[1]], s[order[2]], s[order[3]]};
  V y(x.size());
  std::array<int64_t, 4> st{s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
  int64_t o = 0;
  for (int64_t a = 0; a < out_shape[0]; ++a)
    for (int64_t b = 0; b < out_shape[1]; ++b)
      for (int64_t c = 0; c < out_shape[2]; ++c)
        for (int64_t d = 0; d < out_shape[3]; ++d) {
          std::array<int64_t, 4> idx{a, b, c, d};
          int64_t src = 0;
          for (int q = 0; q < 4; ++q) src += idx[q] * st[order[q]];
          y[o++] = x[src];
        }
  return y;
}

double dot(const V& a, const V& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// ---------------------------------------------------------------------------------------------
// Independent recurrent cells in double precision (Keras equations).

double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }

struct RnnRef {
  V seq;   ///< (N, T, H) in processing order
  V h, c;  ///< final states (N, H)
};

/// Runs cell 'L' (LSTM: gates i, f, c, o), 'G' (GRU, reset_after: z, r, h) or 'S' (SimpleRNN) over
/// x (N, T, F) with kernel K (F, G·H), recurrent U (H, G·H) and bias b (LSTM/S: G·H; GRU: 2 × 3H).
RnnRef ref_rnn(char cell, const V& x, int64_t N, int64_t T, int64_t F, int64_t H, const V& K,
               const V& U, V b, V h0 = {}, V c0 = {}, bool backwards = false) {
  const int64_t G = cell == 'L' ? 4 : cell == 'G' ? 3 : 1, GH = G * H;
  if (b.empty()) b.assign(static_cast<size_t>(cell == 'G' ? 2 * GH : GH), 0.0);
  if (h0.empty()) h0.assign(static_cast<size_t>(N * H), 0.0);
  if (c0.empty()) c0.assign(static_cast<size_t>(N * H), 0.0);
  RnnRef r;
  r.seq.assign(static_cast<size_t>(N * T * H), 0.0);
  r.h = h0;
  r.c = c0;
  for (int64_t n = 0; n < N; ++n) {
    V h(h0.begin() + n * H, h0.begin() + (n + 1) * H),
        c(c0.begin() + n * H, c0.begin() + (n + 1) * H);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = backwards ? T - 1 - step : step;
      V xw(GH, 0.0), hu(GH, 0.0);
      for (int64_t j = 0; j < GH; ++j) {
        for (int64_t f = 0; f < F; ++f) xw[j] += x[(n * T + t) * F + f] * K[f * GH + j];
        for (int64_t q = 0; q < H; ++q) hu[j] += h[q] * U[q * GH + j];
      }
      V hn(H), cn(H);
      for (int64_t u = 0; u < H; ++u) {
        if (cell == 'L') {
          auto z = [&](int gate) { return xw[gate * H + u] + hu[gate * H + u] + b[gate * H + u]; };
          const double i = sigm(z(0)), f = sigm(z(1)), cc = std::tanh(z(2)), o = sigm(z(3));
          cn[u] = f * c[u] + i * cc;
          hn[u] = o * std::tanh(cn[u]);
        } else if (cell == 'G') {
          auto xg = [&](int gate) { return xw[gate * H + u] + b[gate * H + u]; };
          auto hg = [&](int gate) { return hu[gate * H + u] + b[GH + gate * H + u]; };
          const double z = sigm(xg(0) + hg(0)), rr = sigm(xg(1) + hg(1));
          const double hh = std::tanh(xg(2) + rr * hg(2));
          hn[u] = z * h[u] + (1 - z) * hh;
        } else {
          hn[u] = std::tanh(xw[u] + hu[u] + b[u]);
        }
      }
      h = hn;
      if (cell == 'L') c = cn;
      for (int64_t u = 0; u < H; ++u) r.seq[(n * T + step) * H + u] = h[u];
    }
    std::copy(h.begin(), h.end(), r.h.begin() + n * H);
    std::copy(c.begin(), c.end(), r.c.begin() + n * H);
  }
  return r;
}

/// A (N, T, H) buffer with its time axis reversed.
V reverse_time(const V& seq, int64_t N, int64_t T, int64_t H) {
  V y(seq.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t u = 0; u < H; ++u) y[(n * T + t) * H + u] = seq[(n * T + (T - 1 - t)) * H + u];
  return y;
}

/// Concatenation of two (R, A) and (R, B) buffers along the last axis.
V concat_last(const V& a, int64_t A, const V& b, int64_t B) {
  V y;
  const int64_t rows = static_cast<int64_t>(a.size()) / A;
  for (int64_t r = 0; r < rows; ++r) {
    y.insert(y.end(), a.begin() + r * A, a.begin() + (r + 1) * A);
    y.insert(y.end(), b.begin() + r * B, b.begin() + (r + 1) * B);
  }
  return y;
}

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "tapegrad_test_conv_rnn";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

// =============================================================================================
// Convolution
// =============================================================================================

TEST_CASE("Conv2D weight shapes follow Keras (kh, kw, in / groups, filters)", "[conv_rnn][conv]") {
  nn::Conv2D conv(6, {3, 2}, {.groups = 2});
  Tensor y = conv(rnd({2, 5, 5, 4}, 1));
  CHECK(conv->kernel().shape() == Shape{3, 2, 2, 6});
  CHECK(conv->bias().shape() == Shape{6});
  CHECK(y.shape() == Shape{2, 3, 4, 6});
  CHECK(conv->count_params() == 3 * 2 * 2 * 6 + 6);
  CHECK(vals(conv->bias()) == V(6, 0.0));  // zeros by default

  nn::Conv2D single(3, {2}, {.use_bias = false});  // one number means a square kernel
  single(rnd({1, 4, 4, 2}, 2));
  CHECK(single->kernel().shape() == Shape{2, 2, 2, 3});
  CHECK_FALSE(single->bias().defined());
  CHECK(single->trainable_weights().size() == 1);

  SECTION("errors name the layer") {
    CHECK_THROWS_AS(nn::Conv2D(5, {3, 3}, {.groups = 2}), ValueError);  // filters not divisible
    nn::Conv2D g(4, {1, 1}, {.groups = 2, .name = "grouped"});
    CHECK_THAT(error_of<ShapeError>([&] {
                 g(rnd({1, 3, 3, 3}, 3));
               }),
               Contains("Conv2D 'grouped'"));
    nn::Conv2D c(2, {2, 2}, {.name = "cv"});
    c(rnd({1, 4, 4, 3}, 4));
    CHECK_THAT(error_of<ShapeError>([&] { c(rnd({1, 4, 4, 2}, 5)); }), Contains("Conv2D 'cv'"));
    CHECK_THROWS_AS(nn::Conv2D(2, {3, 3})(rnd({1, 2, 2, 1}, 6)),
                    ShapeError);  // smaller than the kernel
  }
}

TEST_CASE("Conv2D 'same' puts the odd padding cell at the end (TensorFlow rule)",
          "[conv_rnn][conv]") {
  // x = [1, 2, 3] along the width, kernel [1, 1]: total padding 1, after the last cell, so the
  // windows are [1, 2], [2, 3], [3, 0] → 3, 5, 3 (padding in front would give 1, 3, 5).
  nn::Conv2D conv(1, {1, 2}, {.padding = "same", .use_bias = false, .kernel_initializer = "ones"});
  Tensor y = conv(f32({1, 2, 3}, {1, 1, 3, 1}));
  CHECK(y.shape() == Shape{1, 1, 3, 1});
  TG_CHECK_VALUES(y, (V{3, 5, 3}), 1e-6, 0);

  // 2 × 2 input, 2 × 2 kernel of ones: every output sums the cells below and to the right.
  nn::Conv2D sq(1, {2, 2}, {.padding = "same", .use_bias = false, .kernel_initializer = "ones"});
  TG_CHECK_VALUES(sq(f32({1, 2, 3, 4}, {1, 2, 2, 1})), (V{10, 6, 7, 4}), 1e-6, 0);

  // Stride 2 on 6 with kernel 3: out 3, total (3 − 1)·2 + 3 − 6 = 1 (after). Width 7: out 4,
  // total 2.
  nn::Conv2D st(1, {3, 3}, {.strides = {2, 2}, .padding = "same"});
  CHECK(st(rnd({1, 6, 7, 1}, 7)).shape() == Shape{1, 3, 4, 1});
  // Symbolic shapes agree.
  nn::Symbol in = nn::Input({6, 7, 1});
  CHECK(nn::Conv2D(2, {3, 3}, {.strides = {2, 2}, .padding = "same"})(in).shape() ==
        Shape{-1, 3, 4, 2});
  CHECK(nn::Conv2D(2, {3, 3}, {.strides = {2, 2}})(in).shape() == Shape{-1, 2, 3, 2});
}

TEST_CASE("Conv2D forward equals a direct NHWC convolution loop", "[conv_rnn][conv]") {
  struct Case {
    const char* what;
    Shape x;
    int64_t filters;
    std::vector<int64_t> k;
    ConvSpec spec;
  };
  const std::vector<Case> cases = {
      {"valid", {2, 5, 6, 3}, 4, {3, 2}, {}},
      {"same, odd total padding", {1, 5, 5, 2}, 3, {2, 2}, {.padding = "same"}},
      {"same, strides 2", {2, 6, 7, 2}, 3, {3, 3}, {.strides = {2, 2}, .padding = "same"}},
      {"valid, strides (2, 3)", {1, 7, 8, 2}, 2, {3, 2}, {.strides = {2, 3}}},
      {"valid, dilation 2", {1, 7, 7, 2}, 2, {3, 3}, {.dilation = {2, 2}}},
      {"same, dilation (2, 1)", {1, 6, 5, 2}, 2, {3, 2}, {.dilation = {2, 1}, .padding = "same"}},
      {"groups 2", {2, 4, 4, 4}, 6, {2, 2}, {.groups = 2}},
      {"groups 3, same, strides 2",
       {1, 5, 5, 3},
       3,
       {3, 3},
       {.strides = {2, 2}, .groups = 3, .padding = "same"}},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    SECTION(c.what) {
      nn::Conv2D conv(c.filters, c.k,
                      {.strides = {c.spec.strides[0], c.spec.strides[1]},
                       .padding = c.spec.padding,
                       .dilation_rate = {c.spec.dilation[0], c.spec.dilation[1]},
                       .groups = c.spec.groups,
                       .bias_initializer = nn::initializers::random_uniform(-0.5, 0.5, seed + 1)});
      Tensor x = rnd(c.x, seed);
      Tensor y = conv(x);
      Shape ys;
      V expected =
          naive_conv2d(vals(x), c.x, vals(conv->kernel()), conv->kernel().shape(), c.spec, ys);
      CHECK(y.shape() == ys);
      TG_CHECK_VALUES(y, plus_bias(expected, vals(conv->bias())), 1e-5, 1e-5);
    }
    seed += 10;
  }

  for (int64_t groups : {1, 3})
    SECTION("channels_first (NCHW input and output, same kernel layout), groups " +
            std::to_string(groups)) {
      nn::Conv2D conv(groups == 1 ? 2 : 6, {3, 3},
                      {.strides = {2, 2},
                       .padding = "same",
                       .data_format = "channels_first",
                       .groups = groups,
                       .bias_initializer = nn::initializers::random_uniform(-0.5, 0.5, 9)});
      Tensor x_nhwc = rnd({2, 5, 6, 3}, 8);
      Shape cs;
      V x_nchw = permute4(vals(x_nhwc), x_nhwc.shape(), {0, 3, 1, 2}, cs);
      Tensor y = conv(f32(x_nchw, cs));
      CHECK(conv->kernel().shape() == Shape{3, 3, 3 / groups, groups == 1 ? 2 : 6});
      Shape ys, ycs;
      V expected = plus_bias(
          naive_conv2d(vals(x_nhwc), x_nhwc.shape(), vals(conv->kernel()), conv->kernel().shape(),
                       {.strides = {2, 2}, .groups = groups, .padding = "same"}, ys),
          vals(conv->bias()));
      V expected_cf = permute4(expected, ys, {0, 3, 1, 2}, ycs);
      CHECK(y.shape() == ycs);
      TG_CHECK_VALUES(y, expected_cf, 1e-5, 1e-5);
    }

  SECTION("activation is applied after the bias") {
    nn::Conv2D conv(2, {2, 2},
                    {.activation = "relu", .bias_initializer = nn::initializers::constant(-0.1)});
    Tensor x = rnd({1, 3, 3, 2}, 77);
    conv->ensure_built({Shape{-1, 3, 3, 2}});
    Shape ys;
    V e = plus_bias(naive_conv2d(vals(x), x.shape(), vals(conv->kernel()), {2, 2, 2, 2}, {}, ys),
                    {-0.1, -0.1});
    for (double& v : e) v = std::max(v, 0.0);
    TG_CHECK_VALUES(conv(x), e, 1e-5, 1e-5);
  }
}

TEST_CASE("Conv1D: valid, same, causal, strides and dilation", "[conv_rnn][conv]") {
  SECTION("causal by hand: y[t] = 10·x[t] + x[t − 1]") {
    nn::Conv1D conv(1, 2, {.padding = "causal", .use_bias = false});
    Tensor x = f32({1, 2, 3, 4}, {1, 4, 1});
    conv->ensure_built({Shape{-1, 4, 1}});
    Tensor k = weight_of(*conv, "kernel");
    CHECK(k.shape() == Shape{2, 1, 1});
    set_values(k, {1, 10});
    Tensor y = conv(x);
    CHECK(y.shape() == Shape{1, 4, 1});
    TG_CHECK_VALUES(y, (V{10, 21, 32, 43}), 1e-6, 0);
  }
  SECTION("causal with dilation 2: y[t] = 10·x[t] + x[t − 2]") {
    nn::Conv1D conv(1, 2, {.padding = "causal", .dilation_rate = 2, .use_bias = false});
    conv->ensure_built({Shape{-1, 5, 1}});
    set_values(weight_of(*conv, "kernel"), {1, 10});
    TG_CHECK_VALUES(conv(f32({1, 2, 3, 4, 5}, {1, 5, 1})), (V{10, 20, 31, 42, 53}), 1e-6, 0);
  }
  SECTION("same by hand (odd cell at the end)") {
    nn::Conv1D conv(1, 2, {.padding = "same", .use_bias = false, .kernel_initializer = "ones"});
    TG_CHECK_VALUES(conv(f32({1, 2, 3, 4}, {1, 4, 1})), (V{3, 5, 7, 4}), 1e-6, 0);
  }
  SECTION("channels_first (N, C, W)") {
    nn::Conv1D conv(1, 2,
                    {.padding = "causal", .data_format = "channels_first", .use_bias = false});
    conv->ensure_built({Shape{-1, 2, 3}});
    Tensor k = weight_of(*conv, "kernel");
    CHECK(k.shape() == Shape{2, 2, 1});  // (k, in, filters)
    set_values(k,
               {1, 2, 10, 20});  // k[0] = (1, 2) on the previous step, k[1] = (10, 20) on this one
    // Channel 0 = [1, 2, 3], channel 1 = [4, 5, 6]: y[t] = 10·c0[t] + 20·c1[t] + c0[t−1] +
    // 2·c1[t−1].
    Tensor y = conv(f32({1, 2, 3, 4, 5, 6}, {1, 2, 3}));
    CHECK(y.shape() == Shape{1, 1, 3});
    TG_CHECK_VALUES(y, (V{90, 120 + 9, 150 + 12}), 1e-5, 0);
  }
  struct Case {
    const char* what;
    int64_t k, stride, dilation, groups;
    std::string padding;
  };
  for (const Case& c :
       {Case{"valid", 3, 1, 1, 1, "valid"}, Case{"same, stride 2", 3, 2, 1, 1, "same"},
        Case{"causal, stride 2, dilation 2", 2, 2, 2, 1, "causal"},
        Case{"valid, groups 2", 2, 1, 1, 2, "valid"},
        Case{"same, dilation 3", 2, 1, 3, 1, "same"}}) {
    SECTION(std::string("against the loop: ") + c.what) {
      nn::Conv1D conv(4, c.k,
                      {.strides = c.stride,
                       .padding = c.padding,
                       .dilation_rate = c.dilation,
                       .groups = c.groups,
                       .bias_initializer = nn::initializers::random_uniform(-1, 1, 3)});
      Tensor x = rnd({2, 9, 4}, 21);
      Tensor y = conv(x);
      Tensor k = weight_of(*conv, "kernel");
      CHECK(k.shape() == Shape{c.k, 4 / c.groups, 4});
      // A 1-D convolution is a 2-D one over an image of height 1 (the loop pads "causal" in front).
      Shape ys;
      V e = naive_conv2d(vals(x), {2, 1, 9, 4}, vals(k), {1, c.k, 4 / c.groups, 4},
                         {.strides = {1, c.stride},
                          .dilation = {1, c.dilation},
                          .groups = c.groups,
                          .padding = c.padding},
                         ys);
      CHECK(y.shape() == Shape{2, ys[2], 4});
      if (c.padding == "causal") CHECK(ys[2] == (9 - 1) / c.stride + 1);
      TG_CHECK_VALUES(y, plus_bias(e, vals(weight_of(*conv, "bias"))), 1e-5, 1e-5);
    }
  }
}

TEST_CASE("Conv2DTranspose: output lengths, values by hand and the adjoint identity",
          "[conv_rnn][conv]") {
  SECTION("output length in·stride (same) and in·stride + max(k − stride, 0) (valid)") {
    struct Case {
      int64_t in, k, s;
    };
    for (Case c : {Case{3, 3, 2}, Case{3, 1, 2}, Case{4, 5, 1}, Case{2, 2, 2}, Case{5, 4, 3},
                   Case{1, 3, 1}}) {
      INFO("in " << c.in << ", k " << c.k << ", stride " << c.s);
      Tensor x = rnd({1, c.in, c.in + 1, 2}, 3);
      nn::Conv2DTranspose same(3, {c.k, c.k}, {.strides = {c.s, c.s}, .padding = "same"});
      nn::Conv2DTranspose valid(3, {c.k, c.k}, {.strides = {c.s, c.s}, .padding = "valid"});
      const int64_t extra = std::max<int64_t>(c.k - c.s, 0);
      CHECK(same(x).shape() == Shape{1, c.in * c.s, (c.in + 1) * c.s, 3});
      CHECK(valid(x).shape() == Shape{1, c.in * c.s + extra, (c.in + 1) * c.s + extra, 3});
      CHECK(valid->weights()[0]->value.shape() == Shape{c.k, c.k, 3, 2});  // (kh, kw, filters, in)
    }
  }

  SECTION("stride 2, kernel 2, valid: each input cell stamps a scaled copy of the kernel") {
    nn::Conv2DTranspose tconv(
        1, {2, 2}, {.strides = {2, 2}, .bias_initializer = nn::initializers::constant(0.5)});
    tconv->ensure_built({Shape{-1, 2, 2, 1}});
    set_values(weight_of(*tconv, "kernel"), {1, 10, 100, 1000});
    Tensor y = tconv(f32({1, 2, 3, 4}, {1, 2, 2, 1}));
    CHECK(y.shape() == Shape{1, 4, 4, 1});
    TG_CHECK_VALUES(y,
                    (V{1.5, 10.5, 2.5, 20.5,          //
                       100.5, 1000.5, 200.5, 2000.5,  //
                       3.5, 30.5, 4.5, 40.5,          //
                       300.5, 3000.5, 400.5, 4000.5}),
                    1e-4, 1e-6);
  }

  SECTION("stride 1, kernel 2, valid on [1, 2]: the full correlation [1·a, 1·b + 2·a, 2·b]") {
    nn::Conv2DTranspose tconv(1, {1, 2}, {.use_bias = false});
    tconv->ensure_built({Shape{-1, 1, 2, 1}});
    set_values(weight_of(*tconv, "kernel"), {3, 5});  // a = 3, b = 5
    TG_CHECK_VALUES(tconv(f32({1, 2}, {1, 1, 2, 1})), (V{3, 11, 10}), 1e-6, 0);
  }

  // ⟨conv2d_transpose(y, k), x⟩ = ⟨y, conv2d(x, k)⟩, where conv2d is the direct loop reading the
  // kernel (kh, kw, filters, in) as a forward kernel from `filters` to `in` channels.
  struct Case {
    const char* what;
    int64_t h, w, k, s, d;
    std::string padding;
  };
  for (const Case& c : {Case{"valid, stride 2", 3, 4, 3, 2, 1, "valid"},
                        Case{"same, stride 2", 3, 4, 3, 2, 1, "same"},
                        Case{"valid, stride 3 > kernel 2", 2, 3, 2, 3, 1, "valid"},
                        Case{"same, stride 1, even kernel", 4, 3, 2, 1, 1, "same"},
                        Case{"same, kernel 4, stride 2", 3, 3, 4, 2, 1, "same"},
                        Case{"valid, dilation 2", 3, 3, 2, 1, 2, "valid"}}) {
    SECTION(std::string("adjoint identity: ") + c.what) {
      const int64_t C = 2, F = 3;
      nn::Conv2DTranspose tconv(F, {c.k, c.k},
                                {.strides = {c.s, c.s},
                                 .padding = c.padding,
                                 .dilation_rate = {c.d, c.d},
                                 .use_bias = false});
      Tensor y = rnd({2, c.h, c.w, C}, 41);
      Tensor out = tconv(y);
      Tensor kernel = weight_of(*tconv, "kernel");
      CHECK(kernel.shape() == Shape{c.k, c.k, F, C});
      const int64_t keff = (c.k - 1) * c.d + 1;
      const int64_t extra = c.padding == "same" ? 0 : std::max<int64_t>(keff - c.s, 0);
      CHECK(out.shape() == Shape{2, c.h * c.s + extra, c.w * c.s + extra, F});
      Tensor x = rnd(out.shape(), 42);
      Shape cs;
      V conv_x =
          naive_conv2d(vals(x), x.shape(), vals(kernel), kernel.shape(),
                       {.strides = {c.s, c.s}, .dilation = {c.d, c.d}, .padding = c.padding}, cs);
      REQUIRE(cs == y.shape());
      const double lhs = dot(vals(out), vals(x)), rhs = dot(vals(y), conv_x);
      CHECK(lhs == Approx(rhs).epsilon(1e-5).margin(1e-5));
    }
  }
  SECTION("channels_first: the adjoint identity on NCHW tensors") {
    nn::Conv2DTranspose tconv(
        3, {3, 2},
        {.strides = {2, 1}, .padding = "same", .data_format = "channels_first", .use_bias = false});
    Tensor y = rnd({2, 2, 3, 4}, 43);  // (N, C, H, W)
    Tensor out = tconv(y);
    CHECK(out.shape() == Shape{2, 3, 6, 4});
    Tensor kernel = weight_of(*tconv, "kernel");
    CHECK(kernel.shape() == Shape{3, 2, 3, 2});
    Tensor x = rnd(out.shape(), 44);
    Shape xs_nhwc, cs, ys_nhwc;
    V x_nhwc = permute4(vals(x), x.shape(), {0, 2, 3, 1}, xs_nhwc);
    V y_nhwc = permute4(vals(y), y.shape(), {0, 2, 3, 1}, ys_nhwc);
    V conv_x = naive_conv2d(x_nhwc, xs_nhwc, vals(kernel), kernel.shape(),
                            {.strides = {2, 1}, .padding = "same"}, cs);
    REQUIRE(cs == ys_nhwc);
    CHECK(dot(vals(out), vals(x)) == Approx(dot(y_nhwc, conv_x)).epsilon(1e-5).margin(1e-5));
  }
}

// =============================================================================================
// Pooling
// =============================================================================================

TEST_CASE("MaxPooling2D and AveragePooling2D by hand", "[conv_rnn][pool]") {
  V nine;
  for (int i = 1; i <= 9; ++i) nine.push_back(i);
  Tensor x = f32(nine, {1, 3, 3, 1});

  SECTION("valid, strides default to pool_size") {
    nn::MaxPooling2D mp({2, 2});
    nn::AveragePooling2D ap({2, 2});
    TG_CHECK_VALUES(mp(x), (V{5}), 0, 0);
    TG_CHECK_VALUES(ap(x), (V{3}), 1e-6, 0);
    CHECK(mp(x).shape() == Shape{1, 1, 1, 1});
    CHECK(mp->config().get<std::vector<int64_t>>("strides") == std::vector<int64_t>{2, 2});
  }
  SECTION("valid, strides 1") {
    TG_CHECK_VALUES(nn::MaxPooling2D({2, 2}, {.strides = {1, 1}})(x), (V{5, 6, 8, 9}), 0, 0);
    TG_CHECK_VALUES(nn::AveragePooling2D({2, 2}, {.strides = {1, 1}})(x), (V{3, 4, 6, 7}), 1e-6, 0);
  }
  SECTION("same, stride 2: padding after; average over real cells only") {
    TG_CHECK_VALUES(nn::MaxPooling2D({2, 2}, {.padding = "same"})(x), (V{5, 6, 8, 9}), 0, 0);
    TG_CHECK_VALUES(nn::AveragePooling2D({2, 2}, {.padding = "same"})(x), (V{3, 4.5, 7.5, 9}), 1e-6,
                    0);
    // Negative values: a padded zero must never win the max.
    TG_CHECK_VALUES(nn::MaxPooling2D({2, 2}, {.padding = "same"})(neg(x)), (V{-1, -3, -7, -9}), 0,
                    0);
  }
  SECTION("same, stride 1, 3 × 3 windows (one padded cell on each side)") {
    TG_CHECK_VALUES(nn::AveragePooling2D({3, 3}, {.strides = {1, 1}, .padding = "same"})(x),
                    (V{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}), 1e-6, 0);
    TG_CHECK_VALUES(nn::MaxPooling2D({3, 3}, {.strides = {1, 1}, .padding = "same"})(x),
                    (V{5, 6, 6, 8, 9, 9, 8, 9, 9}), 0, 0);
    TG_CHECK_VALUES(nn::MaxPooling2D({3, 3}, {.strides = {1, 1}, .padding = "same"})(neg(x)),
                    (V{-1, -1, -2, -1, -1, -2, -4, -4, -5}), 0, 0);
  }
  SECTION("same, 4 × 4 input, pool 3, stride 2: windows rows {0,1,2}, {2,3}") {
    V sixteen;
    for (int i = 1; i <= 16; ++i) sixteen.push_back(i);
    Tensor x4 = f32(sixteen, {1, 4, 4, 1});
    nn::AveragePooling2D ap({3, 3}, {.strides = {2, 2}, .padding = "same"});
    nn::MaxPooling2D mp({3, 3}, {.strides = {2, 2}, .padding = "same"});
    CHECK(ap(x4).shape() == Shape{1, 2, 2, 1});
    TG_CHECK_VALUES(ap(x4), (V{6, 7.5, 12, 13.5}), 1e-6, 0);
    TG_CHECK_VALUES(mp(x4), (V{11, 12, 15, 16}), 0, 0);
  }
  SECTION("channels and batch are pooled independently; rectangular windows") {
    // Two channels (c1 = 10·c0), two samples (the second negated).
    V v;
    for (int n = 0; n < 2; ++n)
      for (int i = 1; i <= 9; ++i)
        for (int c = 0; c < 2; ++c) v.push_back((n ? -1.0 : 1.0) * i * (c ? 10.0 : 1.0));
    Tensor xb = f32(v, {2, 3, 3, 2});
    // Pool (1, 3) along the rows: max of each row, per channel.
    TG_CHECK_VALUES(nn::MaxPooling2D({1, 3})(xb),
                    (V{3, 30, 6, 60, 9, 90, -1, -10, -4, -40, -7, -70}), 0, 0);
    TG_CHECK_VALUES(nn::AveragePooling2D({3, 1})(xb),
                    (V{4, 40, 5, 50, 6, 60, -4, -40, -5, -50, -6, -60}), 1e-5, 0);
  }
  SECTION("channels_first") {
    V v;  // (1, 2, 2, 2) NCHW: channel 0 = 1..4, channel 1 = 5..8
    for (int i = 1; i <= 8; ++i) v.push_back(i);
    Tensor xc = f32(v, {1, 2, 2, 2});
    Tensor y = nn::MaxPooling2D({2, 2}, {.data_format = "channels_first"})(xc);
    CHECK(y.shape() == Shape{1, 2, 1, 1});
    TG_CHECK_VALUES(y, (V{4, 8}), 0, 0);
    TG_CHECK_VALUES(nn::AveragePooling2D({2, 2}, {.data_format = "channels_first"})(xc),
                    (V{2.5, 6.5}), 1e-6, 0);
  }
}

TEST_CASE("Global pooling averages or maxes over the spatial axes", "[conv_rnn][pool]") {
  // (2, 2, 2, 2): sample 0 channel 0 = 1..4, channel 1 = −1..−4; sample 1 = 10× sample 0.
  V v;
  for (int n = 0; n < 2; ++n)
    for (int i = 1; i <= 4; ++i)
      for (int c = 0; c < 2; ++c) v.push_back((n ? 10.0 : 1.0) * (c ? -i : i));
  Tensor x = f32(v, {2, 2, 2, 2});
  Tensor avg = nn::GlobalAveragePooling2D()(x);
  CHECK(avg.shape() == Shape{2, 2});
  TG_CHECK_VALUES(avg, (V{2.5, -2.5, 25, -25}), 1e-5, 0);
  TG_CHECK_VALUES(nn::GlobalMaxPooling2D()(x), (V{4, -1, 40, -10}), 0, 0);
  Tensor kept = nn::GlobalMaxPooling2D({.keepdims = true})(x);
  CHECK(kept.shape() == Shape{2, 1, 1, 2});
  Tensor cf =
      nn::GlobalAveragePooling2D({.data_format = "channels_first"})(x);  // channels on axis 1
  CHECK(cf.shape() == Shape{2, 2});
  // Sample 0 read as NCHW: channel 0 = {1, −1, 2, −2}, channel 1 = {3, −3, 4, −4}: both average 0.
  TG_CHECK_VALUES(cf, (V{0, 0, 0, 0}), 1e-5, 0);
}

// =============================================================================================
// Normalization and embedding
// =============================================================================================

TEST_CASE("BatchNormalization: batch statistics, moving averages, inference, frozen",
          "[conv_rnn][norm]") {
  // Two features over a batch of 4: f0 = [1, 2, 3, 6] (mean 3, biased var 3.5), f1 = [0, 0, 4, 4]
  // (mean 2, var 4).
  Tensor x = f32({1, 0, 2, 0, 3, 4, 6, 4}, {4, 2});
  const double eps = 1e-3;
  const V mean{3, 2}, var{3.5, 4};
  auto normalized = [&](const V& m, const V& v, const V& gamma, const V& beta) {
    V xs = vals(x), y;
    for (size_t i = 0; i < xs.size(); ++i) {
      const size_t c = i % 2;
      y.push_back((xs[i] - m[c]) / std::sqrt(v[c] + eps) * gamma[c] + beta[c]);
    }
    return y;
  };
  nn::BatchNormalization bn({.name = "bn"});

  SECTION("weights: gamma, beta trainable; moving_mean, moving_variance not") {
    bn->ensure_built({Shape{-1, 2}});
    CHECK(bn->trainable_weights().size() == 2);
    CHECK(bn->non_trainable_weights().size() == 2);
    CHECK(bn->count_params() == 8);
    CHECK(vals(bn->moving_mean()) == V{0, 0});
    CHECK(vals(bn->moving_variance()) == V{1, 1});
  }
  SECTION("training normalises with the batch and updates moving = 0.99·moving + 0.01·batch") {
    Tensor y = bn(x, /*training=*/true);
    TG_CHECK_VALUES(y, normalized(mean, var, {1, 1}, {0, 0}), 1e-5, 1e-5);
    V mm{0.99 * 0 + 0.01 * mean[0], 0.99 * 0 + 0.01 * mean[1]};
    V mv{0.99 * 1 + 0.01 * var[0], 0.99 * 1 + 0.01 * var[1]};  // the biased variance (÷ 4, not ÷ 3)
    TG_CHECK_VALUES(bn->moving_mean(), mm, 1e-6, 1e-6);
    TG_CHECK_VALUES(bn->moving_variance(), mv, 1e-6, 1e-6);
    // A second step compounds.
    bn(x, true);
    TG_CHECK_VALUES(bn->moving_mean(),
                    (V{0.99 * mm[0] + 0.01 * mean[0], 0.99 * mm[1] + 0.01 * mean[1]}), 1e-6, 1e-6);
    TG_CHECK_VALUES(bn->moving_variance(),
                    (V{0.99 * mv[0] + 0.01 * var[0], 0.99 * mv[1] + 0.01 * var[1]}), 1e-6, 1e-6);
    // Inference uses the moving statistics, with gamma and beta.
    set_values(weight_of(*bn, "gamma"), {2, -1});
    set_values(weight_of(*bn, "beta"), {0.5, 3});
    V m2 = vals(bn->moving_mean()), v2 = vals(bn->moving_variance());
    TG_CHECK_VALUES(bn(x, false), normalized(m2, v2, {2, -1}, {0.5, 3}), 1e-5, 1e-5);
    TG_CHECK_VALUES(bn->moving_mean(), m2, 0, 0);  // inference changes nothing
  }
  SECTION("inference before any training: (x − 0) / sqrt(1 + eps)") {
    TG_CHECK_VALUES(bn(x, false), normalized({0, 0}, {1, 1}, {1, 1}, {0, 0}), 1e-6, 1e-6);
  }
  SECTION("a frozen layer (trainable = false) runs in inference mode even when training") {
    bn->ensure_built({Shape{-1, 2}});
    bn->set_trainable(false);
    CHECK(bn->trainable_weights().empty());
    CHECK(bn->non_trainable_weights().size() == 4);
    TG_CHECK_VALUES(bn(x, true), normalized({0, 0}, {1, 1}, {1, 1}, {0, 0}), 1e-6, 1e-6);
    CHECK(vals(bn->moving_mean()) == V{0, 0});
    CHECK(vals(bn->moving_variance()) == V{1, 1});
  }
  SECTION("custom momentum and epsilon; images (N, H, W, C) reduce over N, H, W") {
    nn::BatchNormalization bn2({.momentum = 0.5, .epsilon = 0.1});
    // (2, 1, 2, 1): values 1, 3, 5, 7 → mean 4, biased var 5.
    Tensor img = f32({1, 3, 5, 7}, {2, 1, 2, 1});
    TG_CHECK_VALUES(
        bn2(img, true),
        (V{-3 / std::sqrt(5.1), -1 / std::sqrt(5.1), 1 / std::sqrt(5.1), 3 / std::sqrt(5.1)}), 1e-5,
        1e-5);
    TG_CHECK_VALUES(bn2->moving_mean(), (V{2}), 1e-6, 0);
    TG_CHECK_VALUES(bn2->moving_variance(), (V{3}), 1e-6, 0);
  }
  SECTION("axis 1 (channels_first images)") {
    nn::BatchNormalization bn3({.axis = 1});
    // (2, 2, 1, 1): channel 0 = {1, 3}, channel 1 = {10, 30}.
    Tensor img = f32({1, 10, 3, 30}, {2, 2, 1, 1});
    Tensor y = bn3(img, true);
    const double a = 1 / std::sqrt(1 + eps), b = 10 / std::sqrt(100 + eps);
    TG_CHECK_VALUES(y, (V{-a, -b, a, b}), 1e-5, 1e-5);
    TG_CHECK_VALUES(bn3->moving_mean(), (V{0.02, 0.2}), 1e-6, 1e-6);
    TG_CHECK_VALUES(bn3->moving_variance(), (V{0.99 + 0.01, 0.99 + 1.0}), 1e-6, 1e-6);
  }
}

TEST_CASE("LayerNormalization by hand", "[conv_rnn][norm]") {
  // Row 0 = [1, 2, 3]: mean 2, var 2/3. Row 1 = [2, 4, 9]: mean 5, var 26/3.
  Tensor x = f32({1, 2, 3, 2, 4, 9}, {2, 3});
  const double eps = 1e-3, s0 = std::sqrt(2.0 / 3 + eps), s1 = std::sqrt(26.0 / 3 + eps);
  nn::LayerNormalization ln;
  TG_CHECK_VALUES(ln(x), (V{-1 / s0, 0, 1 / s0, -3 / s1, -1 / s1, 4 / s1}), 1e-5, 1e-5);
  CHECK(ln->trainable_weights().size() == 2);
  set_values(weight_of(*ln, "gamma"), {1, 2, 3});
  set_values(weight_of(*ln, "beta"), {0.5, 0, -1});
  TG_CHECK_VALUES(ln(x), (V{-1 / s0 + 0.5, 0, 3 / s0 - 1, -3 / s1 + 0.5, -2 / s1, 12 / s1 - 1}),
                  1e-5, 1e-5);
  // Training and inference agree (no moving statistics).
  TG_CHECK_VALUES(ln(x, true), vals(ln(x, false)), 0, 0);
  // Over the last two axes of (1, 2, 2): one group of four values 1, 2, 3, 6 (mean 3, var 3.5).
  nn::LayerNormalization ln2({.axis = {-2, -1}, .epsilon = 0.5});
  const double s = std::sqrt(3.5 + 0.5);
  TG_CHECK_VALUES(ln2(f32({1, 2, 3, 6}, {1, 2, 2})), (V{-2 / s, -1 / s, 0, 3 / s}), 1e-5, 1e-5);
}

TEST_CASE("Embedding looks rows up; an out-of-range index names the layer",
          "[conv_rnn][embedding]") {
  nn::Embedding emb(5, 3, {.name = "words"});
  emb->ensure_built({Shape{-1, 2}});
  Tensor table = weight_of(*emb, "embeddings");
  CHECK(table.shape() == Shape{5, 3});
  V t;
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 3; ++c) t.push_back(10 * r + c);
  set_values(table, t);
  Tensor y = emb(tensor(std::vector<int64_t>{0, 4, 2, 2}, {2, 2}));
  CHECK(y.shape() == Shape{2, 2, 3});
  TG_CHECK_VALUES(y, (V{0, 1, 2, 40, 41, 42, 20, 21, 22, 20, 21, 22}), 0, 0);
  // Float-typed indices are accepted, as in Keras.
  TG_CHECK_VALUES(emb(f32({3, 1}, {1, 2})), (V{30, 31, 32, 10, 11, 12}), 0, 0);

  const std::string too_big = error_of<IndexError>([&] {
    emb(tensor(std::vector<int64_t>{1, 5}, {1, 2}));
  });
  CHECK_THAT(too_big, Contains("Embedding 'words'"));
  CHECK_THAT(too_big, Contains("5"));
  CHECK_THAT(error_of<IndexError>([&] {
               emb(tensor(std::vector<int64_t>{-1, 0}, {1, 2}));
             }),
             Contains("Embedding 'words'"));

  SECTION("the gradient reaches only the rows looked up (repeats add)") {
    Tensor loss = sum(emb(tensor(std::vector<int64_t>{2, 2, 0}, {1, 3})));
    loss.backward();
    TG_CHECK_VALUES(table.grad(), (V{1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0}), 0, 0);
  }
}

// =============================================================================================
// Recurrent layers
// =============================================================================================

TEST_CASE("RNN weight shapes, unit_forget_bias and orthogonal recurrent kernels",
          "[conv_rnn][rnn]") {
  const int64_t F = 3, H = 4;
  nn::LSTM lstm(H);
  lstm(rnd({2, 5, F}, 1));
  CHECK(weight_of(*lstm, "kernel").shape() == Shape{F, 4 * H});
  CHECK(weight_of(*lstm, "recurrent_kernel").shape() == Shape{H, 4 * H});
  Tensor b = weight_of(*lstm, "bias");
  CHECK(b.shape() == Shape{4 * H});
  V expected_bias(4 * H, 0.0);
  for (int64_t u = H; u < 2 * H; ++u)
    expected_bias[u] = 1.0;  // the forget slice (order i, f, c, o)
  CHECK(vals(b) == expected_bias);
  CHECK(lstm->count_params() == F * 4 * H + H * 4 * H + 4 * H);

  nn::LSTM no_fb(H, {.unit_forget_bias = false});
  no_fb(rnd({1, 2, F}, 2));
  CHECK(vals(weight_of(*no_fb, "bias")) == V(4 * H, 0.0));

  nn::GRU gru(H);
  gru(rnd({2, 5, F}, 3));
  CHECK(weight_of(*gru, "kernel").shape() == Shape{F, 3 * H});
  CHECK(weight_of(*gru, "recurrent_kernel").shape() == Shape{H, 3 * H});
  CHECK(weight_of(*gru, "bias").shape() == Shape{2, 3 * H});

  nn::SimpleRNN rnn(H);
  rnn(rnd({2, 5, F}, 4));
  CHECK(weight_of(*rnn, "kernel").shape() == Shape{F, H});
  CHECK(weight_of(*rnn, "recurrent_kernel").shape() == Shape{H, H});
  CHECK(weight_of(*rnn, "bias").shape() == Shape{H});

  nn::LSTM nb(H, {.use_bias = false});
  nb(rnd({1, 2, F}, 5));
  CHECK(nb->weights().size() == 2);

  // Orthogonal: the rows of U (H × G·H) are orthonormal, U·Uᵀ = I; for SimpleRNN U is square
  // and also Uᵀ·U = I.
  auto gram_rows = [](const Tensor& u) {
    const int64_t r = u.shape()[0], c = u.shape()[1];
    V m = vals(u), g(static_cast<size_t>(r * r), 0.0);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < r; ++j)
        for (int64_t k = 0; k < c; ++k) g[i * r + j] += m[i * c + k] * m[j * c + k];
    return g;
  };
  auto identity = [](int64_t n) {
    V e(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i) e[i * n + i] = 1.0;
    return e;
  };
  for (nn::Layer* l :
       {static_cast<nn::Layer*>(lstm.ptr().get()), static_cast<nn::Layer*>(gru.ptr().get()),
        static_cast<nn::Layer*>(rnn.ptr().get())}) {
    INFO(l->name());
    std::string msg =
        test::compare_values(gram_rows(weight_of(*l, "recurrent_kernel")), identity(H), 1e-5, 0);
    INFO(msg);
    CHECK(msg.empty());
  }
  Tensor u = weight_of(*rnn, "recurrent_kernel");
  std::string msg = test::compare_values(gram_rows(u.t().contiguous()), identity(H), 1e-5, 0);
  INFO(msg);
  CHECK(msg.empty());

  SECTION("errors") {
    CHECK_THROWS_AS(nn::LSTM(0), ValueError);
    nn::LSTM l(2, {.name = "seq"});
    CHECK_THAT(error_of<ShapeError>([&] { l(rnd({2, 3}, 1)); }), Contains("LSTM 'seq'"));
    l(rnd({2, 3, 4}, 1));
    CHECK_THAT(error_of<ShapeError>([&] { l(rnd({2, 3, 5}, 1)); }), Contains("LSTM 'seq'"));
    CHECK_THROWS_AS(l(std::vector<Tensor>{rnd({2, 3, 4}, 1), zeros({2, 2})}),
                    ValueError);  // h without c
  }
}

namespace {
/// Builds a recurrent layer for (T, F) inputs and gives it random weights (bias included).
template <class L>
void randomize(L& layer, int64_t T, int64_t F, uint64_t seed) {
  layer->ensure_built({Shape{-1, T, F}});
  for (nn::Weight* w : layer->weights()) {
    set_values(w->value, vals(rnd(w->value.shape(), seed++, -0.8, 0.8)));
  }
}
struct RnnWeights {
  V K, U, b;
};
RnnWeights weights_of(nn::Layer& l) {
  RnnWeights w{vals(weight_of(l, "kernel")), vals(weight_of(l, "recurrent_kernel")), {}};
  for (nn::Weight* x : l.weights())
    if (x->name == "bias") w.b = vals(x->value);
  return w;
}
}  // namespace

TEST_CASE("LSTM equals a step-by-step Keras LSTM in double precision", "[conv_rnn][rnn][lstm]") {
  const int64_t N = 2, T = 4, F = 3, H = 2;
  Tensor x = rnd({N, T, F}, 11);
  const V xv = vals(x);

  SECTION("last output, sequences and states") {
    nn::LSTM last(H);
    randomize(last, T, F, 50);
    RnnWeights w = weights_of(*last);
    RnnRef ref = ref_rnn('L', xv, N, T, F, H, w.K, w.U, w.b);
    Tensor y = last(x);
    CHECK(y.shape() == Shape{N, H});
    TG_CHECK_VALUES(y, ref.h, 1e-5, 1e-4);

    nn::LSTM full(H, {.return_sequences = true, .return_state = true});
    full->ensure_built({Shape{-1, T, F}});
    for (const char* n : {"kernel", "recurrent_kernel", "bias"})
      set_values(weight_of(*full, n), vals(weight_of(*last, n)));
    std::vector<Tensor> out = full(std::vector<Tensor>{x});
    REQUIRE(out.size() == 3);
    CHECK(out[0].shape() == Shape{N, T, H});
    CHECK(out[1].shape() == Shape{N, H});
    CHECK(out[2].shape() == Shape{N, H});
    TG_CHECK_VALUES(out[0], ref.seq, 1e-5, 1e-4);
    TG_CHECK_VALUES(out[1], ref.h, 1e-5, 1e-4);
    TG_CHECK_VALUES(out[2], ref.c, 1e-5, 1e-4);
    // Symbolic call: three outputs with these shapes.
    auto syms = full(std::vector<nn::Symbol>{nn::Input({T, F})});
    REQUIRE(syms.size() == 3);
    CHECK(syms[0].shape() == Shape{-1, T, H});
    CHECK(syms[2].shape() == Shape{-1, H});
  }
  SECTION("initial states as extra inputs") {
    nn::LSTM l(H, {.return_state = true});
    randomize(l, T, F, 60);
    RnnWeights w = weights_of(*l);
    Tensor h0 = rnd({N, H}, 12), c0 = rnd({N, H}, 13);
    RnnRef ref = ref_rnn('L', xv, N, T, F, H, w.K, w.U, w.b, vals(h0), vals(c0));
    std::vector<Tensor> out = l(std::vector<Tensor>{x, h0, c0});
    TG_CHECK_VALUES(out[0], ref.h, 1e-5, 1e-4);
    TG_CHECK_VALUES(out[1], ref.h, 1e-5, 1e-4);
    TG_CHECK_VALUES(out[2], ref.c, 1e-5, 1e-4);
    // Different initial states give different outputs.
    CHECK(test::compare_values(vals(l(std::vector<Tensor>{x})[0]), ref.h, 1e-3, 0) != "");
  }
  SECTION("go_backwards: the reversed sequence, outputs in processing order") {
    nn::LSTM l(H, {.return_sequences = true, .go_backwards = true});
    randomize(l, T, F, 70);
    RnnWeights w = weights_of(*l);
    RnnRef ref = ref_rnn('L', xv, N, T, F, H, w.K, w.U, w.b, {}, {}, /*backwards=*/true);
    TG_CHECK_VALUES(l(x), ref.seq, 1e-5, 1e-4);
  }
  SECTION("without bias") {
    nn::LSTM l(H, {.use_bias = false});
    randomize(l, T, F, 80);
    RnnWeights w = weights_of(*l);
    CHECK(w.b.empty());
    TG_CHECK_VALUES(l(x), ref_rnn('L', xv, N, T, F, H, w.K, w.U, {}).h, 1e-5, 1e-4);
  }
  SECTION("by hand: one unit, one step, zero weights but a bias") {
    // i = σ(0) = ½, f irrelevant (c0 = 0), c̃ = tanh(1), o = σ(2): h = σ(2)·tanh(½·tanh(1)).
    nn::LSTM l(1, {.kernel_initializer = "zeros",
                   .recurrent_initializer = "zeros",
                   .unit_forget_bias = false});
    l->ensure_built({Shape{-1, 1, 1}});
    set_values(weight_of(*l, "bias"), {0, 5, 1, 2});
    TG_CHECK_VALUES(l(f32({3}, {1, 1, 1})), (V{sigm(2) * std::tanh(0.5 * std::tanh(1.0))}), 1e-6,
                    1e-6);
  }
}

TEST_CASE("GRU (reset_after) equals a step-by-step Keras GRU in double precision",
          "[conv_rnn][rnn][gru]") {
  const int64_t N = 2, T = 5, F = 2, H = 3;
  Tensor x = rnd({N, T, F}, 21);
  const V xv = vals(x);
  nn::GRU g(H, {.return_sequences = true, .return_state = true});
  randomize(g, T, F, 90);
  RnnWeights w = weights_of(*g);
  REQUIRE(w.b.size() == 2 * 3 * H);
  RnnRef ref = ref_rnn('G', xv, N, T, F, H, w.K, w.U, w.b);
  std::vector<Tensor> out = g(std::vector<Tensor>{x});
  REQUIRE(out.size() == 2);
  CHECK(out[0].shape() == Shape{N, T, H});
  TG_CHECK_VALUES(out[0], ref.seq, 1e-5, 1e-4);
  TG_CHECK_VALUES(out[1], ref.h, 1e-5, 1e-4);

  SECTION("initial state and go_backwards") {
    nn::GRU gb(H, {.go_backwards = true});
    randomize(gb, T, F, 95);
    RnnWeights wb = weights_of(*gb);
    Tensor h0 = rnd({N, H}, 22);
    RnnRef rb = ref_rnn('G', xv, N, T, F, H, wb.K, wb.U, wb.b, vals(h0), {}, true);
    TG_CHECK_VALUES(gb(std::vector<Tensor>{x, h0})[0], rb.h, 1e-5, 1e-4);
  }
  SECTION("by hand: the recurrent bias sits inside the reset gate's product") {
    // One unit, zero kernels, h0 = 1: z = σ(bz + bz'), r = σ(br + br'), hh = tanh(bh + r·bh'),
    // h = z·1 + (1 − z)·hh.
    nn::GRU g1(1, {.kernel_initializer = "zeros", .recurrent_initializer = "zeros"});
    g1->ensure_built({Shape{-1, 1, 1}});
    set_values(weight_of(*g1, "bias"), {0.5, -1, 0.3, /*recurrent row*/ 0.25, 2, -0.7});
    const double z = sigm(0.75), r = sigm(1.0), hh = std::tanh(0.3 + r * -0.7);
    TG_CHECK_VALUES(g1(std::vector<Tensor>{f32({1}, {1, 1, 1}), f32({1}, {1, 1})})[0],
                    (V{z + (1 - z) * hh}), 1e-6, 1e-6);
  }
}

TEST_CASE("SimpleRNN equals h = tanh(x·W + h·U + b) step by step", "[conv_rnn][rnn]") {
  const int64_t N = 3, T = 4, F = 2, H = 3;
  Tensor x = rnd({N, T, F}, 31);
  nn::SimpleRNN r(H, {.return_sequences = true});
  randomize(r, T, F, 100);
  RnnWeights w = weights_of(*r);
  RnnRef ref = ref_rnn('S', vals(x), N, T, F, H, w.K, w.U, w.b);
  TG_CHECK_VALUES(r(x), ref.seq, 1e-5, 1e-4);
  nn::SimpleRNN rs(H, {.return_state = true, .go_backwards = true});
  randomize(rs, T, F, 110);
  RnnWeights ws = weights_of(*rs);
  Tensor h0 = rnd({N, H}, 32);
  RnnRef rb = ref_rnn('S', vals(x), N, T, F, H, ws.K, ws.U, ws.b, vals(h0), {}, true);
  std::vector<Tensor> out = rs(std::vector<Tensor>{x, h0});
  REQUIRE(out.size() == 2);
  TG_CHECK_VALUES(out[0], rb.h, 1e-5, 1e-4);
  TG_CHECK_VALUES(out[1], rb.h, 1e-5, 1e-4);
}

TEST_CASE("Bidirectional equals two separately built layers with copied weights",
          "[conv_rnn][rnn][bidirectional]") {
  const int64_t N = 2, T = 4, F = 3, H = 2;
  Tensor x = rnd({N, T, F}, 41);

  auto check_mode = [&](bool sequences, const std::string& mode, bool gru) {
    INFO("merge_mode " << mode << ", return_sequences " << sequences << (gru ? ", GRU" : ", LSTM"));
    nn::RNNOptions o{.return_sequences = sequences};
    std::shared_ptr<nn::RNNLayer> inner = gru ? nn::GRU(H, o).ptr() : nn::LSTM(H, o).ptr();
    nn::Bidirectional bi(nn::LayerHandle<nn::RNNLayer>(inner), {.merge_mode = mode});
    Tensor y = bi(x);
    auto subs = bi->sublayers();
    REQUIRE(subs.size() == 2);
    CHECK(bi->weights().size() == 6);  // kernel, recurrent_kernel, bias of each direction
    // The two directions have their own weights.
    CHECK_FALSE(weight_of(*subs[0], "kernel").is_same(weight_of(*subs[1], "kernel")));

    nn::RNNOptions fo = o, bo = o;
    bo.go_backwards = true;
    std::shared_ptr<nn::RNNLayer> fw = gru ? nn::GRU(H, fo).ptr() : nn::LSTM(H, fo).ptr();
    std::shared_ptr<nn::RNNLayer> bw = gru ? nn::GRU(H, bo).ptr() : nn::LSTM(H, bo).ptr();
    for (auto [dst, src] : {std::pair{fw, subs[0]}, std::pair{bw, subs[1]}}) {
      dst->ensure_built({Shape{-1, T, F}});
      for (const char* n : {"kernel", "recurrent_kernel", "bias"})
        set_values(weight_of(*dst, n), vals(weight_of(*src, n)));
    }
    V f = vals((*fw)(x)), b = vals((*bw)(x));
    if (sequences) b = reverse_time(b, N, T, H);  // back to input order
    V expected;
    if (mode == "concat") {
      expected = concat_last(f, H, b, H);
      CHECK(y.shape() == (sequences ? Shape{N, T, 2 * H} : Shape{N, 2 * H}));
    } else {
      CHECK(y.shape() == (sequences ? Shape{N, T, H} : Shape{N, H}));
      for (size_t i = 0; i < f.size(); ++i)
        expected.push_back(mode == "sum"   ? f[i] + b[i]
                           : mode == "mul" ? f[i] * b[i]
                                           : (f[i] + b[i]) / 2);
    }
    TG_CHECK_VALUES(y, expected, 1e-6, 1e-5);
  };
  for (bool seq : {true, false})
    for (const char* mode : {"concat", "sum", "ave", "mul"}) check_mode(seq, mode, false);
  check_mode(true, "concat", true);

  SECTION("the backward direction really runs over the reversed sequence") {
    // With return_sequences, output step 0 of the backward half has seen the whole sequence:
    // it equals the final state of a forward layer run on the reversed input.
    nn::LSTM inner(H, {.return_sequences = true});
    nn::Bidirectional bi(inner);
    Tensor y = bi(x);
    RnnWeights wb = weights_of(*bi->sublayers()[1]);
    RnnRef ref = ref_rnn('L', vals(x), N, T, F, H, wb.K, wb.U, wb.b, {}, {}, true);
    V bwd_half;
    V yv = vals(y);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t u = 0; u < H; ++u) bwd_half.push_back(yv[(n * T + t) * 2 * H + H + u]);
    TG_CHECK_VALUES(f32(bwd_half, {N, T, H}), reverse_time(ref.seq, N, T, H), 1e-5, 1e-4);
  }
  SECTION("errors") {
    CHECK_THROWS_AS(nn::Bidirectional(nn::LSTM(2), {.merge_mode = "max"}), ValueError);
    CHECK_THROWS_AS(nn::Bidirectional(nn::LSTM(2, {.return_state = true})), ValueError);
  }
}

TEST_CASE("TimeDistributed(Dense) applies the Dense to every timestep",
          "[conv_rnn][timedistributed]") {
  const int64_t N = 2, T = 3, F = 4, U = 5;
  Tensor x = rnd({N, T, F}, 51);
  nn::Dense dense(U, {.bias_initializer = nn::initializers::random_uniform(-1, 1, 52)});
  nn::TimeDistributed td(dense);
  Tensor y = td(x);
  CHECK(y.shape() == Shape{N, T, U});
  CHECK(td->weights().size() == 2);  // the Dense's weights are the wrapper's
  V K = vals(dense->kernel()), b = vals(dense->bias()), xv = vals(x), expected;
  for (int64_t r = 0; r < N * T; ++r)
    for (int64_t u = 0; u < U; ++u) {
      double acc = b[u];
      for (int64_t f = 0; f < F; ++f) acc += xv[r * F + f] * K[f * U + u];
      expected.push_back(acc);
    }
  TG_CHECK_VALUES(y, expected, 1e-5, 1e-5);
  // Timestep by timestep through the same Dense.
  for (int64_t t = 0; t < T; ++t)
    TG_CHECK_VALUES(y.select(1, t), vals(dense(x.select(1, t))), 1e-6, 1e-6);

  SECTION("wrapping a Conv2D over (N, T, H, W, C)") {
    nn::Conv2D conv(2, {3, 3});
    nn::TimeDistributed tc(conv);
    Tensor frames = rnd({2, 3, 5, 5, 1}, 53);
    Tensor out = tc(frames);
    CHECK(out.shape() == Shape{2, 3, 3, 3, 2});
    Shape ys;
    for (int64_t t = 0; t < 3; ++t) {
      Tensor ft = frames.select(1, t).contiguous();
      V e = plus_bias(
          naive_conv2d(vals(ft), ft.shape(), vals(conv->kernel()), conv->kernel().shape(), {}, ys),
          vals(conv->bias()));
      TG_CHECK_VALUES(out.select(1, t), e, 1e-5, 1e-5);
    }
    CHECK(tc(nn::Input({3, 5, 5, 1})).shape() == Shape{-1, 3, 3, 3, 2});
  }
}

// =============================================================================================
// Merge layers
// =============================================================================================

TEST_CASE("merge layers: values and shape errors", "[conv_rnn][merge]") {
  Tensor a = f32({1, 5, 3, -2}, {2, 2}), b = f32({4, 2, 3, 0}, {2, 2}),
         c = f32({0, 1, -1, 7}, {2, 2});
  std::vector<Tensor> abc{a, b, c};
  TG_CHECK_VALUES(nn::Add()(abc), (V{5, 8, 5, 5}), 0, 0);
  TG_CHECK_VALUES(nn::Subtract()({a, b}), (V{-3, 3, 0, -2}), 0, 0);
  TG_CHECK_VALUES(nn::Multiply()(abc), (V{0, 10, -9, 0}), 0, 0);
  TG_CHECK_VALUES(nn::Average()(abc), (V{5.0 / 3, 8.0 / 3, 5.0 / 3, 5.0 / 3}), 1e-6, 1e-6);
  TG_CHECK_VALUES(nn::Average()({a, b}), (V{2.5, 3.5, 3, -1}), 1e-6, 0);
  TG_CHECK_VALUES(nn::Maximum()(abc), (V{4, 5, 3, 7}), 0, 0);
  TG_CHECK_VALUES(nn::Minimum()(abc), (V{0, 1, -1, -2}), 0, 0);
  Tensor cat = nn::Concatenate()({a, f32({9, 8, 7, 6, 5, 4}, {2, 3})});
  CHECK(cat.shape() == Shape{2, 5});
  TG_CHECK_VALUES(cat, (V{1, 5, 9, 8, 7, 3, -2, 6, 5, 4}), 0, 0);
  Tensor cat0 = nn::Concatenate({.axis = 0})({a, f32({9, 8}, {1, 2})});
  CHECK(cat0.shape() == Shape{3, 2});
  TG_CHECK_VALUES(cat0, (V{1, 5, 3, -2, 9, 8}), 0, 0);
  Tensor cat1 = nn::Concatenate({.axis = 1})({a.reshape({2, 2, 1}), b.reshape({2, 2, 1})});
  CHECK(cat1.shape() == Shape{2, 4, 1});
  TG_CHECK_VALUES(cat1, (V{1, 5, 4, 2, 3, -2, 3, 0}), 0, 0);

  SECTION("the gradient of each merge") {
    Tensor x = f32({1, 5}, {1, 2}), y = f32({3, 2}, {1, 2});
    x.requires_grad_();
    y.requires_grad_();
    sum(nn::Maximum()({x, y}) * f32({10, 100}, {1, 2})).backward();
    TG_CHECK_VALUES(x.grad(), (V{0, 100}), 0, 0);
    TG_CHECK_VALUES(y.grad(), (V{10, 0}), 0, 0);
    x.zero_grad();
    y.zero_grad();
    sum(nn::Subtract()({x, y})).backward();
    TG_CHECK_VALUES(y.grad(), (V{-1, -1}), 0, 0);
  }
  SECTION("errors name the layer") {
    nn::Add add({.name = "plus"});
    CHECK_THAT(error_of<ShapeError>([&] {
                 add({a, f32({1, 2, 3, 4, 5, 6}, {2, 3})});
               }),
               Contains("Add 'plus'"));
    CHECK_THROWS_AS(nn::Subtract()(abc), ValueError);
    CHECK_THROWS_AS(nn::Multiply()(std::vector<Tensor>{a}), ValueError);
    nn::Concatenate cc({.name = "joined"});
    CHECK_THAT(error_of<ShapeError>([&] {
                 cc({a, f32({1, 2, 3}, {3, 1})});
               }),
               Contains("Concatenate 'joined'"));
    CHECK_THROWS_AS(nn::Concatenate()({a, a.reshape({4})}), ShapeError);
    // Symbolic calls check shapes when the graph is built.
    nn::Symbol p = nn::Input({3}), q = nn::Input({4});
    CHECK_THROWS_AS(nn::Add()({p, q}), ShapeError);
    CHECK(nn::Concatenate()({p, q}).shape() == Shape{-1, 7});
    CHECK(nn::Maximum()({p, p}).shape() == Shape{-1, 3});
  }
}

// =============================================================================================
// Training inside models
// =============================================================================================

TEST_CASE("a tiny CNN learns horizontal vs vertical bars on 8×8 images", "[conv_rnn][training]") {
  manual_seed(7);
  const int64_t n = 160;
  std::mt19937 gen(3);
  std::uniform_int_distribution<int> pos(0, 7);
  std::normal_distribution<double> noise(0.0, 0.15);
  V img;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int cls = static_cast<int>(i % 2), p = pos(gen);
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) img.push_back(((cls == 0 ? r : c) == p ? 1.0 : 0.0) + noise(gen));
    labels.push_back(cls);
  }
  Tensor x = f32(img, {n, 8, 8, 1});
  Tensor y = tensor(labels, {n});
  nn::Sequential model;
  model.add(nn::Conv2D(4, {3, 3}, {.activation = "relu", .input_shape = {8, 8, 1}}));
  model.add(nn::MaxPooling2D({2, 2}));
  model.add(nn::Conv2D(4, {3, 3}, {.padding = "same", .activation = "relu"}));
  model.add(nn::GlobalMaxPooling2D());
  model.add(nn::Dense(2, {.activation = "softmax"}));
  model.compile({.optimizer = optim::Adam({.learning_rate = 0.02}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  nn::History h = model.fit(x, y, {.batch_size = 16, .epochs = 12, .verbose = 0, .seed = 1});
  const auto& loss = h["loss"];
  INFO("loss " << loss.front() << " → " << loss.back());
  CHECK(loss.back() < 0.5 * loss.front());
  nn::Logs logs = model.evaluate(x, y, {.verbose = 0});
  INFO("accuracy " << logs["accuracy"]);
  CHECK(logs["accuracy"] >= 0.9);
}

TEST_CASE("a tiny LSTM learns the sign of a sequence's sum", "[conv_rnn][training][lstm]") {
  manual_seed(8);
  const int64_t n = 128, T = 6;
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  V xs, ys;
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t t = 0; t < T; ++t) {
      xs.push_back(u(gen));
      s += xs.back();
    }
    ys.push_back(s > 0 ? 1.0 : 0.0);
  }
  Tensor x = f32(xs, {n, T, 1}), y = f32(ys, {n, 1});
  nn::Sequential model;
  model.add(nn::LSTM(8, {.input_shape = {T, 1}}));
  model.add(nn::Dense(1, {.activation = "sigmoid"}));
  model.compile({.optimizer = optim::Adam({.learning_rate = 0.03}),
                 .loss = "binary_crossentropy",
                 .metrics = {"accuracy"}});
  nn::History h = model.fit(x, y, {.batch_size = 16, .epochs = 15, .verbose = 0, .seed = 2});
  const auto& loss = h["loss"];
  INFO("loss " << loss.front() << " → " << loss.back());
  CHECK(loss.back() < 0.6 * loss.front());
  nn::Logs logs = model.evaluate(x, y, {.verbose = 0});
  INFO("accuracy " << logs["accuracy"]);
  CHECK(logs["accuracy"] >= 0.85);
}

TEST_CASE("each layer trains inside a model: the loss falls", "[conv_rnn][training]") {
  manual_seed(9);
  auto falls = [](nn::Model model, const std::vector<Tensor>& x, const Tensor& y, int epochs = 8) {
    model.compile({.optimizer = optim::Adam({.learning_rate = 0.01}), .loss = "mse"});
    nn::History h = model.fit(x, {y}, {.batch_size = 8, .epochs = epochs, .verbose = 0, .seed = 3});
    const auto& loss = h["loss"];
    INFO("loss " << loss.front() << " → " << loss.back());
    CHECK(std::isfinite(loss.back()));
    CHECK(loss.back() < 0.8 * loss.front());
  };
  const int64_t n = 32;
  Tensor target = rnd({n, 1}, 61, 0.5, 1.5);

  SECTION("Conv1D (causal, dilated) → Conv1D (same, strided) → Flatten") {
    nn::Symbol in = nn::Input({10, 2});
    nn::Symbol h =
        nn::Conv1D(4, 3, {.padding = "causal", .dilation_rate = 2, .activation = "tanh"})(in);
    h = nn::Conv1D(2, 2, {.strides = 2, .padding = "same"})(h);
    h = nn::Flatten()(h);
    falls(nn::Model(in, nn::Dense(1)(h)), {rnd({n, 10, 2}, 62)}, target);
  }
  SECTION(
      "Conv2D (groups, dilation) → BatchNormalization → AveragePooling2D → "
      "GlobalAveragePooling2D") {
    nn::Symbol in = nn::Input({6, 6, 2});
    nn::Symbol h = nn::Conv2D(4, {2, 2}, {.dilation_rate = {2, 2}, .groups = 2})(in);
    h = nn::BatchNormalization()(h);
    h = nn::AveragePooling2D({2, 2}, {.padding = "same"})(h);
    h = nn::GlobalAveragePooling2D()(h);
    nn::Model m(in, nn::Dense(1)(h));
    auto bn = std::dynamic_pointer_cast<nn::BatchNormalizationLayer>(m->layers()[1]);
    REQUIRE(bn);
    falls(m, {rnd({n, 6, 6, 2}, 63)}, target, 12);
    CHECK(vals(bn->moving_mean()) != V(4, 0.0));  // fit updated the moving statistics
  }
  SECTION("Conv2DTranspose → MaxPooling2D → Flatten") {
    nn::Symbol in = nn::Input({3, 3, 2});
    nn::Symbol h = nn::Conv2DTranspose(
        2, {3, 3}, {.strides = {2, 2}, .padding = "same", .activation = "relu"})(in);
    h = nn::MaxPooling2D({2, 2})(h);
    h = nn::Flatten()(h);
    falls(nn::Model(in, nn::Dense(1)(h)), {rnd({n, 3, 3, 2}, 64)}, target);
  }
  SECTION("GRU → LayerNormalization, SimpleRNN, concatenated") {
    nn::Symbol in = nn::Input({5, 3});
    nn::Symbol g = nn::LayerNormalization()(nn::GRU(4)(in));
    nn::Symbol s = nn::SimpleRNN(3, {.go_backwards = true})(in);
    nn::Symbol h = nn::Concatenate()({g, s});
    falls(nn::Model(in, nn::Dense(1)(h)), {rnd({n, 5, 3}, 65)}, target);
  }
  SECTION("Embedding → Bidirectional(LSTM) → TimeDistributed(Dense) → LSTM") {
    nn::Symbol in = nn::Input({6}, {.name = "ids", .dtype = kInt64});
    nn::Symbol h = nn::Embedding(7, 4)(in);
    h = nn::Bidirectional(nn::LSTM(3, {.return_sequences = true}))(h);
    h = nn::TimeDistributed(nn::Dense(2, {.activation = "tanh"}))(h);
    h = nn::LSTM(3)(h);
    std::mt19937 gen(4);
    std::uniform_int_distribution<int64_t> tok(0, 6);
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < n * 6; ++i) ids.push_back(tok(gen));
    falls(nn::Model(in, nn::Dense(1)(h)), {tensor(ids, {n, 6})}, target, 12);
  }
  SECTION("LSTM encoder states as the initial states of a decoder (extra symbolic inputs)") {
    nn::Symbol enc_in = nn::Input({4, 2}), dec_in = nn::Input({3, 2});
    nn::LSTM encoder(3, {.return_state = true});
    nn::LSTM decoder(3, {.return_sequences = true});
    std::vector<nn::Symbol> enc = encoder(std::vector<nn::Symbol>{enc_in});
    REQUIRE(enc.size() == 3);
    nn::Symbol seq = decoder(std::vector<nn::Symbol>{dec_in, enc[1], enc[2]})[0];
    CHECK(seq.shape() == Shape{-1, 3, 3});
    nn::Symbol h = nn::Flatten()(nn::TimeDistributed(nn::Dense(1))(seq));
    nn::Model m({enc_in, dec_in}, {nn::Dense(1)(h)});
    Tensor xe = rnd({n, 4, 2}, 68), xd = rnd({n, 3, 2}, 69);
    // The decoder sees the encoder's final states: eagerly, the same as the model.
    std::vector<Tensor> st = encoder(std::vector<Tensor>{xe});
    Tensor eager = decoder(std::vector<Tensor>{xd, st[1], st[2]})[0];
    Tensor zero_state = decoder(xd);
    CHECK(test::compare_values(vals(eager), vals(zero_state), 1e-4, 0) != "");
    falls(m, {xe, xd}, target);
  }
  SECTION("two inputs joined by every merge layer") {
    nn::Symbol p = nn::Input({4}), q = nn::Input({4});
    nn::Symbol a = nn::Dense(3)(p), b = nn::Dense(3)(q);
    nn::Symbol h =
        nn::Concatenate()({nn::Add()({a, b}), nn::Subtract()({a, b}), nn::Multiply()({a, b}),
                           nn::Average()({a, b}), nn::Maximum()({a, b}), nn::Minimum()({a, b})});
    falls(nn::Model({p, q}, {nn::Dense(1)(h)}), {rnd({n, 4}, 66), rnd({n, 4}, 67)}, target);
  }
}

// =============================================================================================
// Saving
// =============================================================================================

TEST_CASE("save_model/load_model round trip of a model with conv, norm, recurrent and merge layers",
          "[conv_rnn][saving]") {
  manual_seed(10);
  nn::Symbol img = nn::Input({8, 8, 1}, {.name = "image"});
  nn::Symbol a = nn::Conv2D(3, {3, 3}, {.activation = "relu", .name = "conv"})(img);
  a = nn::BatchNormalization({.name = "bn"})(a);
  a = nn::MaxPooling2D({2, 2}, {.padding = "same"})(a);
  a = nn::Dropout(0.3)(a);
  a = nn::Flatten()(a);
  nn::Symbol tokens = nn::Input({5}, {.name = "tokens", .dtype = kInt64});
  nn::Symbol b = nn::Embedding(9, 4, {.name = "emb"})(tokens);
  b = nn::Bidirectional(nn::LSTM(3, {.return_sequences = true}),
                        {.merge_mode = "concat", .name = "bi"})(b);
  b = nn::TimeDistributed(nn::Dense(2), {.name = "td"})(b);
  b = nn::LSTM(3, {.go_backwards = true, .name = "lstm"})(b);
  nn::Symbol out = nn::Dense(2, {.name = "head"})(nn::Concatenate({.name = "cat"})({a, b}));
  nn::Model model({img, tokens}, {out});
  model.compile({.optimizer = "adam", .loss = "mse"});

  Tensor xi = rnd({6, 8, 8, 1}, 71);
  std::vector<int64_t> ids;
  for (int i = 0; i < 30; ++i) ids.push_back((i * 7 + 3) % 9);
  Tensor xt = tensor(ids, {6, 5});
  Tensor y = rnd({6, 2}, 72);
  // A few steps so that every weight, the moving statistics and the optimizer state move.
  for (int i = 0; i < 3; ++i) model.train_on_batch({xi, xt}, {y});
  auto bn = std::dynamic_pointer_cast<nn::BatchNormalizationLayer>(model->get_layer("bn"));
  REQUIRE(bn);
  CHECK(vals(bn->moving_mean()) != V(3, 0.0));

  const std::string path = temp_path("conv_rnn_model.tgm");
  nn::save_model(model, path);
  nn::Model loaded = nn::load_model(path);
  std::vector<Tensor> p1 = model.predict({xi, xt}), p2 = loaded.predict({xi, xt});
  REQUIRE(p1.size() == 1);
  REQUIRE(p2.size() == 1);
  CHECK(p2[0].shape() == Shape{6, 2});
  TG_CHECK_VALUES(p2[0], vals(p1[0]), 0, 0);
  CHECK(loaded.count_params() == model.count_params());
  std::vector<std::string> types;
  for (auto& l : loaded.layers()) types.push_back(l->type());
  for (const char* t : {"Conv2D", "BatchNormalization", "MaxPooling2D", "Dropout", "Embedding",
                        "Bidirectional", "TimeDistributed", "LSTM", "Concatenate"})
    CHECK(std::find(types.begin(), types.end(), t) != types.end());
  auto bn2 = std::dynamic_pointer_cast<nn::BatchNormalizationLayer>(loaded->get_layer("bn"));
  REQUIRE(bn2);
  TG_CHECK_VALUES(bn2->moving_variance(), vals(bn->moving_variance()), 0, 0);
  const std::vector<Tensor> both{xi, xt};
  CHECK(loaded->test_on_batch(both, {y})["loss"] ==
        Approx(model->test_on_batch(both, {y})["loss"]).epsilon(1e-6));
  // Training resumes the same way in both (the same dropout masks from the same global seed; the
  // restored Adam state makes the step, and so the next predictions, equal).
  manual_seed(99);
  nn::Logs l1 = model.train_on_batch({xi, xt}, {y});
  manual_seed(99);
  nn::Logs l2 = loaded.train_on_batch({xi, xt}, {y});
  CHECK(l2["loss"] == Approx(l1["loss"]).epsilon(1e-5));
  TG_CHECK_VALUES(loaded.predict({xi, xt})[0], vals(model.predict({xi, xt})[0]), 1e-5, 1e-4);
  std::filesystem::remove(path);

  SECTION("a Sequential model with the other layers") {
    nn::Sequential seq;
    seq.add(nn::Conv2DTranspose(2, {2, 2}, {.strides = {2, 2}, .input_shape = {3, 3, 1}}));
    seq.add(nn::AveragePooling2D({3, 3}, {.strides = {1, 1}, .padding = "same"}));
    seq.add(nn::Conv2D(2, {3, 3}, {.strides = {2, 2}, .groups = 2}));
    seq.add(nn::GlobalMaxPooling2D({.keepdims = false}));
    seq.add(nn::LayerNormalization());
    seq.add(nn::Reshape({2, 1}));
    seq.add(nn::Conv1D(2, 2, {.padding = "causal"}));
    seq.add(nn::GRU(2, {.return_sequences = true}));
    seq.add(nn::SimpleRNN(2));
    Tensor xs = rnd({4, 3, 3, 1}, 73);
    // Non-default weights everywhere (LayerNormalization's gamma/beta too).
    {
      NoGrad ng;
      uint64_t s = 200;
      for (nn::Weight* w : seq->weights())
        set_values(w->value, vals(rnd(w->value.shape(), s++, -0.9, 0.9)));
    }
    const std::string p = temp_path("conv_rnn_seq.tgm");
    nn::save_model(seq, p);
    nn::Model back = nn::load_model(p);
    TG_CHECK_VALUES(back.predict(xs), vals(seq.predict(xs)), 0, 0);
    std::filesystem::remove(p);
  }
}

// =============================================================================================
// Gradient checks (float64, finite differences) of the ops the layers call, in their weights
// =============================================================================================

TEST_CASE("gradcheck: Conv2D's computation in its kernel, bias and input",
          "[conv_rnn][gradcheck]") {
  struct Case {
    const char* what;
    Conv2dOptions o;
  };
  for (const Case& c :
       {Case{"same, strides (2, 1)", {.strides = {2, 1}, .padding = "same"}},
        Case{"valid, dilation 2, groups 2", {.dilation_rate = {2, 2}, .groups = 2}}}) {
    SECTION(c.what) {
      nn::Conv2D conv(4, {2, 2},
                      {.strides = c.o.strides,
                       .padding = c.o.padding,
                       .dilation_rate = c.o.dilation_rate,
                       .groups = c.o.groups,
                       .bias_initializer = nn::initializers::random_uniform(-1, 1, 81)});
      Tensor x = rnd({2, 4, 4, 2}, 82).to(kFloat64);
      conv(x.to(kFloat32));  // builds the layer
      Tensor k = conv->kernel().to(kFloat64), b = conv->bias().to(kFloat64);
      const Conv2dOptions o = c.o;
      auto f = [o](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], o) + in[2]; };
      TG_REQUIRE_GRADCHECK(autograd::gradcheck(f, {x, k, b}));
    }
  }
  SECTION("channels_first and the transposed convolution") {
    Tensor x = rnd({1, 2, 3, 3}, 83).to(kFloat64);
    Tensor k = rnd({3, 3, 2, 2}, 84).to(kFloat64);
    TG_REQUIRE_GRADCHECK(autograd::gradcheck(
        [](const std::vector<Tensor>& in) {
          return conv2d(in[0], in[1], {.padding = "same", .data_format = "channels_first"});
        },
        {x, k}));
    nn::Conv2DTranspose t(3, {3, 3}, {.strides = {2, 2}, .padding = "same"});
    Tensor y = rnd({1, 2, 2, 2}, 85).to(kFloat64);
    t(y.to(kFloat32));
    Tensor tk = weight_of(*t, "kernel").to(kFloat64);
    TG_REQUIRE_GRADCHECK(autograd::gradcheck(
        [](const std::vector<Tensor>& in) {
          return conv2d_transpose(in[0], in[1], {.strides = {2, 2}, .padding = "same"});
        },
        {y, tk}));
  }
  SECTION("causal Conv1D") {
    nn::Conv1D c1(2, 3, {.padding = "causal", .dilation_rate = 2});
    Tensor x = rnd({2, 6, 2}, 86).to(kFloat64);
    c1(x.to(kFloat32));
    Tensor k = weight_of(*c1, "kernel").to(kFloat64);
    TG_REQUIRE_GRADCHECK(autograd::gradcheck(
        [](const std::vector<Tensor>& in) {
          return conv1d(in[0], in[1], {.padding = "causal", .dilation_rate = 2});
        },
        {x, k}));
  }
}

TEST_CASE("gradcheck: LSTM, GRU and SimpleRNN computations in their weights",
          "[conv_rnn][gradcheck][rnn]") {
  const int64_t N = 2, T = 3, F = 3, H = 2;
  Tensor x = rnd({N, T, F}, 91).to(kFloat64);
  Tensor h0 = rnd({N, H}, 92, -0.5, 0.5).to(kFloat64), c0 = rnd({N, H}, 93, -0.5, 0.5).to(kFloat64);

  SECTION("LSTM: outputs and final cell state in x, h0, c0, kernel, recurrent kernel, bias") {
    nn::LSTM l(H);
    l(x.to(kFloat32));
    std::vector<Tensor> in{x,
                           h0,
                           c0,
                           weight_of(*l, "kernel").to(kFloat64),
                           weight_of(*l, "recurrent_kernel").to(kFloat64),
                           weight_of(*l, "bias").to(kFloat64)};
    for (bool backwards : {false, true}) {
      INFO("go_backwards " << backwards);
      TG_REQUIRE_GRADCHECK(autograd::gradcheck(
          [backwards](const std::vector<Tensor>& a) {
            auto r = lstm(a[0], a[1], a[2], a[3], a[4], a[5],
                          {.return_sequences = true, .go_backwards = backwards});
            return concat({r[0].reshape({-1}), r[2].reshape({-1})}, 0);
          },
          in));
    }
  }
  SECTION("GRU: outputs in x, h0, kernel, recurrent kernel, bias (2, 3H)") {
    nn::GRU g(H);
    g(x.to(kFloat32));
    std::vector<Tensor> in{x, h0, weight_of(*g, "kernel").to(kFloat64),
                           weight_of(*g, "recurrent_kernel").to(kFloat64),
                           rnd({2, 3 * H}, 94).to(kFloat64)};
    TG_REQUIRE_GRADCHECK(autograd::gradcheck(
        [](const std::vector<Tensor>& a) {
          return gru(a[0], a[1], a[2], a[3], a[4], {.return_sequences = true})[0];
        },
        in));
  }
  SECTION("SimpleRNN") {
    nn::SimpleRNN s(H);
    s(x.to(kFloat32));
    std::vector<Tensor> in{x, h0, weight_of(*s, "kernel").to(kFloat64),
                           weight_of(*s, "recurrent_kernel").to(kFloat64),
                           rnd({H}, 95).to(kFloat64)};
    TG_REQUIRE_GRADCHECK(autograd::gradcheck(
        [](const std::vector<Tensor>& a) {
          return simple_rnn(a[0], a[1], a[2], a[3], a[4], {.return_sequences = true})[0];
        },
        in));
  }
}

TEST_CASE("gradcheck: pooling with same padding", "[conv_rnn][gradcheck][pool]") {
  // Distinct values, so that no window has a tie for the max.
  V v;
  for (int i = 0; i < 2 * 5 * 5 * 2; ++i) v.push_back(std::sin(1.7 * i) + 0.01 * i);
  Tensor x = tensor(v, {2, 5, 5, 2}, {.dtype = kFloat64});
  for (Pool2dOptions o :
       {Pool2dOptions{.pool_size = {2, 2}, .padding = "same"},
        Pool2dOptions{.pool_size = {3, 3}, .strides = {2, 1}, .padding = "same"}}) {
    TG_REQUIRE_GRADCHECK(autograd::gradcheck(
        [o](const std::vector<Tensor>& a) { return avg_pool2d(a[0], o); }, {x}));
    TG_REQUIRE_GRADCHECK(autograd::gradcheck(
        [o](const std::vector<Tensor>& a) { return max_pool2d(a[0], o); }, {x}));
  }
}

TEST_CASE("gradcheck: batch_norm (training) and layer_norm in their scale and offset",
          "[conv_rnn][gradcheck][norm]") {
  Tensor x = rnd({4, 3}, 96).to(kFloat64);
  Tensor gamma = rnd({3}, 97, 0.5, 1.5).to(kFloat64), beta = rnd({3}, 98).to(kFloat64);
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& a) {
        Tensor rm = zeros({3}, {.dtype = kFloat64}), rv = ones({3}, {.dtype = kFloat64});
        return batch_norm(a[0], a[1], a[2], rm, rv, /*training=*/true);
      },
      {x, gamma, beta}));
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(
      [](const std::vector<Tensor>& a) { return layer_norm(a[0], a[1], a[2]); }, {x, gamma, beta}));
}
