// Views: reshape, transpose, slice, select, expand, squeeze, flatten, and storage sharing.
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

namespace {
/// 0, 1, ..., n-1 as float32 in the given shape.
Tensor iota(const Shape& shape) {
  return arange(0.0, static_cast<double>(numel(shape)), 1.0, {.dtype = kFloat32}).reshape(shape);
}
std::vector<float> fv(const Tensor& t) { return t.to_vector<float>(); }
bool shares(const Tensor& a, const Tensor& b) { return a.storage() == b.storage(); }
}  // namespace

TEST_CASE("reshape of a contiguous tensor is a view", "[views]") {
  Tensor x = iota({2, 6});
  Tensor y = x.reshape({3, 4});
  CHECK(y.shape() == Shape{3, 4});
  CHECK(y.strides() == Strides{4, 1});
  CHECK(shares(x, y));
  CHECK(fv(y) == fv(x));

  Tensor z = x.reshape({-1, 3});
  CHECK(z.shape() == Shape{4, 3});
  Tensor w = x.reshape({2, -1, 2});
  CHECK(w.shape() == Shape{2, 3, 2});
  CHECK(x.reshape({-1}).shape() == Shape{12});
  CHECK(shares(x, w));

  Tensor s = full({1}, 4.0).reshape({});
  CHECK(s.dim() == 0);
  CHECK(s.item<float>() == 4.0f);
  CHECK(s.reshape({1, 1}).shape() == Shape{1, 1});

  // The same shape gives the tensor back.
  CHECK(x.reshape({2, 6}).is_same(x));
}

TEST_CASE("reshape copies when strides do not allow a view", "[views]") {
  Tensor x = iota({2, 3});  // [[0,1,2],[3,4,5]]
  Tensor xt = x.t();        // [[0,3],[1,4],[2,5]]
  REQUIRE_FALSE(xt.is_contiguous());
  Tensor r = xt.reshape({6});
  CHECK(fv(r) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK_FALSE(shares(r, x));
  CHECK(r.is_contiguous());

  // A transposed tensor may still be reshaped as a view where axes are merely split.
  Tensor y = iota({4, 6}).t();  // shape [6, 4], strides [1, 6]
  Tensor split = y.reshape({2, 3, 4});
  CHECK(shares(split, y));
  CHECK(split.strides() == Strides{3, 1, 6});
  // Element [1][2][3] = y[5][3] = original[3][5] = 23.
  CHECK(split.select(0, 1).select(0, 2).select(0, 3).item<float>() == 23.0f);

  // Every other column: [3, 2] with strides [4, 2] is also [6] with stride 2 (a view).
  Tensor sl = iota({3, 4}).slice(1, 0, 4, 2);  // [[0,2],[4,6],[8,10]]
  Tensor flat = sl.reshape({-1});
  CHECK(fv(flat) == std::vector<float>{0, 2, 4, 6, 8, 10});
  CHECK(shares(flat, sl));
  CHECK(flat.strides() == Strides{2});
  // The first two columns cannot be flattened without a copy.
  Tensor two = iota({3, 4}).slice(1, 0, 2);
  Tensor flat2 = two.reshape({-1});
  CHECK(fv(flat2) == std::vector<float>{0, 1, 4, 5, 8, 9});
  CHECK_FALSE(shares(flat2, two));
}

TEST_CASE("view never copies and rejects incompatible strides", "[views]") {
  Tensor x = iota({3, 4});
  Tensor v = x.view({4, 3});
  CHECK(shares(v, x));
  CHECK(fv(v) == fv(x));
  CHECK(x.view({-1}).shape() == Shape{12});
  // Splitting the columns of a transpose would need a copy.
  REQUIRE_THROWS_AS(x.t().view({12}), ShapeError);
  REQUIRE_THROWS_WITH(x.t().view({12}), Contains("view") && Contains("reshape"));
  REQUIRE_THROWS_AS(x.slice(1, 0, 2).view({6}), ShapeError);
  CHECK(x.slice(1, 0, 4, 2).view({6}).strides() == Strides{2});
  // Splitting an axis of the transpose is fine.
  Tensor t = x.t();  // [4, 3] strides [1, 4]
  Tensor split = t.view({2, 2, 3});
  CHECK(split.strides() == Strides{2, 1, 4});
  CHECK(shares(split, x));
}

TEST_CASE("transpose, permute and t reorder axes without copying", "[views]") {
  Tensor x = iota({2, 3});
  Tensor t = x.t();
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Strides{1, 3});
  CHECK(shares(t, x));
  CHECK(fv(t) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(fv(x.transpose(0, 1)) == fv(t));
  CHECK(fv(x.transpose(-1, -2)) == fv(t));
  CHECK(fv(t.t()) == fv(x));

  Tensor y = iota({2, 3, 4});
  Tensor p = y.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Strides{1, 12, 4});
  std::vector<float> expect;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) expect.push_back(static_cast<float>(i * 12 + j * 4 + k));
  CHECK(fv(p) == expect);
  CHECK(fv(y.permute({-1, 0, 1})) == expect);
  // t() of a 3-D tensor swaps the last two axes.
  CHECK(y.t().shape() == Shape{2, 4, 3});
  CHECK(y.t().select(0, 1).select(0, 2).select(0, 1).item<float>() == 12 + 4 + 2);
  // t() of a 1-D tensor is the tensor.
  Tensor v = iota({3});
  CHECK(v.t().shape() == Shape{3});

  REQUIRE_THROWS_AS(y.permute({0, 1}), ShapeError);
  REQUIRE_THROWS_AS(y.permute({0, 1, 1}), ValueError);
  REQUIRE_THROWS_AS(y.transpose(0, 3), IndexError);
}

