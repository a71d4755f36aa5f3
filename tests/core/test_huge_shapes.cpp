// Shapes whose element count or byte size does not fit in int64: a ShapeError naming the op and
// the shape, never a wrapped-around size (a tensor smaller than its shape) or a crash.
#include <catch2/catch.hpp>
#include <fstream>

#include "test_util.hpp"

using namespace tg;
using namespace tg::test;
using Catch::Matchers::Contains;

namespace {
constexpr int64_t k2_31 = int64_t{1} << 31, k2_32 = int64_t{1} << 32, k2_40 = int64_t{1} << 40;

/// The message of the ShapeError f throws (fails the test when it throws nothing or another type).
template <class F>
std::string shape_error(F&& f) {
  return error_of<ShapeError>(std::forward<F>(f));
}
}  // namespace

TEST_CASE("numel refuses element counts int64 cannot hold", "[shape][huge]") {
  CHECK(numel({k2_31, k2_31}) == int64_t{1} << 62);
  CHECK_THROWS_AS(numel({k2_40, k2_40}), ShapeError);
  // As in NumPy the non-zero sizes must fit even when another axis is 0 (strides would wrap).
  CHECK_THROWS_AS(numel({0, k2_40, k2_40}), ShapeError);
  CHECK(numel({0, k2_40}) == 0);
  CHECK(checked_numel("op", {k2_31, k2_31}, 1) == int64_t{1} << 62);
  CHECK_THAT(shape_error([] { checked_numel("op", {k2_31, k2_31}, 4); }),
             Contains("op") && Contains("4-byte") && Contains("2^63 bytes"));
  CHECK_THAT(shape_error([] { checked_numel("op", {3, -2}, 4); }),
             Contains("op") && Contains("negative") && Contains("[3, -2]"));
}

TEST_CASE("factories name themselves and the shape that cannot exist", "[shape][huge]") {
  const Shape huge{k2_40, k2_40};
  CHECK_THAT(shape_error([&] { zeros(huge); }),
             Contains("zeros") && Contains("[1099511627776, 1099511627776]") && Contains("2^63"));
  CHECK_THAT(shape_error([&] { ones(huge); }), Contains("ones"));
  CHECK_THAT(shape_error([&] { full(huge, 3.0); }), Contains("full"));
  CHECK_THAT(shape_error([&] { Tensor::empty(huge); }), Contains("empty"));
  CHECK_THAT(shape_error([&] { rand(huge); }), Contains("uniform"));
  CHECK_THAT(shape_error([&] { randn(huge); }), Contains("normal"));
  // 2^62 elements fit in int64, their 2^64 (float32) or 2^65 (float64) bytes do not.
  CHECK_THAT(shape_error([] { zeros({k2_31, k2_31}); }), Contains("zeros") && Contains("bytes"));
  CHECK_THAT(shape_error([] { zeros({k2_31, k2_31}, {.dtype = kFloat64}); }),
             Contains("8-byte"));
  CHECK_THAT(shape_error([] { zeros({-1, 3}); }), Contains("zeros") && Contains("negative"));
  CHECK_THAT(shape_error([] { arange(0.0, 1e30, 1.0); }), Contains("arange"));
  // In a MetaScope nothing is allocated, but the shape is checked the same way.
  MetaScope meta;
  CHECK_THAT(shape_error([&] { zeros(huge); }), Contains("zeros"));
}

TEST_CASE("views and ops whose result shape overflows throw instead of wrapping",
          "[shape][huge]") {
  Tensor one = ones({1});
  // 274177 * 67280421310721 = 2^64 + 1: wrapped to 64 bits this is 1 element, so a wrapping
  // reshape of a 1-element tensor would succeed with a shape far larger than its storage.
  CHECK_THAT(shape_error([&] { one.reshape({274177, 67280421310721}); }),
             Contains("reshape") && Contains("67280421310721"));
  CHECK_THAT(shape_error([&] { one.reshape({-1, k2_40, k2_40}); }), Contains("reshape"));
  CHECK_THAT(shape_error([&] { ones({1, 1}).expand({k2_40, k2_40}); }), Contains("expand"));

  // Broadcast views cost nothing; combining them would need 2^64 elements.
  Tensor col = ones({1, 1}).expand({k2_32, 1}), row = ones({1, 1}).expand({1, k2_32});
  CHECK_THAT(shape_error([&] { add(col, row); }), Contains("add") && Contains("[4294967296, 1]"));
  CHECK_THAT(shape_error([&] { mul(col, row); }), Contains("mul"));
  CHECK_THAT(shape_error([&] { matmul(col, row); }), Contains("matmul"));
  // 2^62 float32 elements (a valid view) whose output would need 2^64 bytes.
  Tensor big = ones({1, 1}).expand({k2_31, k2_31});
  CHECK(big.numel() == int64_t{1} << 62);
  CHECK_THAT(shape_error([&] { relu(big); }), Contains("relu") && Contains("bytes"));
  CHECK_THAT(shape_error([&] { exp(big); }), Contains("exp"));
  CHECK_THAT(shape_error([&] { big + 1.0; }), Contains("add"));
}

TEST_CASE("a size that fits int64 but not memory is an out-of-memory error, not a crash",
          "[shape][huge][oom]") {
  // Only meaningful where the kernel refuses allocations larger than memory (heuristic or strict
  // overcommit); with overcommit always on the allocation would succeed and the fill be killed.
  std::ifstream mode_file("/proc/sys/vm/overcommit_memory");
  int mode = 1;
  mode_file >> mode;
  if (mode == 1) {
    WARN("vm.overcommit_memory is 1: the out-of-memory case is not run");
    return;
  }
  // 2^42 float32 elements: 16 TiB.
  CHECK_THAT(error_of<BackendError>([] { zeros({int64_t{1} << 42}); }),
             Contains("out of memory") && Contains("17592186044416 bytes"));
  // The allocator is still usable afterwards.
  CHECK(values(sum(ones({1000}))) == std::vector<double>{1000.0});
}
