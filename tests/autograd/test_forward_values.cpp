// Forward values of the ops against numbers worked out by hand (written out literally), on the
// default CPU backend and on the reference backend.
#include <optional>

#include "test_util.hpp"

using namespace tg;
using V = std::vector<double>;

namespace {
/// Runs body once on the default CPU backend and once under UseReferenceBackend.
template <class F>
void on_both_backends(F body) {
  for (bool ref : {false, true}) {
    std::optional<UseReferenceBackend> guard;
    if (ref) guard.emplace();
    INFO((ref ? "backend: reference" : "backend: cpu (oneDNN)"));
    body();
  }
}
Tensor f32(std::initializer_list<float> v, const Shape& s = {}) { return tensor(v, s); }
Tensor f64(const std::vector<double>& v, const Shape& s = {}) { return tensor<double>(v, s); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s = {}) { return tensor<int64_t>(v, s); }
Tensor i32(const std::vector<int32_t>& v, const Shape& s = {}) { return tensor<int32_t>(v, s); }
Tensor b8(const std::vector<bool>& v, const Shape& s = {}) { return tensor<bool>(v, s); }
/// A float32 tensor of `rows` copies of the row v (large enough for the oneDNN paths).
Tensor rows_of(const V& v, int64_t rows) {
  return tensor<double>(v, {1, static_cast<int64_t>(v.size())}, {.dtype = kFloat32})
      .expand({rows, static_cast<int64_t>(v.size())})
      .contiguous();
}
V repeat(const V& v, int64_t times) {
  V r;
  for (int64_t i = 0; i < times; ++i) r.insert(r.end(), v.begin(), v.end());
  return r;
}
}  // namespace

// ---- softmax family ----

TEST_CASE("softmax and log_softmax of [1, 2, 3]", "[forward]") {
  on_both_backends([] {
    TG_CHECK_VALUES(softmax(f32({1, 2, 3})),
                    (V{0.09003057317038046, 0.24472847105479764, 0.6652409557748218}), 1e-7, 1e-6);
    TG_CHECK_VALUES(log_softmax(f32({1, 2, 3})),
                    (V{-2.4076059644443806, -1.4076059644443806, -0.4076059644443806}), 1e-6, 1e-6);
    TG_CHECK_VALUES(softmax(f64({1, 2, 3})),
                    (V{0.09003057317038046, 0.24472847105479764, 0.6652409557748218}), 1e-15,
                    1e-14);
    // Shifting by 1000 changes nothing (max subtraction).
    TG_CHECK_VALUES(softmax(f32({1001, 1002, 1003})),
                    (V{0.09003057317038046, 0.24472847105479764, 0.6652409557748218}), 1e-6, 1e-5);
    TG_CHECK_VALUES(log_softmax(f32({-1000, 0})), (V{-1000.0, 0.0}), 1e-3, 1e-6);
    // Along axis 0: columns [1, 3] and [2, 4].
    TG_CHECK_VALUES(
        softmax(f32({1, 2, 3, 4}, {2, 2}), 0),
        (V{0.11920292202211755, 0.11920292202211755, 0.8807970779778823, 0.8807970779778823}), 1e-7,
        1e-6);
  });
}

TEST_CASE("softmax of many rows takes the oneDNN path and gives the same numbers", "[forward]") {
  const V row{1, 2, 3, 4};
  const V expect{0.03205860328008499, 0.08714431874203257, 0.23688281808991013, 0.6439142598879724};
  on_both_backends([&] {
    Tensor x = rows_of(row, 512);  // 2048 elements ≥ 1024
    TG_CHECK_VALUES(softmax(x), repeat(expect, 512), 1e-7, 1e-5);
    V logs;
    for (double p : expect) logs.push_back(std::log(p));
    TG_CHECK_VALUES(log_softmax(x), repeat(logs, 512), 1e-5, 1e-5);
    // Transposed input, softmax along axis 0 of the [4, 512] view.
    Tensor y = softmax(x.t(), 0).t();
    TG_CHECK_VALUES(y, repeat(expect, 512), 1e-7, 1e-5);
  });
}

TEST_CASE("logsumexp stays finite for huge values", "[forward]") {
  on_both_backends([] {
    TG_CHECK_VALUES(logsumexp(f32({1000, 1001, 1002})), V{1002.4076059644444}, 1e-3, 1e-6);
    TG_CHECK_VALUES(logsumexp(f64({1000, 1000})), V{1000.6931471805599}, 1e-10, 1e-12);
    TG_CHECK_VALUES(logsumexp(f64({-1000, -1000})), V{-999.3068528194401}, 1e-10, 1e-12);
    TG_CHECK_VALUES(logsumexp(f32({1, 2, 3, 1000, 1000, 1000}, {2, 3}), {1}),
                    (V{3.4076059644443806, 1001.0986122886681}), 1e-3, 1e-6);
    // keepdims keeps the reduced axis.
    CHECK(logsumexp(f32({1, 2, 3, 4}, {2, 2}), {1}, true).shape() == Shape{2, 1});
    // A row of 256 copies of 1000: 1000 + ln 256 (large enough for the oneDNN reduction).
    Tensor big = full({128, 256}, 1000.0);
    TG_CHECK_VALUES(logsumexp(big, {1}), V(128, 1005.5451774444796), 1e-3, 1e-6);
    // All -inf stays -inf rather than NaN.
    Tensor ninf = full({3}, -INFINITY);
    CHECK(logsumexp(ninf).item<double>() == -INFINITY);
  });
}

// ---- linear algebra ----

