// Creation functions, dtypes and conversions, element access, and the random generators.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
double sample_mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double sample_std(const std::vector<double>& v) {
  const double m = sample_mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}
}  // namespace

TEST_CASE("zeros, ones and full fill every element", "[create]") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == kFloat32);
  CHECK(z.device() == Device::cpu());
  CHECK(z.is_contiguous());
  CHECK(z.strides() == Strides{3, 1});
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.0f));

  Tensor o = ones({4}, {.dtype = kFloat64});
  CHECK(o.dtype() == kFloat64);
  CHECK(o.to_vector<double>() == std::vector<double>(4, 1.0));

  Tensor f = full({2, 2}, 2.5);
  CHECK(f.to_vector<float>() == std::vector<float>(4, 2.5f));
  Tensor fi = full({3}, -7, {.dtype = kInt32});
  CHECK(fi.dtype() == kInt32);
  CHECK(fi.to_vector<int32_t>() == std::vector<int32_t>{-7, -7, -7});
  Tensor fb = full({2}, 1, {.dtype = kBool});
  CHECK(fb.to_vector<bool>() == std::vector<bool>{true, true});

  Tensor zl = zeros_like(fi);
  CHECK(zl.dtype() == kInt32);
  CHECK(zl.shape() == Shape{3});
  CHECK(zl.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0});
  Tensor ol = ones_like(o);
  CHECK(ol.dtype() == kFloat64);
  CHECK(ol.to_vector<double>() == std::vector<double>(4, 1.0));

  Tensor e = zeros({0, 3});
  CHECK(e.numel() == 0);
  CHECK(e.to_vector<float>().empty());

  Tensor g = ones({2}, {.requires_grad = true});
  CHECK(g.requires_grad());
  CHECK(g.is_leaf());
}

TEST_CASE("arange produces half-open ranges", "[create]") {
  Tensor a = arange(5);
  CHECK(a.dtype() == kInt64);
  CHECK(a.shape() == Shape{5});
  CHECK(a.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});

  CHECK(arange(2.0, 11.0, 3.0).to_vector<int64_t>() == std::vector<int64_t>{2, 5, 8});
  CHECK(arange(5.0, 0.0, -2.0).to_vector<int64_t>() == std::vector<int64_t>{5, 3, 1});
  CHECK(arange(3.0, 3.0).numel() == 0);
  CHECK(arange(3.0, 1.0).numel() == 0);  // empty, not negative

  Tensor f = arange(0.0, 1.0, 0.25, {.dtype = kFloat32});
  CHECK(f.dtype() == kFloat32);
  CHECK(f.to_vector<float>() == std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f});
  Tensor d = arange(-1.0, 0.0, 0.5, {.dtype = kFloat64});
  CHECK(d.to_vector<double>() == std::vector<double>{-1.0, -0.5});
  // 1.0 / 0.3 = 3.33.. elements: 0, 0.3, 0.6, 0.9.
  CHECK(arange(0.0, 1.0, 0.3, {.dtype = kFloat64}).numel() == 4);

  REQUIRE_THROWS_AS(arange(0.0, 1.0, 0.0), ValueError);
  // dtype inferred from the arguments, as NumPy: integers give int64, any float gives float32.
  CHECK(arange(0, 10, 3).dtype() == kInt64);
  CHECK(arange(0.0, 1.0, 0.25).dtype() == kFloat32);
  CHECK(arange(0.0, 1.0, 0.25).to_vector<double>() == std::vector<double>{0, 0.25, 0.5, 0.75});
}

TEST_CASE("linspace includes both ends", "[create]") {
  Tensor l = linspace(0.0, 1.0, 5);
  CHECK(l.dtype() == kFloat32);
  CHECK(l.to_vector<float>() == std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f, 1.0f});
  Tensor d = linspace(-3.0, 3.0, 4, {.dtype = kFloat64});
  TG_CHECK_VALUES(d, (std::vector<double>{-3.0, -1.0, 1.0, 3.0}), 1e-12, 0);
  CHECK(linspace(2.0, 9.0, 1).to_vector<float>() == std::vector<float>{2.0f});
  CHECK(linspace(2.0, 9.0, 0).numel() == 0);
  REQUIRE_THROWS_AS(linspace(0.0, 1.0, -1), ValueError);
}