TEST_CASE("slice with start, stop, step and negative bounds", "[views]") {
  Tensor x = iota({10});
  CHECK(fv(x.slice(0, 2, 5)) == std::vector<float>{2, 3, 4});
  CHECK(fv(x.slice(0, 2, 8, 2)) == std::vector<float>{2, 4, 6});
  CHECK(fv(x.slice(0, 1, -1, 3)) == std::vector<float>{1, 4, 7});
  CHECK(fv(x.slice(0, -3, 10)) == std::vector<float>{7, 8, 9});
  CHECK(fv(x.slice(0, -2, -1)) == std::vector<float>{8});
  // Out-of-range bounds are clamped like Python slices.
  CHECK(fv(x.slice(0, -100, 3)) == std::vector<float>{0, 1, 2});
  CHECK(fv(x.slice(0, 8, 100)) == std::vector<float>{8, 9});
  CHECK(x.slice(0, 5, 2).numel() == 0);
  CHECK(x.slice(0, 20, 30).numel() == 0);
  CHECK(fv(x.slice(0, 0, 10, 4)) == std::vector<float>{0, 4, 8});
  CHECK(fv(x.slice(0, 0, 10, 20)) == std::vector<float>{0});

  Tensor m = iota({3, 4});  // rows 0..3, 4..7, 8..11
  Tensor s = m.slice(1, 1, 3);
  CHECK(s.shape() == Shape{3, 2});
  CHECK(s.strides() == Strides{4, 1});
  CHECK(s.offset() == 1);
  CHECK(fv(s) == std::vector<float>{1, 2, 5, 6, 9, 10});
  Tensor r = m.slice(0, 1, 3).slice(1, 0, 4, 3);
  CHECK(r.offset() == 4);
  CHECK(r.strides() == Strides{4, 3});
  CHECK(fv(r) == std::vector<float>{4, 7, 8, 11});
  CHECK(fv(m.slice(-1, -1, 4)) == std::vector<float>{3, 7, 11});
  CHECK(shares(r, m));
  REQUIRE_THROWS_AS(x.slice(0, 0, 5, 0), ValueError);
  REQUIRE_THROWS_AS(x.slice(0, 0, 5, -1), ValueError);
}