TEST_CASE("matmul of small matrices, vectors and batches", "[forward]") {
  on_both_backends([] {
    Tensor a = f32({1, 2, 3, 4}, {2, 2}), b = f32({5, 6, 7, 8}, {2, 2});
    TG_CHECK_VALUES(matmul(a, b), (V{19, 22, 43, 50}), 0, 0);
    TG_CHECK_VALUES(matmul(a.t(), b), (V{26, 30, 38, 44}), 0, 0);
    TG_CHECK_VALUES(matmul(a, b.t()), (V{17, 23, 39, 53}), 0, 0);
    Tensor m23 = f32({1, 2, 3, 4, 5, 6}, {2, 3}), m32 = f32({7, 8, 9, 10, 11, 12}, {3, 2});
    TG_CHECK_VALUES(matmul(m23, m32), (V{58, 64, 139, 154}), 0, 0);
    Tensor v = f32({1, 2, 3}), w = f32({4, 5, 6});
    Tensor dot = matmul(v, w);
    CHECK(dot.dim() == 0);
    CHECK(dot.item<double>() == 32.0);
    Tensor vm = matmul(f32({1, 2}), a);  // [1,2] @ [[1,2],[3,4]]
    CHECK(vm.shape() == Shape{2});
    TG_CHECK_VALUES(vm, (V{7, 10}), 0, 0);
    Tensor mv = matmul(a, f32({1, 1}));
    CHECK(mv.shape() == Shape{2});
    TG_CHECK_VALUES(mv, (V{3, 7}), 0, 0);
    // Batch [2,2,2] @ [2,2]: the identity batch and a doubling batch.
    Tensor batch = f32({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});
    Tensor bm = matmul(batch, b);
    CHECK(bm.shape() == Shape{2, 2, 2});
    TG_CHECK_VALUES(bm, (V{5, 6, 7, 8, 10, 12, 14, 16}), 0, 0);
    // Broadcast batch on the left: [2,2] @ [2,2,2].
    TG_CHECK_VALUES(matmul(b, batch), (V{5, 6, 7, 8, 10, 12, 14, 16}), 0, 0);
    // Integer matmul stays integer.
    Tensor im = matmul(i64({1, 2, 3, 4}, {2, 2}), i64({5, 6, 7, 8}, {2, 2}));
    CHECK(im.dtype() == kInt64);
    TG_CHECK_VALUES(im, (V{19, 22, 43, 50}), 0, 0);
  });
}

TEST_CASE("matmul of large matrices with known products (oneDNN path)", "[forward]") {
  on_both_backends([] {
    // A[i][k] = i, B = ones: (A @ B)[i][j] = 64 i.
    Tensor a =
        arange(0.0, 64.0, 1.0, {.dtype = kFloat32}).reshape({64, 1}).expand({64, 64}).contiguous();
    Tensor b = ones({64, 48});
    V expect;
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 48; ++j) expect.push_back(64.0 * i);
    TG_CHECK_VALUES(matmul(a, b), expect, 0, 1e-6);
    // The same with the row-constant operand as a broadcast view (stride 0 along k).
    Tensor a_view = arange(0.0, 64.0, 1.0, {.dtype = kFloat32}).reshape({64, 1}).expand({64, 64});
    TG_CHECK_VALUES(matmul(a_view, b), expect, 0, 1e-6);
    // 2·I @ C = 2C, C[k][j] = (48 k + j) / 100, and C^T @ (2·I) through a transposed operand.
    Tensor c = div(arange(0.0, 64.0 * 48.0, 1.0, {.dtype = kFloat32}).reshape({64, 48}), 100.0);
    V twice;
    for (int i = 0; i < 64 * 48; ++i) twice.push_back(2.0 * i / 100.0);
    TG_CHECK_VALUES(matmul(mul(eye(64), 2.0), c), twice, 1e-5, 1e-6);
    Tensor ct = matmul(c.t(), mul(eye(64), 2.0));  // [48, 64] = 2 C^T
    TG_CHECK_VALUES(ct.t(), twice, 1e-5, 1e-6);
  });
}

// ---- reductions ----

TEST_CASE("sum, mean, max, min, prod over axes with keepdims", "[forward]") {
  on_both_backends([] {
    Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
    TG_CHECK_VALUES(sum(x), V{21}, 0, 0);
    TG_CHECK_VALUES(sum(x, {0}), (V{5, 7, 9}), 0, 0);
    Tensor s1 = sum(x, {1}, true);
    CHECK(s1.shape() == Shape{2, 1});
    TG_CHECK_VALUES(s1, (V{6, 15}), 0, 0);
    TG_CHECK_VALUES(sum(x, {-1, 0}), V{21}, 0, 0);
    TG_CHECK_VALUES(mean(x), V{3.5}, 0, 1e-7);
    TG_CHECK_VALUES(mean(x, {0}), (V{2.5, 3.5, 4.5}), 0, 1e-7);
    TG_CHECK_VALUES(max(x, {1}), (V{3, 6}), 0, 0);
    TG_CHECK_VALUES(min(x, {0}), (V{1, 2, 3}), 0, 0);
    TG_CHECK_VALUES(max(x.t(), {1}), (V{4, 5, 6}), 0, 0);
    TG_CHECK_VALUES(prod(x), V{720}, 0, 1e-7);
    TG_CHECK_VALUES(prod(x, {0}), (V{4, 10, 18}), 0, 1e-7);
    CHECK(sum(x).dim() == 0);
    // Large: 128 rows of 256 ones (oneDNN reduction), and a ramp for max/min.
    Tensor big = ones({128, 256});
    TG_CHECK_VALUES(sum(big, {1}), V(128, 256.0), 0, 1e-6);
    TG_CHECK_VALUES(mean(big, {0}), V(256, 1.0), 0, 1e-6);
    TG_CHECK_VALUES(sum(big), V{32768.0}, 0, 1e-6);
    Tensor ramp = arange(0.0, 32768.0, 1.0, {.dtype = kFloat32}).reshape({128, 256});
    V row_max, col_min;
    for (int i = 0; i < 128; ++i) row_max.push_back(256.0 * i + 255.0);
    for (int j = 0; j < 256; ++j) col_min.push_back(j);
    TG_CHECK_VALUES(max(ramp, {1}), row_max, 0, 0);
    TG_CHECK_VALUES(min(ramp, {0}), col_min, 0, 0);
    TG_CHECK_VALUES(max(ramp.t(), {0}), row_max, 0, 0);
  });
}