TEST_CASE("eye builds square and rectangular identities", "[create]") {
  Tensor i3 = eye(3);
  CHECK(i3.shape() == Shape{3, 3});
  CHECK(i3.to_vector<float>() == std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor r = eye(2, 3, {.dtype = kInt64});
  CHECK(r.shape() == Shape{2, 3});
  CHECK(r.dtype() == kInt64);
  CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 0, 1, 0});
  Tensor c = eye(3, 2, {.dtype = kFloat64});
  CHECK(c.to_vector<double>() == std::vector<double>{1, 0, 0, 1, 0, 0});
  REQUIRE_THROWS_AS(eye(-1), ValueError);
}

TEST_CASE("tensor<T> from vectors in all five dtypes", "[create]") {
  Tensor f = tensor(std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f}, {2, 2});
  CHECK(f.dtype() == kFloat32);
  CHECK(f.shape() == Shape{2, 2});
  CHECK(f.to_vector<float>() == std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f});

  Tensor d = tensor(std::vector<double>{0.1, 0.2, 0.3});
  CHECK(d.dtype() == kFloat64);
  CHECK(d.shape() == Shape{3});                                        // 1-D when no shape is given
  CHECK(d.to_vector<double>() == std::vector<double>{0.1, 0.2, 0.3});  // exact, no float32 trip

  Tensor i = tensor(std::vector<int32_t>{1, -2, 2147483647}, {3});
  CHECK(i.dtype() == kInt32);
  CHECK(i.to_vector<int32_t>() == std::vector<int32_t>{1, -2, 2147483647});

  const int64_t big = (int64_t{1} << 40) + 3;
  Tensor l = tensor(std::vector<int64_t>{big, -big}, {2, 1});
  CHECK(l.dtype() == kInt64);
  CHECK(l.shape() == Shape{2, 1});
  CHECK(l.to_vector<int64_t>() == std::vector<int64_t>{big, -big});

  Tensor b = tensor(std::vector<bool>{true, false, true}, {3});
  CHECK(b.dtype() == kBool);
  CHECK(b.to_vector<bool>() == std::vector<bool>{true, false, true});

  Tensor il = tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {3, 2});
  CHECK(il.dtype() == kFloat32);
  CHECK(il.shape() == Shape{3, 2});
  CHECK(il.to_vector<int32_t>() == std::vector<int32_t>{1, 2, 3, 4, 5, 6});

  // The values can be stored as another dtype.
  Tensor conv = tensor(std::vector<int32_t>{1, 2}, {2}, {.dtype = kFloat64});
  CHECK(conv.dtype() == kFloat64);
  CHECK(conv.to_vector<double>() == std::vector<double>{1.0, 2.0});

  REQUIRE_THROWS_AS(tensor(std::vector<float>{1, 2, 3}, {2, 2}), ShapeError);
}

