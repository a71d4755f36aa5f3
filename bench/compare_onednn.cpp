// Side by side: the same workloads through tapegrad and through raw oneDNN in one process,
// printing medians and the ratio (W1 sgemm, a 1M-element add, and Conv2D forward and backward).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace {

template <class F>
double median_seconds(F f, int reps) {
  f();  // warm-up
  f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

using dnnl::memory;

void sgemm(int64_t n, int reps) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  tg::Tensor a = tg::rand({n, n}), b = tg::rand({n, n});
  std::vector<float> out(n * n);
  memory::desc md({n, n}, memory::data_type::f32, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(md, md, md), eng);
  dnnl::matmul prim(pd);
  memory ma(md, eng, a.data<float>()), mb(md, eng, b.data<float>()), mc(md, eng, out.data());
  double raw = median_seconds(
      [&] {
        prim.execute(st, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
        st.wait();
      },
      reps);
  double ours = median_seconds([&] { tg::Tensor c = tg::matmul(a, b); }, reps);
  const double flop = 2.0 * n * n * n;
  std::printf("W1 sgemm %4lld^3   tapegrad %8.2f GFLOP/s   raw oneDNN %8.2f GFLOP/s   ratio %.3f\n",
              static_cast<long long>(n), flop / ours * 1e-9, flop / raw * 1e-9, raw / ours);
}

void add_1m(int reps) {
  const int64_t n = 1 << 20;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  tg::Tensor a = tg::rand({n}), b = tg::rand({n});
  std::vector<float> out(n);
  memory::desc md({n}, memory::data_type::f32, memory::format_tag::a);
  dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl::algorithm::binary_add, md, md, md), eng);
  dnnl::binary prim(pd);
  memory ma(md, eng, a.data<float>()), mb(md, eng, b.data<float>()), mc(md, eng, out.data());
  double raw = median_seconds(
      [&] {
        prim.execute(st, {{DNNL_ARG_SRC_0, ma}, {DNNL_ARG_SRC_1, mb}, {DNNL_ARG_DST, mc}});
        st.wait();
      },
      reps);
  double ours = median_seconds([&] { tg::Tensor c = a + b; }, reps);
  std::printf(
      "add 1M float32     tapegrad %8.1f us         raw oneDNN %8.1f us         ratio %.3f\n",
      ours * 1e6, raw * 1e6, raw / ours);
}

/// Conv2D 3×3 "same" on NHWC float32 (the second conv layer of W3: 64×14×14×32 → 64 filters),
/// forward, backward data and backward weights, through tapegrad's ops and through raw oneDNN
/// primitives (raw gets its weights pre-reordered to the primitive's layout, its best case).
void conv(int reps) {
  const int64_t n = 64, h = 14, w = 14, ci = 32, co = 64, k = 3;
  tg::Tensor x = tg::rand({n, h, w, ci}), kernel = tg::rand({k, k, ci, co}), gy = tg::rand({n, h, w, co});
  std::vector<float> out(n * h * w * co), gx(n * h * w * ci), gw(k * k * ci * co);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  memory::desc src({n, ci, h, w}, memory::data_type::f32, memory::format_tag::nhwc);
  memory::desc dst({n, co, h, w}, memory::data_type::f32, memory::format_tag::nhwc);
  memory::desc wuser({co, ci, k, k}, memory::data_type::f32, memory::format_tag::hwio);
  memory::desc wany({co, ci, k, k}, memory::data_type::f32, memory::format_tag::any);
  const memory::dims s{1, 1}, d{0, 0}, p{1, 1};
  dnnl::convolution_forward::primitive_desc fpd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src,
                                      wany, dst, s, d, p, p),
      eng);
  dnnl::convolution_backward_data::primitive_desc bdpd(
      dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src, wany, dst, s, d, p, p), eng, fpd);
  dnnl::convolution_backward_weights::primitive_desc bwpd(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src, wany, dst, s, d, p, p), eng,
      fpd);
  memory mx(src, eng, x.data<float>()), mw(wuser, eng, kernel.data<float>()), mgy(dst, eng, gy.data<float>());
  memory my(dst, eng, out.data()), mgx(src, eng, gx.data()), mgw(wuser, eng, gw.data());
  memory wf(fpd.weights_desc(), eng), wb(bdpd.weights_desc(), eng), gwp(bwpd.diff_weights_desc(), eng);
  dnnl::reorder(mw, wf).execute(st, mw, wf);
  dnnl::reorder(mw, wb).execute(st, mw, wb);
  st.wait();
  dnnl::convolution_forward fwd(fpd);
  dnnl::convolution_backward_data bwd_data(bdpd);
  dnnl::convolution_backward_weights bwd_w(bwpd);
  dnnl::reorder gw_back(gwp, mgw);
  auto raw_f = median_seconds([&] { fwd.execute(st, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, wf}, {DNNL_ARG_DST, my}}); st.wait(); }, reps);
  auto raw_d = median_seconds([&] { bwd_data.execute(st, {{DNNL_ARG_DIFF_DST, mgy}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, mgx}}); st.wait(); }, reps);
  auto raw_w = median_seconds([&] {
    bwd_w.execute(st, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mgy}, {DNNL_ARG_DIFF_WEIGHTS, gwp}});
    gw_back.execute(st, gwp, mgw);
    st.wait();
  }, reps);
  tg::Conv2dOptions o{.padding = "same"};
  auto tg_f = median_seconds([&] { tg::Tensor y = tg::conv2d(x, kernel, o); }, reps);
  auto tg_d = median_seconds([&] { tg::Tensor g = tg::conv2d_backward_input(gy, kernel, x.shape(), o); }, reps);
  auto tg_w = median_seconds([&] { tg::Tensor g = tg::conv2d_backward_weight(x, gy, kernel.shape(), o); }, reps);
  std::printf("conv2d 3x3 64x14x14x32->64 forward          tapegrad %7.3f ms   raw oneDNN %7.3f ms   ratio %.3f\n", tg_f * 1e3, raw_f * 1e3, raw_f / tg_f);
  std::printf("conv2d 3x3 64x14x14x32->64 backward data    tapegrad %7.3f ms   raw oneDNN %7.3f ms   ratio %.3f\n", tg_d * 1e3, raw_d * 1e3, raw_d / tg_d);
  std::printf("conv2d 3x3 64x14x14x32->64 backward weights tapegrad %7.3f ms   raw oneDNN %7.3f ms   ratio %.3f\n", tg_w * 1e3, raw_w * 1e3, raw_w / tg_w);
}

}  // namespace

int main() {
  std::printf("ratio = raw time / tapegrad time (1.0 = parity, higher is better for tapegrad)\n");
  sgemm(256, 200);
  sgemm(1024, 30);
  add_1m(300);
  conv(100);
  return 0;
}