TEST_CASE("var and std are population statistics (ddof = 0) by default", "[forward]") {
  on_both_backends([] {
    Tensor x = f64({1, 2, 3, 4});
    TG_CHECK_VALUES(var(x), V{1.25}, 1e-15, 0);
    TG_CHECK_VALUES(var(x, {}, false, 1), V{1.6666666666666667}, 1e-15, 0);
    TG_CHECK_VALUES(tg::std(x), V{1.118033988749895}, 1e-15, 0);
    TG_CHECK_VALUES(tg::std(x, {}, false, 1), V{1.2909944487358056}, 1e-15, 0);
    Tensor y = f32({1, 2, 3, 4, 2, 4, 6, 8}, {2, 4});
    TG_CHECK_VALUES(var(y, {1}), (V{1.25, 5.0}), 1e-6, 1e-6);
    Tensor v0 = var(y, {0}, true);  // columns (1,2), (2,4), (3,6), (4,8)
    CHECK(v0.shape() == Shape{1, 4});
    TG_CHECK_VALUES(v0, (V{0.25, 1.0, 2.25, 4.0}), 1e-6, 1e-6);
  });
}

TEST_CASE("var of a large alternating tensor is 1 (oneDNN reduction)", "[forward]") {
  on_both_backends([] {
    V v(32768);
    for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2 ? 3.0 : 1.0;  // mean 2, deviation ±1
    Tensor x = tensor<double>(v, {128, 256}, {.dtype = kFloat32});
    TG_CHECK_VALUES(var(x, {1}), V(128, 1.0), 1e-5, 1e-5);
    TG_CHECK_VALUES(tg::std(x), V{1.0}, 1e-5, 1e-5);
    TG_CHECK_VALUES(mean(x), V{2.0}, 1e-6, 1e-6);
  });
}

TEST_CASE("norm for p = 2, 1, 3 and infinity", "[forward]") {
  on_both_backends([] {
    TG_CHECK_VALUES(norm(f32({3, 4})), V{5}, 1e-6, 0);
    TG_CHECK_VALUES(norm(f32({3, -4}), 1.0), V{7}, 1e-6, 0);
    TG_CHECK_VALUES(norm(f32({3, -4}), INFINITY), V{4}, 0, 0);
    TG_CHECK_VALUES(norm(f64({1, -2, 2}), 3.0), V{2.571281590658235}, 1e-12, 0);
    TG_CHECK_VALUES(norm(f32({3, 4, 6, 8}, {2, 2}), 2.0, {1}), (V{5, 10}), 1e-5, 0);
  });
}

TEST_CASE("norm of an all-zero slice has gradient 0, not NaN (PyTorch's subgradient)",
          "[forward]") {
  on_both_backends([] {
    for (double p : {2.0, 3.0}) {
      INFO("p = " << p);
      // Row 0 is zero, row 1 is (3, 4): d‖r‖₂/dr = r/5 there; for p = 3,
      // d‖r‖₃/dr_i = r_i²/‖r‖₃² (entries positive).
      Tensor x = f64({0, 0, 3, 4}, {2, 2}).requires_grad_();
      Tensor n = norm(x, p, {1});
      const double n3 = std::cbrt(27.0 + 64.0);
      TG_CHECK_VALUES(n, (p == 2.0 ? V{0, 5} : V{0, n3}), 1e-12, 1e-12);
      sum(n).backward();
      const V expect = p == 2.0 ? V{0, 0, 0.6, 0.8} : V{0, 0, 9 / (n3 * n3), 16 / (n3 * n3)};
      TG_CHECK_VALUES(x.grad(), expect, 1e-12, 1e-12);
    }
  });
}

TEST_CASE("argmax and argmin return the first of tied extrema", "[forward]") {
  on_both_backends([] {
    Tensor a = argmax(f32({1, 3, 3, 2}));
    CHECK(a.dtype() == kInt64);
    CHECK(a.item<int64_t>() == 1);
    CHECK(argmin(f32({2, 1, 1, 0.5})).item<int64_t>() == 3);
    CHECK(argmin(f32({2, 1, 1, 5})).item<int64_t>() == 1);
    Tensor m = f32({1, 5, 5, 7, 7, 0}, {2, 3});
    TG_CHECK_VALUES(argmax(m, 1), (V{1, 0}), 0, 0);
    TG_CHECK_VALUES(argmin(m, 1), (V{0, 2}), 0, 0);
    TG_CHECK_VALUES(argmax(m, 0), (V{1, 1, 0}), 0, 0);
    CHECK(argmax(m, 1, true).shape() == Shape{2, 1});
    CHECK(argmax(m).item<int64_t>() == 3);  // flattened: first 7
    CHECK(argmax(i64({4, 9, 9})).item<int64_t>() == 1);
    // Along axis 0 of a transposed view: columns of m^T are the rows of m.
    TG_CHECK_VALUES(argmax(m.t(), 0), (V{1, 0}), 0, 0);
  });
}