TEST_CASE("select and operator[] remove an axis", "[views]") {
  Tensor m = iota({3, 4});
  Tensor row = m[1];
  CHECK(row.shape() == Shape{4});
  CHECK(fv(row) == std::vector<float>{4, 5, 6, 7});
  CHECK(fv(m[-1]) == std::vector<float>{8, 9, 10, 11});
  Tensor col = m.select(1, 2);
  CHECK(col.shape() == Shape{3});
  CHECK(col.strides() == Strides{4});
  CHECK(fv(col) == std::vector<float>{2, 6, 10});
  CHECK(fv(m.select(-1, -1)) == std::vector<float>{3, 7, 11});
  Tensor e = m[2][3];
  CHECK(e.dim() == 0);
  CHECK(e.item<float>() == 11.0f);
  CHECK(shares(e, m));
  Tensor c = iota({2, 3, 4});
  CHECK(fv(c.select(1, 1)) == std::vector<float>{4, 5, 6, 7, 16, 17, 18, 19});
}

TEST_CASE("expand and broadcast_to use stride 0", "[views]") {
  Tensor col = tensor({1.0f, 2.0f, 3.0f}, {3, 1});
  Tensor e = col.expand({3, 4});
  CHECK(e.shape() == Shape{3, 4});
  CHECK(e.strides() == Strides{1, 0});
  CHECK(shares(e, col));
  CHECK(fv(e) == std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  CHECK_FALSE(e.is_contiguous());

  Tensor b = col.broadcast_to({2, 3, 2});
  CHECK(b.shape() == Shape{2, 3, 2});
  CHECK(b.strides() == Strides{0, 1, 0});
  CHECK(fv(b) == std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});

  Tensor row = tensor({5.0f, 6.0f});
  CHECK(fv(row.expand({2, -1})) == std::vector<float>{5, 6, 5, 6});
  CHECK(row.expand({2, -1}).strides() == Strides{0, 1});
  CHECK(row.expand({2}).is_same(row));

  REQUIRE_THROWS_AS(col.expand({3, 4}).expand({4, 4}), ShapeError);
  REQUIRE_THROWS_AS(row.expand({3}), ShapeError);
  REQUIRE_THROWS_AS(col.expand({4}), ShapeError);  // fewer axes
}

TEST_CASE("squeeze, unsqueeze and flatten", "[views]") {
  Tensor x = iota({1, 3, 1, 2});
  CHECK(x.squeeze().shape() == Shape{3, 2});
  CHECK(x.squeeze(0).shape() == Shape{3, 1, 2});
  CHECK(x.squeeze(-2).shape() == Shape{1, 3, 2});
  CHECK(fv(x.squeeze()) == fv(x));
  CHECK(shares(x.squeeze(), x));
  REQUIRE_THROWS_AS(x.squeeze(1), ShapeError);

  Tensor v = iota({3});
  CHECK(v.unsqueeze(0).shape() == Shape{1, 3});
  CHECK(v.unsqueeze(1).shape() == Shape{3, 1});
  CHECK(v.unsqueeze(-1).shape() == Shape{3, 1});
  CHECK(iota({2, 3}).unsqueeze(1).shape() == Shape{2, 1, 3});
  REQUIRE_THROWS_AS(v.unsqueeze(3), IndexError);

  Tensor y = iota({2, 3, 4, 5});
  CHECK(y.flatten().shape() == Shape{120});
  CHECK(y.flatten(1).shape() == Shape{2, 60});
  CHECK(y.flatten(1, 2).shape() == Shape{2, 12, 5});
  CHECK(y.flatten(-2, -1).shape() == Shape{2, 3, 20});
  CHECK(fv(y.flatten()) == fv(y));
  CHECK(scalar_tensor(2.0).flatten().shape() == Shape{1});
  // Flattening a transpose copies in row-major order of the transpose.
  CHECK(fv(iota({2, 2}).t().flatten()) == std::vector<float>{0, 2, 1, 3});
  REQUIRE_THROWS_AS(y.flatten(2, 1), ValueError);
}