TEST_CASE("from_blob copies host memory", "[create]") {
  double host[6] = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(host, {2, 3}, kFloat64);
  host[0] = 100;  // the tensor owns a copy
  CHECK(t.dtype() == kFloat64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(t.data<double>() != host);

  int64_t ints[3] = {7, -8, 9};
  Tensor ti = from_blob(ints, {3}, kInt64);  // keeps the source dtype
  CHECK(ti.to_vector<int64_t>() == std::vector<int64_t>{7, -8, 9});

  CHECK(ti.dtype() == kInt64);
  // Converted on request.
  Tensor tf = from_blob(ints, {3}, kInt64).to(kFloat32);
  CHECK(tf.dtype() == kFloat32);
  CHECK(tf.to_vector<float>() == std::vector<float>{7, -8, 9});
}

TEST_CASE("scalar_tensor is 0-d", "[create]") {
  Tensor s = scalar_tensor(3.5);
  CHECK(s.dim() == 0);
  CHECK(s.shape() == Shape{});
  CHECK(s.numel() == 1);
  CHECK(s.dtype() == kFloat32);
  CHECK(s.item<float>() == 3.5f);
  CHECK(s.item<double>() == 3.5);
  Tensor si = scalar_tensor(-4, {.dtype = kInt64});
  CHECK(si.dtype() == kInt64);
  CHECK(si.item<int64_t>() == -4);
}

TEST_CASE("item converts and rejects tensors with more than one element", "[create]") {
  Tensor t = tensor(std::vector<double>{2.75}, {1, 1});
  CHECK(t.item<double>() == 2.75);
  CHECK(t.item<float>() == 2.75f);
  CHECK(t.item<int64_t>() == 2);  // truncation
  CHECK(t.item<bool>() == true);
  REQUIRE_THROWS_AS(ones({2}).item<float>(), ValueError);
  REQUIRE_THROWS_AS(zeros({0}).item<float>(), ValueError);
}

TEST_CASE("to(dtype) converts between every pair of dtypes", "[create][dtype]") {
  Tensor f = tensor(std::vector<double>{-2.75, -0.5, 0.0, 1.9, 3.0}, {5});
  // Float to integer truncates toward zero.
  CHECK(f.to(kInt32).to_vector<int32_t>() == std::vector<int32_t>{-2, 0, 0, 1, 3});
  CHECK(f.to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{-2, 0, 0, 1, 3});
  // Non-zero is true.
  CHECK(f.to(kBool).to_vector<bool>() == std::vector<bool>{true, true, false, true, true});
  CHECK(f.to(kFloat32).to_vector<float>() == std::vector<float>{-2.75f, -0.5f, 0.0f, 1.9f, 3.0f});
  CHECK(f.to(kFloat32).dtype() == kFloat32);

  Tensor b = tensor(std::vector<bool>{true, false});
  CHECK(b.to(kFloat32).to_vector<float>() == std::vector<float>{1.0f, 0.0f});
  CHECK(b.to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  CHECK(b.to(kFloat64).dtype() == kFloat64);

  Tensor i = tensor(std::vector<int32_t>{-3, 0, 5});
  CHECK(i.to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{-3, 0, 5});
  CHECK(i.to(kFloat64).to_vector<double>() == std::vector<double>{-3.0, 0.0, 5.0});
  CHECK(i.to(kBool).to_vector<bool>() == std::vector<bool>{true, false, true});

  const int64_t big = (int64_t{1} << 40) + 1;  // exact in float64, not in float32
  Tensor l = tensor(std::vector<int64_t>{big});
  CHECK(l.to(kFloat64).item<double>() == static_cast<double>(big));
  CHECK(l.to(kFloat32).item<double>() == static_cast<double>(static_cast<float>(big)));

  // Same dtype: the tensor itself, no copy.
  CHECK(f.to(kFloat64).is_same(f));
  // A conversion is a copy: later writes to the source do not show through.
  Tensor c = f.to(kFloat32);
  f.fill_(9.0);
  CHECK(c.to_vector<float>()[0] == -2.75f);
  // cast() is the free-function form.
  CHECK(cast(i, kFloat32).dtype() == kFloat32);
}

TEST_CASE("dtype names, sizes and promotion", "[create][dtype]") {
  CHECK(dtype_name(kFloat32) == "float32");
  CHECK(dtype_name(kFloat64) == "float64");
  CHECK(dtype_name(kInt32) == "int32");
  CHECK(dtype_name(kInt64) == "int64");
  CHECK(dtype_name(kBool) == "bool");
  CHECK(dtype_size(kFloat32) == 4);
  CHECK(dtype_size(kFloat64) == 8);
  CHECK(dtype_size(kInt32) == 4);
  CHECK(dtype_size(kInt64) == 8);
  CHECK(dtype_size(kBool) == 1);
  CHECK(promote_types(kBool, kInt32) == kInt32);
  CHECK(promote_types(kInt64, kInt32) == kInt64);
  CHECK(promote_types(kInt64, kFloat32) == kFloat32);
  CHECK(promote_types(kFloat32, kFloat64) == kFloat64);
  CHECK(promote_types(kFloat64, kBool) == kFloat64);
  // Elementwise ops follow the promotion.
  Tensor a = tensor(std::vector<int32_t>{1, 2});
  Tensor b = tensor(std::vector<double>{0.5, 0.25});
  Tensor c = a + b;
  CHECK(c.dtype() == kFloat64);
  CHECK(c.to_vector<double>() == std::vector<double>{1.5, 2.25});
}

TEST_CASE("data<T> points at the first element and checks the dtype", "[create]") {
  Tensor t = tensor(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  float* p = t.data<float>();
  CHECK(p[4] == 4.0f);
  p[4] = 40.0f;  // writes through
  CHECK(t.to_vector<float>()[4] == 40.0f);
  // A view's pointer includes its offset.
  Tensor row = t[1];
  CHECK(row.offset() == 3);
  CHECK(row.data<float>()[0] == 3.0f);
  CHECK(row.data<float>() == p + 3);
  REQUIRE_THROWS_AS(t.data<double>(), DTypeError);
  REQUIRE_THROWS_AS(t.data<int32_t>(), DTypeError);
}

TEST_CASE("to_vector reads views in row-major order", "[create]") {
  Tensor t = tensor(std::vector<int64_t>{0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(t.t().to_vector<int64_t>() == std::vector<int64_t>{0, 3, 1, 4, 2, 5});
  CHECK(t.slice(1, 0, 3, 2).to_vector<double>() == std::vector<double>{0, 2, 3, 5});
  CHECK(t.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("manual_seed makes rand and randn reproducible", "[create][random]") {
  manual_seed(1234);
  std::vector<float> a1 = rand({64}).to_vector<float>();
  std::vector<float> a2 = randn({3, 5}).to_vector<float>();
  std::vector<float> a3 = rand({64}).to_vector<float>();
  manual_seed(1234);
  std::vector<float> b1 = rand({64}).to_vector<float>();
  std::vector<float> b2 = randn({3, 5}).to_vector<float>();
  std::vector<float> b3 = rand({64}).to_vector<float>();
  CHECK(a1 == b1);
  CHECK(a2 == b2);
  CHECK(a3 == b3);
  // Successive draws continue the stream rather than repeating it.
  CHECK(a1 != a3);
  // Another seed gives other numbers.
  manual_seed(4321);
  CHECK(rand({64}).to_vector<float>() != a1);
  // Values differ within one draw.
  std::vector<float> sorted = a1;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
}

TEST_CASE("explicit-seed uniform and normal ignore the global generator", "[create][random]") {
  Tensor u1 = uniform({100}, -1.0, 1.0, uint64_t{77});
  manual_seed(5);
  (void)rand({1000});
  Tensor u2 = uniform({100}, -1.0, 1.0, uint64_t{77});
  CHECK(u1.to_vector<float>() == u2.to_vector<float>());
  Tensor n1 = normal({50}, 0.0, 1.0, uint64_t{9}, {.dtype = kFloat64});
  manual_seed(6);
  Tensor n2 = normal({50}, 0.0, 1.0, uint64_t{9}, {.dtype = kFloat64});
  CHECK(n1.to_vector<double>() == n2.to_vector<double>());
  CHECK(normal({50}, 0.0, 1.0, uint64_t{10}, {.dtype = kFloat64}).to_vector<double>() !=
        n1.to_vector<double>());

  // An explicit-seed draw does not advance the global stream.
  manual_seed(11);
  std::vector<float> r1 = rand({32}).to_vector<float>();
  std::vector<float> r2 = rand({32}).to_vector<float>();
  manual_seed(11);
  std::vector<float> s1 = rand({32}).to_vector<float>();
  (void)uniform({1000}, 0.0, 1.0, uint64_t{3});
  (void)normal({1000}, 0.0, 1.0, uint64_t{3});
  std::vector<float> s2 = rand({32}).to_vector<float>();
  CHECK(r1 == s1);
  CHECK(r2 == s2);
}

TEST_CASE("normal samples have the requested mean and standard deviation", "[create][random]") {
  manual_seed(2024);
  // Standard error of the mean over 100k samples: sd / 316; tolerances are about 5 of them.
  std::vector<double> z = randn({100000}).to_vector<double>();
  CHECK(std::abs(sample_mean(z)) < 0.015);
  CHECK(std::abs(sample_std(z) - 1.0) < 0.01);
  // About 68.3% of the mass within one standard deviation.
  const double within = static_cast<double>(std::count_if(
                            z.begin(), z.end(), [](double v) { return std::abs(v) < 1.0; })) /
                        static_cast<double>(z.size());
  CHECK(std::abs(within - 0.6827) < 0.01);

  std::vector<double> n = normal({100000}, 3.0, 2.0, {.dtype = kFloat64}).to_vector<double>();
  CHECK(std::abs(sample_mean(n) - 3.0) < 0.03);
  CHECK(std::abs(sample_std(n) - 2.0) < 0.02);

  std::vector<double> e = normal({100000}, -1.0, 0.5, uint64_t{99}).to_vector<double>();
  CHECK(std::abs(sample_mean(e) + 1.0) < 0.008);
  CHECK(std::abs(sample_std(e) - 0.5) < 0.005);
}

TEST_CASE("uniform samples stay in [low, high) and fill it evenly", "[create][random]") {
  manual_seed(7);
  std::vector<double> u = uniform({100000}, -2.0, 5.0).to_vector<double>();
  const auto [mn, mx] = std::minmax_element(u.begin(), u.end());
  CHECK(*mn >= -2.0);
  CHECK(*mx < 5.0);
  CHECK(*mn < -1.99);  // reaches both ends
  CHECK(*mx > 4.99);
  // Mean 1.5, standard deviation 7 / sqrt(12) = 2.0207.
  CHECK(std::abs(sample_mean(u) - 1.5) < 0.05);
  CHECK(std::abs(sample_std(u) - 7.0 / std::sqrt(12.0)) < 0.03);
  // Each tenth of the interval gets about 10% of the samples.
  std::vector<int> bins(10, 0);
  for (double v : u) bins[std::min(9, static_cast<int>((v + 2.0) / 0.7))]++;
  for (int c : bins) CHECK(std::abs(c - 10000) < 600);

  std::vector<double> r = rand({20000}, {.dtype = kFloat64}).to_vector<double>();
  CHECK(*std::min_element(r.begin(), r.end()) >= 0.0);
  CHECK(*std::max_element(r.begin(), r.end()) < 1.0);
  CHECK(std::abs(sample_mean(r) - 0.5) < 0.02);
}

TEST_CASE("random creation rejects bad arguments", "[create][random]") {
  REQUIRE_THROWS_AS(uniform({3}, 1.0, 1.0), ValueError);
  REQUIRE_THROWS_AS(uniform({3}, 2.0, 1.0, uint64_t{1}), ValueError);
  REQUIRE_THROWS_AS(normal({3}, 0.0, -1.0), ValueError);
  REQUIRE_THROWS_AS(rand({3}, {.dtype = kInt32}), DTypeError);
  REQUIRE_THROWS_AS(randn({3}, {.dtype = kBool}), DTypeError);
  Tensor g = randn({2, 2}, {.requires_grad = true});
  CHECK(g.requires_grad());
  CHECK(g.shape() == Shape{2, 2});
}