TEST_CASE("cumsum along each axis and for integers", "[forward]") {
  on_both_backends([] {
    TG_CHECK_VALUES(cumsum(f32({1, 2, 3, 4}), 0), (V{1, 3, 6, 10}), 0, 0);
    Tensor x = f32({1, 2, 3, 4}, {2, 2});
    TG_CHECK_VALUES(cumsum(x, 0), (V{1, 2, 4, 6}), 0, 0);
    TG_CHECK_VALUES(cumsum(x, -1), (V{1, 3, 3, 7}), 0, 0);
    TG_CHECK_VALUES(cumsum(x.t(), 1), (V{1, 4, 2, 6}), 0, 0);
    Tensor c = cumsum(i64({5, -2, 7}), 0);
    CHECK(c.dtype() == kInt64);
    TG_CHECK_VALUES(c, (V{5, 3, 10}), 0, 0);
    TG_CHECK_VALUES(cumsum(b8({true, false, true}), 0), (V{1, 1, 2}), 0, 0);
  });
}

TEST_CASE("sum_to reverses broadcasting", "[forward]") {
  on_both_backends([] {
    Tensor x = f32({1, 2, 3, 4}, {2, 2});
    TG_CHECK_VALUES(sum_to(x, {1, 2}), (V{4, 6}), 0, 0);
    TG_CHECK_VALUES(sum_to(x, {2, 1}), (V{3, 7}), 0, 0);
    TG_CHECK_VALUES(sum_to(x, {2}), (V{4, 6}), 0, 0);
    CHECK(sum_to(x, {2}).shape() == Shape{2});
  });
}

// ---- indexing ----

TEST_CASE("gather, take_along_axis and index_select pick the indexed elements", "[forward]") {
  on_both_backends([] {
    Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
    TG_CHECK_VALUES(gather(x, 1, i64({2, 0, 1, 1}, {2, 2})), (V{3, 1, 5, 5}), 0, 0);
    TG_CHECK_VALUES(gather(x, 0, i64({1, 0, 1}, {1, 3})), (V{4, 2, 6}), 0, 0);
    TG_CHECK_VALUES(gather(x, 1, i32({2, 2}, {2, 1})), (V{3, 6}), 0, 0);
    TG_CHECK_VALUES(take_along_axis(x, i64({0, 2}, {2, 1}), 1), (V{1, 6}), 0, 0);
    // The index broadcasts against x on the other axes: [1,2] picks columns 2, 0 of both rows.
    Tensor t = take_along_axis(x, i64({2, 0}, {1, 2}), 1);
    CHECK(t.shape() == Shape{2, 2});
    TG_CHECK_VALUES(t, (V{3, 1, 6, 4}), 0, 0);
    TG_CHECK_VALUES(index_select(x, 0, i64({1, 0, 1})), (V{4, 5, 6, 1, 2, 3, 4, 5, 6}), 0, 0);
    TG_CHECK_VALUES(index_select(x, 1, i64({2, 0})), (V{3, 1, 6, 4}), 0, 0);
    TG_CHECK_VALUES(index_select(x.t(), 0, i64({2})), (V{3, 6}), 0, 0);
    CHECK_THROWS_AS(gather(x, 1, i64({3}, {1, 1})), IndexError);
    CHECK_THROWS_AS(index_select(x, 0, i64({-1})), IndexError);
  });
}

TEST_CASE("scatter_add accumulates duplicate indices", "[forward]") {
  on_both_backends([] {
    Tensor z = zeros({3});
    Tensor r = scatter_add(z, 0, i64({0, 2, 0}), f32({1, 2, 3}));
    TG_CHECK_VALUES(r, (V{4, 0, 2}), 0, 0);
    TG_CHECK_VALUES(z, (V{0, 0, 0}), 0, 0);  // out of place
    Tensor base = f32({1, 1, 1, 1, 1, 1}, {2, 3});
    Tensor r2 = scatter_add(base, 1, i64({2, 2, 0, 1}, {2, 2}), f32({10, 20, 30, 40}, {2, 2}));
    TG_CHECK_VALUES(r2, (V{1, 1, 31, 31, 41, 1}), 0, 0);
  });
}

TEST_CASE("one_hot encodes indices along a new last axis", "[forward]") {
  on_both_backends([] {
    Tensor o = one_hot(i64({0, 2, 1}), 3);
    CHECK(o.dtype() == kFloat32);
    CHECK(o.shape() == Shape{3, 3});
    TG_CHECK_VALUES(o, (V{1, 0, 0, 0, 0, 1, 0, 1, 0}), 0, 0);
    Tensor o2 = one_hot(i64({3, 0}, {2, 1}), 4, kFloat64);
    CHECK(o2.dtype() == kFloat64);
    CHECK(o2.shape() == Shape{2, 1, 4});
    TG_CHECK_VALUES(o2, (V{0, 0, 0, 1, 1, 0, 0, 0}), 0, 0);
    CHECK_THROWS_AS(one_hot(i64({3}), 3), IndexError);
  });
}

// ---- joining, splitting, padding ----