TEST_CASE("contiguous returns the tensor or a row-major copy", "[views]") {
  Tensor x = iota({2, 3});
  CHECK(x.is_contiguous());
  CHECK(x.contiguous().is_same(x));
  Tensor t = x.t();
  Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.strides() == Strides{2, 1});
  CHECK(fv(c) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK_FALSE(shares(c, x));
  // A row slice of a contiguous tensor is contiguous; a column slice is not.
  CHECK(iota({4, 3}).slice(0, 1, 3).is_contiguous());
  CHECK_FALSE(iota({4, 3}).slice(1, 0, 2).is_contiguous());
  // Size-1 axes do not break contiguity.
  CHECK(iota({3, 1}).t().is_contiguous());
}

TEST_CASE("writes through a view show in the base", "[views]") {
  NoGrad ng;
  Tensor base = zeros({3, 4});
  base[1].fill_(5.0);
  CHECK(fv(base) == std::vector<float>{0, 0, 0, 0, 5, 5, 5, 5, 0, 0, 0, 0});
  base.select(1, 3).copy_(tensor({7.0f, 8.0f, 9.0f}));
  CHECK(fv(base) == std::vector<float>{0, 0, 0, 7, 5, 5, 5, 8, 0, 0, 0, 9});
  base.t().slice(0, 0, 1).fill_(-1.0);  // column 0
  CHECK(fv(base) == std::vector<float>{-1, 0, 0, 7, -1, 5, 5, 8, -1, 0, 0, 9});
  base.reshape({12}).slice(0, 1, 12, 5).copy_(full({1}, 2.0));  // elements 1, 6, 11
  CHECK(fv(base) == std::vector<float>{-1, 2, 0, 7, -1, 5, 2, 8, -1, 0, 0, 2});
  // Writes into the base show in a view taken earlier.
  Tensor row2 = base[2];
  base.fill_(3.0);
  CHECK(fv(row2) == std::vector<float>{3, 3, 3, 3});
  // In-place arithmetic through a view.
  base[0] += 1.0;
  base.select(1, 1).mul_(tensor({2.0f, 3.0f, 4.0f}));
  CHECK(fv(base) == std::vector<float>{4, 8, 4, 4, 3, 9, 3, 3, 3, 12, 3, 3});
  // A copy_ casts to the target's dtype.
  Tensor ib = zeros({2}, {.dtype = kInt32});
  ib.copy_(tensor({1.9f, -2.5f}));
  CHECK(ib.to_vector<int32_t>() == std::vector<int32_t>{1, -2});
}

TEST_CASE("in-place writes bump the shared version counter", "[views]") {
  NoGrad ng;
  Tensor base = zeros({4});
  Tensor v = base.slice(0, 1, 3);
  const uint64_t v0 = base.storage()->version();
  v.fill_(1.0);
  CHECK(base.storage()->version() == v0 + 1);
  base.add_(1.0);
  CHECK(v.storage()->version() == v0 + 2);
}

TEST_CASE("clone copies: it does not share storage", "[views]") {
  Tensor x = iota({2, 3});
  Tensor c = x.clone();
  CHECK_FALSE(shares(c, x));
  CHECK(fv(c) == fv(x));
  {
    NoGrad ng;
    c.fill_(0.0);
  }
  CHECK(fv(x) == std::vector<float>{0, 1, 2, 3, 4, 5});
  Tensor ct = x.t().clone();
  CHECK(ct.is_contiguous());
  CHECK(fv(ct) == std::vector<float>{0, 3, 1, 4, 2, 5});
  // detach shares storage (it is a view without history).
  CHECK(shares(x.detach(), x));
}
