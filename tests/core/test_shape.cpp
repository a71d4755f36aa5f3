// Shape arithmetic: numel, contiguous strides, broadcasting and axis normalisation.
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

TEST_CASE("numel counts elements, 1 for a scalar shape, 0 with an empty axis", "[shape]") {
  CHECK(numel(Shape{}) == 1);
  CHECK(numel(Shape{7}) == 7);
  CHECK(numel(Shape{2, 3, 4}) == 24);
  CHECK(numel(Shape{2, 0, 4}) == 0);
  CHECK(numel(Shape{1, 1, 1, 1, 1, 1, 1, 5}) == 5);  // more axes than stored inline
}

TEST_CASE("contiguous_strides are row-major", "[shape]") {
  CHECK(contiguous_strides(Shape{}) == Strides{});
  CHECK(contiguous_strides(Shape{5}) == Strides{1});
  CHECK(contiguous_strides(Shape{2, 3, 4}) == Strides{12, 4, 1});
  CHECK(contiguous_strides(Shape{4, 1, 3}) == Strides{3, 3, 1});
  CHECK(contiguous_strides(Shape{2, 3, 4, 5, 6, 7, 8}) ==
        Strides{20160, 6720, 1680, 336, 56, 8, 1});
}

TEST_CASE("broadcast_shapes follows NumPy rules", "[shape]") {
  CHECK(broadcast_shapes("add", {2, 3}, {2, 3}) == Shape{2, 3});
  CHECK(broadcast_shapes("add", {2, 3}, {3}) == Shape{2, 3});
  CHECK(broadcast_shapes("add", {3}, {2, 3}) == Shape{2, 3});
  CHECK(broadcast_shapes("add", {4, 1}, {1, 5}) == Shape{4, 5});
  CHECK(broadcast_shapes("add", {8, 1, 6, 1}, {7, 1, 5}) == Shape{8, 7, 6, 5});
  CHECK(broadcast_shapes("add", {}, {2, 3}) == Shape{2, 3});
  CHECK(broadcast_shapes("add", {2, 3}, {}) == Shape{2, 3});
  CHECK(broadcast_shapes("add", {1}, {0}) == Shape{0});
  CHECK(broadcast_shapes("add", {5, 0}, {1, 1}) == Shape{5, 0});
}

TEST_CASE("broadcast_shapes error names the op and both shapes", "[shape]") {
  REQUIRE_THROWS_AS(broadcast_shapes("mul", {2, 3}, {4}), ShapeError);
  REQUIRE_THROWS_WITH(broadcast_shapes("mul", {2, 3}, {4}), Contains("mul:"));
  REQUIRE_THROWS_WITH(broadcast_shapes("mul", {2, 3}, {4}), Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(broadcast_shapes("mul", {2, 3}, {4}), Contains("[4]"));
  REQUIRE_THROWS_AS(broadcast_shapes("where", {2, 1, 3}, {5, 2}), ShapeError);
  REQUIRE_THROWS_WITH(broadcast_shapes("where", {2, 1, 3}, {5, 2}),
                      Contains("where") && Contains("[2, 1, 3]") && Contains("[5, 2]"));
  // 0 is not 1: it does not broadcast against 3.
  REQUIRE_THROWS_AS(broadcast_shapes("add", {0}, {3}), ShapeError);
}

TEST_CASE("normalize_axis maps negative axes and rejects out-of-range", "[shape]") {
  CHECK(normalize_axis("sum", 0, 3) == 0);
  CHECK(normalize_axis("sum", 2, 3) == 2);
  CHECK(normalize_axis("sum", -1, 3) == 2);
  CHECK(normalize_axis("sum", -3, 3) == 0);
  REQUIRE_THROWS_AS(normalize_axis("sum", 3, 3), IndexError);
  REQUIRE_THROWS_AS(normalize_axis("sum", -4, 3), IndexError);
  REQUIRE_THROWS_AS(normalize_axis("sum", 0, 0), IndexError);
  REQUIRE_THROWS_WITH(normalize_axis("softmax", 5, 2), Contains("softmax") && Contains("5"));
}

TEST_CASE("normalize_axes normalises, sorts, rejects duplicates; empty means all", "[shape]") {
  CHECK(normalize_axes("sum", {}, 3) == Axes{0, 1, 2});
  CHECK(normalize_axes("sum", {}, 0) == Axes{});
  CHECK(normalize_axes("sum", {-1, 0}, 3) == Axes{0, 2});
  CHECK(normalize_axes("sum", {2, 1, 0}, 3) == Axes{0, 1, 2});
  // {2, -2} on rank 4 is 2 and 2: a duplicate.
  REQUIRE_THROWS_AS(normalize_axes("sum", {2, -2}, 4), ValueError);
  REQUIRE_THROWS_AS(normalize_axes("sum", {1, 1}, 3), ValueError);
  REQUIRE_THROWS_AS(normalize_axes("mean", {0, 3}, 3), IndexError);
  REQUIRE_THROWS_WITH(normalize_axes("mean", {0, 3}, 3), Contains("mean"));
}

TEST_CASE("shape_str and operator<< print shapes", "[shape]") {
  CHECK(shape_str(Shape{}) == "[]");
  CHECK(shape_str(Shape{7}) == "[7]");
  CHECK(shape_str(Shape{2, 3, 4}) == "[2, 3, 4]");
  std::ostringstream os;
  os << Shape{32, 784};
  CHECK(os.str() == "[32, 784]");
}

TEST_CASE("Shape holds more axes than its inline capacity", "[shape]") {
  Shape s{1, 2, 3, 4, 5, 6, 7, 8};
  REQUIRE(s.size() == 8);
  CHECK(s[7] == 8);
  Shape c = s;  // copy of a heap-backed vector
  c[0] = 9;
  CHECK(s[0] == 1);
  CHECK(c[0] == 9);
  Shape m = std::move(c);
  CHECK(m.size() == 8);
  CHECK(m[0] == 9);
  CHECK(numel(s) == 40320);
}