TEST_CASE("concat, stack, split, chunk and pad", "[forward]") {
  on_both_backends([] {
    Tensor a = f32({1, 2}, {1, 2}), b = f32({3, 4, 5, 6}, {2, 2});
    Tensor c0 = concat({a, b}, 0);
    CHECK(c0.shape() == Shape{3, 2});
    TG_CHECK_VALUES(c0, (V{1, 2, 3, 4, 5, 6}), 0, 0);
    Tensor c1 = concat({b, b.t()}, 1);
    TG_CHECK_VALUES(c1, (V{3, 4, 3, 5, 5, 6, 4, 6}), 0, 0);
    Tensor mixed = concat({i64({1}), f32({2.5})});
    CHECK(mixed.dtype() == kFloat32);
    TG_CHECK_VALUES(mixed, (V{1, 2.5}), 0, 0);

    Tensor s0 = stack({f32({1, 2}), f32({3, 4})}, 0);
    CHECK(s0.shape() == Shape{2, 2});
    TG_CHECK_VALUES(s0, (V{1, 2, 3, 4}), 0, 0);
    Tensor s1 = stack({f32({1, 2}), f32({3, 4})}, 1);
    TG_CHECK_VALUES(s1, (V{1, 3, 2, 4}), 0, 0);

    auto parts = split(f32({0, 1, 2, 3, 4}), {2, 3});
    REQUIRE(parts.size() == 2);
    TG_CHECK_VALUES(parts[0], (V{0, 1}), 0, 0);
    TG_CHECK_VALUES(parts[1], (V{2, 3, 4}), 0, 0);
    auto cols = split(b, {1, 1}, 1);
    TG_CHECK_VALUES(cols[1], (V{4, 6}), 0, 0);
    CHECK_THROWS_AS(split(b, {1, 2}, 1), ShapeError);

    auto ch = chunk(f32({0, 1, 2, 3, 4}), 3);  // sizes 2, 2, 1
    REQUIRE(ch.size() == 3);
    TG_CHECK_VALUES(ch[0], (V{0, 1}), 0, 0);
    TG_CHECK_VALUES(ch[1], (V{2, 3}), 0, 0);
    TG_CHECK_VALUES(ch[2], (V{4}), 0, 0);
    CHECK(chunk(f32({0, 1, 2, 3, 4, 5}), 2).size() == 2);

    Tensor p = pad(a, {{1, 0}, {0, 2}}, 9.0);
    CHECK(p.shape() == Shape{2, 4});
    TG_CHECK_VALUES(p, (V{9, 9, 9, 9, 1, 2, 9, 9}), 0, 0);
    Tensor p1 = pad(f32({1, 2}), {{2, 1}});
    TG_CHECK_VALUES(p1, (V{0, 0, 1, 2, 0}), 0, 0);
    Tensor pt = pad(b.t(), {{0, 1}, {1, 0}}, -1.0);
    TG_CHECK_VALUES(pt, (V{-1, 3, 5, -1, 4, 6, -1, -1, -1}), 0, 0);
  });
}

// ---- comparisons and where ----

TEST_CASE("comparisons, logic and where", "[forward]") {
  on_both_backends([] {
    Tensor a = f32({1, 2, 3}), b = f32({2, 2, 2});
    Tensor lt_ab = lt(a, b);
    CHECK(lt_ab.dtype() == kBool);
    TG_CHECK_VALUES(lt_ab, (V{1, 0, 0}), 0, 0);
    TG_CHECK_VALUES(le(a, b), (V{1, 1, 0}), 0, 0);
    TG_CHECK_VALUES(gt(a, b), (V{0, 0, 1}), 0, 0);
    TG_CHECK_VALUES(ge(a, b), (V{0, 1, 1}), 0, 0);
    TG_CHECK_VALUES(eq(a, b), (V{0, 1, 0}), 0, 0);
    TG_CHECK_VALUES(ne(a, b), (V{1, 0, 1}), 0, 0);
    TG_CHECK_VALUES(gt(a, 1.5), (V{0, 1, 1}), 0, 0);
    TG_CHECK_VALUES(eq(i64({1, 2, 3}), f32({1, 2.5, 3})), (V{1, 0, 1}), 0, 0);
    // Broadcast comparison [3,1] vs [3] -> [3,3].
    TG_CHECK_VALUES(lt(a.reshape({3, 1}), a), (V{0, 1, 1, 0, 0, 1, 0, 0, 0}), 0, 0);
    Tensor p = b8({true, true, false, false}), q = b8({true, false, true, false});
    TG_CHECK_VALUES(logical_and(p, q), (V{1, 0, 0, 0}), 0, 0);
    TG_CHECK_VALUES(logical_or(p, q), (V{1, 1, 1, 0}), 0, 0);
    TG_CHECK_VALUES(logical_not(p), (V{0, 0, 1, 1}), 0, 0);
    TG_CHECK_VALUES(logical_not(f32({0, 2.5, -1})), (V{1, 0, 0}), 0, 0);
    TG_CHECK_VALUES(logical_and(f32({0, 1, 2}), i64({3, 0, 1})), (V{0, 0, 1}), 0, 0);

    Tensor w = where(b8({true, false, true}), f32({1, 2, 3}), scalar_tensor(9.0));
    TG_CHECK_VALUES(w, (V{1, 9, 3}), 0, 0);
    // cond [2,1] broadcast against a [3] and b [2,3].
    Tensor w2 =
        where(b8({true, false}, {2, 1}), f32({1, 2, 3}), f32({-1, -2, -3, -4, -5, -6}, {2, 3}));
    CHECK(w2.shape() == Shape{2, 3});
    TG_CHECK_VALUES(w2, (V{1, 2, 3, -4, -5, -6}), 0, 0);
    Tensor wi = where(b8({false, true}), i64({1, 2}), f64({0.5, 0.5}));
    CHECK(wi.dtype() == kFloat64);
    TG_CHECK_VALUES(wi, (V{0.5, 2}), 0, 0);
  });
}

// ---- dtype promotion ----

