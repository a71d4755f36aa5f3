// Side by side: the same workloads through tapegrad and through raw oneDNN in one process,
// printing medians and the ratio (W1 sgemm, and a 1M-element add).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "tapegrad.hpp"

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

}  // namespace

int main() {
  std::printf("ratio = raw time / tapegrad time (1.0 = parity, higher is better for tapegrad)\n");
  sgemm(256, 200);
  sgemm(1024, 30);
  add_1m(300);
  return 0;
}