TEST_CASE("integer dtype promotion follows the documented rules", "[forward]") {
  on_both_backends([] {
    Tensor q = div(i64({7, -7, 1}), i64({2, 2, 4}));
    CHECK(q.dtype() == kFloat32);  // true division
    TG_CHECK_VALUES(q, (V{3.5, -3.5, 0.25}), 0, 0);
    Tensor q32 = i32({1, 3}) / i32({2, 2});
    CHECK(q32.dtype() == kFloat32);
    TG_CHECK_VALUES(q32, (V{0.5, 1.5}), 0, 0);
    CHECK(div(i64({1}), f64({4})).dtype() == kFloat64);

    Tensor s = add(i64({1, 2}), i64({3, 4}));
    CHECK(s.dtype() == kInt64);
    TG_CHECK_VALUES(s, (V{4, 6}), 0, 0);
    CHECK(add(i32({1}), i64({1})).dtype() == kInt64);
    CHECK(add(i32({1}), i32({1})).dtype() == kInt32);
    CHECK(mul(i32({2}), f32({1.5})).dtype() == kFloat32);
    CHECK(mul(i64({2}), f64({1.5})).dtype() == kFloat64);
    CHECK(add(f32({1}), f64({1})).dtype() == kFloat64);
    Tensor bb = add(b8({true, false}), b8({true, true}));
    CHECK(bb.dtype() == kInt64);
    TG_CHECK_VALUES(bb, (V{2, 1}), 0, 0);
    // Scalars: a whole number keeps the integer dtype, a fraction promotes to float32.
    Tensor whole = add(i64({1, 2}), 2.0);
    CHECK(whole.dtype() == kInt64);
    TG_CHECK_VALUES(whole, (V{3, 4}), 0, 0);
    Tensor frac = add(i64({1, 2}), 2.5);
    CHECK(frac.dtype() == kFloat32);
    TG_CHECK_VALUES(frac, (V{3.5, 4.5}), 0, 0);
    Tensor pw = pow(i64({2, 3}), i64({3, 2}));
    CHECK(pw.dtype() == kFloat32);
    TG_CHECK_VALUES(pw, (V{8, 9}), 0, 0);
    // Floating unary ops promote integers to float32; neg/abs/square keep them.
    Tensor e = exp(i64({0, 1}));
    CHECK(e.dtype() == kFloat32);
    TG_CHECK_VALUES(e, (V{1.0, 2.718281828459045}), 0, 1e-6);
    CHECK(neg(i64({2})).dtype() == kInt64);
    CHECK(abs(i32({-2})).item<int64_t>() == 2);
    CHECK(square(i64({-3})).item<int64_t>() == 9);
    // Reductions: sum of ints stays int64, mean of ints is float32, sum of bools counts.
    Tensor si = sum(i32({1, 2, 3}));
    CHECK((si.dtype() == kInt32 || si.dtype() == kInt64));
    CHECK(si.item<int64_t>() == 6);
    Tensor mi = mean(i64({1, 2}));
    CHECK(mi.dtype() == kFloat32);
    CHECK(mi.item<double>() == 1.5);
    Tensor sb = sum(b8({true, true, false}));
    CHECK(sb.dtype() == kInt64);
    CHECK(sb.item<int64_t>() == 2);
    Tensor mx = maximum(b8({true, false}), b8({false, false}));
    CHECK(mx.dtype() == kBool);
    TG_CHECK_VALUES(mx, (V{1, 0}), 0, 0);
  });
}

// ---- elementwise functions ----

TEST_CASE("sigmoid and softplus are stable at ±100", "[forward]") {
  on_both_backends([] {
    Tensor s = sigmoid(f32({-100, 0, 100, 2}));
    TG_CHECK_VALUES(s, (V{3.720075976020836e-44, 0.5, 1.0, 0.8807970779778823}), 1e-30, 1e-6);
    TG_CHECK_VALUES(sigmoid(f64({-100, 100})), (V{3.720075976020836e-44, 1.0}), 0, 1e-12);
    TG_CHECK_VALUES(softplus(f32({-100, 0, 100, -2, 2})),
                    (V{3.720075976020836e-44, 0.6931471805599453, 100.0, 0.1269280110429725,
                       2.1269280110429727}),
                    1e-30, 1e-6);
    // Large tensors (oneDNN eltwise): no NaN, exact saturation.
    Tensor lo = full({20000}, -100.0), hi = full({20000}, 100.0);
    TG_CHECK_VALUES(sigmoid(lo), V(20000, 0.0), 1e-30, 0);
    TG_CHECK_VALUES(sigmoid(hi), V(20000, 1.0), 0, 1e-7);
    TG_CHECK_VALUES(softplus(hi), V(20000, 100.0), 0, 1e-6);
    TG_CHECK_VALUES(softplus(lo), V(20000, 0.0), 1e-30, 0);
  });
}

TEST_CASE("gelu: exact erf form and tanh approximation", "[forward]") {
  const V xs{-2, -1, -0.5, 0.5, 1, 2, 3};
  const V exact{-0.04550026389635842, -0.15865525393145707, -0.15426876936299344,
                0.34573123063700656,  0.8413447460685429,   1.9544997361036416,
                2.99595030590511};
  const V approx{-0.04540230591222494, -0.15880800939172324, -0.15428599017485606,
                 0.34571400982514394,  0.8411919906082768,   1.954597694087775,
                 2.996362607918227};
  on_both_backends([&] {
    Tensor x64 = f64(xs);
    TG_CHECK_VALUES(gelu(x64), exact, 1e-14, 1e-13);
    TG_CHECK_VALUES(gelu(x64, true), approx, 1e-14, 1e-13);
    Tensor x32 = x64.to(kFloat32);
    TG_CHECK_VALUES(gelu(x32), exact, 1e-6, 1e-6);
    TG_CHECK_VALUES(gelu(x32, true), approx, 1e-6, 1e-6);
    // The two differ by more than float32 rounding at x = -1: the forms are not mixed up.
    CHECK(std::abs(gelu(f32({-1})).item<double>() - (-0.15865525393145707)) < 1e-6);
    // Large (oneDNN gelu_erf / gelu_tanh).
    Tensor big = rows_of(xs, 3000);
    TG_CHECK_VALUES(gelu(big), repeat(exact, 3000), 1e-6, 1e-5);
    TG_CHECK_VALUES(gelu(big, true), repeat(approx, 3000), 1e-6, 1e-5);
  });
}

TEST_CASE("elementwise functions at hand-computed points", "[forward]") {
  on_both_backends([] {
    TG_CHECK_VALUES(exp(f64({0, 1, -1})), (V{1, 2.718281828459045, 0.36787944117144233}), 0, 1e-15);
    TG_CHECK_VALUES(log(f64({1, 2.718281828459045, 0.5})), (V{0, 1, -0.6931471805599453}), 1e-15,
                    1e-15);
    TG_CHECK_VALUES(log1p(f64({0.5, 1e-10})), (V{0.4054651081081644, 9.9999999995e-11}), 0, 1e-12);
    TG_CHECK_VALUES(expm1(f64({0.5, 1e-10})), (V{0.6487212707001282, 1.00000000005e-10}), 0, 1e-12);
    TG_CHECK_VALUES(sqrt(f32({9, 0.25})), (V{3, 0.5}), 0, 1e-7);
    TG_CHECK_VALUES(rsqrt(f32({4, 0.25})), (V{0.5, 2}), 0, 1e-7);
    TG_CHECK_VALUES(square(f32({-3, 0.5})), (V{9, 0.25}), 0, 0);
    TG_CHECK_VALUES(sin(f64({1, 0})), (V{0.8414709848078965, 0}), 1e-15, 1e-15);
    TG_CHECK_VALUES(cos(f64({1, 0})), (V{0.5403023058681398, 1}), 1e-15, 1e-15);
    TG_CHECK_VALUES(tanh(f64({1, -1})), (V{0.7615941559557649, -0.7615941559557649}), 0, 1e-15);
    TG_CHECK_VALUES(neg(f32({1, -2})), (V{-1, 2}), 0, 0);
    TG_CHECK_VALUES(abs(f32({-3, 2})), (V{3, 2}), 0, 0);
    TG_CHECK_VALUES(sign(f32({-3, 0, 2})), (V{-1, 0, 1}), 0, 0);
    TG_CHECK_VALUES(relu(f32({-1, 0, 2})), (V{0, 0, 2}), 0, 0);
    TG_CHECK_VALUES(leaky_relu(f32({-1, 2})), (V{-0.2, 2}), 0, 1e-7);
    TG_CHECK_VALUES(leaky_relu(f32({-1, 2}), 0.01), (V{-0.01, 2}), 0, 1e-7);
    TG_CHECK_VALUES(elu(f64({-1, -0.5, 2})), (V{-0.6321205588285577, -0.3934693402873666, 2}), 0,
                    1e-15);
    TG_CHECK_VALUES(elu(f64({-1, 2}), 0.5), (V{-0.31606027941427883, 2}), 0, 1e-15);
    TG_CHECK_VALUES(selu(f64({-1, -0.5, 2})),
                    (V{-1.1113307378125625, -0.6917581878028713, 2.101401974710961}), 0, 1e-14);
    TG_CHECK_VALUES(softsign(f32({3, -1})), (V{0.75, -0.5}), 0, 1e-7);
    TG_CHECK_VALUES(erf(f64({0.5, -1, 0})), (V{0.5204998778130465, -0.8427007929497149, 0}), 1e-15,
                    1e-15);
    TG_CHECK_VALUES(pow(f32({4, 9}), 2.5), (V{32, 243}), 0, 1e-6);
    TG_CHECK_VALUES(pow(f32({-2, 3}), 3.0), (V{-8, 27}), 0, 1e-6);
    TG_CHECK_VALUES(pow(f32({4}), -0.5), (V{0.5}), 0, 1e-6);
    TG_CHECK_VALUES(pow(f64({2, 4}), f64({0.5, -1})), (V{1.4142135623730951, 0.25}), 0, 1e-15);
    TG_CHECK_VALUES(clip(f32({-2, 0.3, 5}), -1, 1), (V{-1, 0.3, 1}), 0, 1e-7);
    TG_CHECK_VALUES(maximum(f32({1, 5}), f32({3, 2})), (V{3, 5}), 0, 0);
    TG_CHECK_VALUES(minimum(f32({1, 5}), f32({3, 2})), (V{1, 2}), 0, 0);
    TG_CHECK_VALUES(sub(1.0, f32({0.25})), (V{0.75}), 0, 0);
    TG_CHECK_VALUES(2.0 / f32({4, 8}), (V{0.5, 0.25}), 0, 0);
  });
}

TEST_CASE("elementwise functions of large tensors (oneDNN eltwise and binary)", "[forward]") {
  on_both_backends([] {
    const V xs{-2, -0.5, 0.25, 1, 3};
    const int64_t n = 4000;  // 20000 elements
    Tensor x = rows_of(xs, n);
    auto each = [&](double (*f)(double)) {
      V r;
      for (double v : xs) r.push_back(f(v));
      return repeat(r, n);
    };
    TG_CHECK_VALUES(exp(x), each([](double v) { return std::exp(v); }), 1e-6, 1e-6);
    TG_CHECK_VALUES(tanh(x), each([](double v) { return std::tanh(v); }), 1e-6, 1e-6);
    TG_CHECK_VALUES(abs(x), each([](double v) { return std::abs(v); }), 0, 0);
    TG_CHECK_VALUES(relu(x), each([](double v) { return v > 0 ? v : 0.0; }), 0, 0);
    TG_CHECK_VALUES(leaky_relu(x, 0.1), each([](double v) { return v > 0 ? v : 0.1 * v; }), 1e-7,
                    1e-6);
    TG_CHECK_VALUES(elu(x), each([](double v) { return v > 0 ? v : std::expm1(v); }), 1e-6, 1e-6);
    TG_CHECK_VALUES(square(x), each([](double v) { return v * v; }), 0, 1e-7);
    TG_CHECK_VALUES(neg(x), each([](double v) { return -v; }), 0, 0);
    TG_CHECK_VALUES(clip(x, -1, 1), each([](double v) { return std::min(1.0, std::max(-1.0, v)); }),
                    0, 0);
    TG_CHECK_VALUES(pow(x, 3.0), each([](double v) { return v * v * v; }), 1e-6, 1e-6);
    TG_CHECK_VALUES(pow(x, 2.0), each([](double v) { return v * v; }), 1e-6, 1e-6);
    Tensor p = abs(x);
    TG_CHECK_VALUES(sqrt(p), each([](double v) { return std::sqrt(std::abs(v)); }), 1e-7, 1e-6);
    TG_CHECK_VALUES(rsqrt(p), each([](double v) { return 1.0 / std::sqrt(std::abs(v)); }), 1e-7,
                    1e-6);
    // oneDNN's log is a polynomial with absolute errors up to a few 1e-6 near x = 1.
    TG_CHECK_VALUES(log(p), each([](double v) { return std::log(std::abs(v)); }), 1e-5, 1e-6);
    // Binary with a broadcast row: x + [10, 20, 30, 40, 50] and [10, ...] / x.
    Tensor r = f32({10, 20, 30, 40, 50});
    TG_CHECK_VALUES(add(x, r), repeat(V{8, 19.5, 30.25, 41, 53}, n), 0, 1e-7);
    TG_CHECK_VALUES(sub(r, x), repeat(V{12, 20.5, 29.75, 39, 47}, n), 0, 1e-7);
    TG_CHECK_VALUES(div(r, x), repeat(V{-5, -40, 120, 40, 50.0 / 3.0}, n), 0, 1e-6);
    TG_CHECK_VALUES(mul(x, r), repeat(V{-20, -10, 7.5, 40, 150}, n), 0, 1e-7);
    TG_CHECK_VALUES(maximum(x, f32({0})), each([](double v) { return std::max(v, 0.0); }), 0, 0);
    TG_CHECK_VALUES(minimum(f32({0}), x), each([](double v) { return std::min(v, 0.0); }), 0, 0);
  });
}

TEST_CASE("dropout keeps about 1 - rate of the elements, scaled by 1 / (1 - rate)", "[forward]") {
  on_both_backends([] {
    Tensor x = ones({200, 100});
    Tensor y = dropout(x, 0.25, true, 11);
    V v = test::values(y);
    int64_t kept = 0;
    bool scaled = true;
    for (double e : v) {
      if (e != 0.0) {
        ++kept;
        scaled &= std::abs(e - 4.0 / 3.0) < 1e-6;
      }
    }
    CHECK(scaled);
    CHECK(kept > 14700);  // 15000 expected; 5 standard deviations ≈ 300
    CHECK(kept < 15300);
    // Same seed, same mask; not training: the identity.
    TG_CHECK_VALUES(dropout(x, 0.25, true, 11), v, 0, 0);
    TG_CHECK_VALUES(dropout(x, 0.25, false), V(20000, 1.0), 0, 0);
    CHECK_THROWS_AS(dropout(x, 1.0), ValueError);
  });
}

TEST_CASE("unary ops on bool tensors keep their values (only logical_not negates)", "[forward]") {
  Tensor b = tensor(std::vector<bool>{true, false, true});
  for (Tensor y : {abs(b), relu(b), square(b)}) {
    CHECK(y.dtype() == kBool);
    CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 1});
  }
  CHECK(logical_not(b).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0});
  CHECK(logical_not(tensor({0.f, 2.f})).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
}

TEST_CASE("conv2d's fused relu and bias equal relu(conv2d(x, w) + b), values and gradients",
          "[forward]") {
  on_both_backends([] {
    for (bool large : {false, true}) {
      INFO((large ? "large (oneDNN, Winograd on the CPU)" : "small"));
      const Shape xs = large ? Shape{4, 13, 13, 32} : Shape{2, 5, 4, 2};
      const Shape ws = large ? Shape{3, 3, 32, 64} : Shape{3, 3, 2, 3};
      Tensor x = uniform(xs, -1, 1, 61).requires_grad_();
      Tensor w = uniform(ws, -0.3, 0.3, 62).requires_grad_();
      Tensor b = uniform({ws[3]}, -0.5, 0.5, 63).requires_grad_();
      Tensor fused = conv2d(x, w, b, {.fused_relu = true});
      Tensor plain = relu(add(conv2d(x, w), b));
      TG_CHECK_VALUES(fused, test::values(plain), 1e-5, 1e-4);
      Tensor u = uniform(fused.shape(), -1, 1, 64);
      std::vector<Tensor> gf = autograd::grad({sum(mul(fused, u))}, {x, w, b});
      std::vector<Tensor> gp = autograd::grad({sum(mul(plain, u))}, {x, w, b});
      for (size_t i = 0; i < 3; ++i) TG_CHECK_VALUES(gf[i], test::values(gp[i]), 1e-4, 1e-4);
    }
  });
}

TEST_CASE("max_pool2d: ties go to the first cell, NaN wins, the gradient follows the winner",
          "[forward]") {
  on_both_backends([] {
    // One 2×2 window per channel over a (1, 2, 2, 3) input; channel 0 has a tie between the
    // cells (0, 1) and (1, 0), channel 1 a NaN at (1, 1), channel 2 a plain maximum at (1, 0).
    const float nan = std::nanf("");
    Tensor x = f32({1, 5, -1,    // (0, 0)
                    7, 2, -3,    // (0, 1)
                    7, 3, 4,     // (1, 0)
                    0, nan, 2},  // (1, 1)
                   {1, 2, 2, 3})
                   .requires_grad_();
    Tensor y = max_pool2d(x, {});
    std::vector<double> yv = test::values(y);
    REQUIRE(yv.size() == 3);
    CHECK(yv[0] == 7);
    CHECK(std::isnan(yv[1]));
    CHECK(yv[2] == 4);
    sum(mul(y, f32({1, 10, 100}, {1, 1, 1, 3}))).backward();
    // Gradient 1 to channel 0's first 7 (cell (0, 1)), 10 to the NaN cell, 100 to (1, 0) ch 2.
    TG_CHECK_VALUES(x.grad(), (V{0, 0, 0, 1, 0, 0, 0, 0, 100, 0, 10, 0}), 0, 0);
  });
}
