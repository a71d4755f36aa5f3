// Text form of tensors: values, shape, dtype, alignment and elision of large tensors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;

TEST_CASE("str prints whole-number floats with a trailing dot", "[print]") {
  CHECK(tensor({1.0f, 2.0f, 3.0f}).str() == "tensor([1., 2., 3.], shape=[3], dtype=float32)");
  CHECK(tensor(std::vector<double>{-1.0, 10.0}).str() ==
        "tensor([-1., 10.], shape=[2], dtype=float64)");
}

TEST_CASE("str prints fractional floats with four decimals, right-aligned", "[print]") {
  CHECK(tensor({0.5f, -1.25f}).str() == "tensor([ 0.5000, -1.2500], shape=[2], dtype=float32)");
  CHECK(tensor(std::vector<double>{3.14159}).str() == "tensor([3.1416], shape=[1], dtype=float64)");
  // Very small and very large magnitudes switch to scientific notation.
  CHECK_THAT(tensor(std::vector<double>{1e-5, 0.5}).str(), Contains("1.0000e-05"));
  CHECK_THAT(tensor(std::vector<double>{2.5e6 + 0.5}).str(), Contains("2.5000e+06"));
}

TEST_CASE("str prints 2-D tensors row by row, aligned under the first bracket", "[print]") {
  Tensor m = tensor({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  CHECK(m.str() == "tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32)");
  Tensor c = tensor(std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  CHECK(c.str() ==
        "tensor([[[1, 2],\n"
        "         [3, 4]],\n"
        "\n"
        "        [[5, 6],\n"
        "         [7, 8]]], shape=[2, 2, 2], dtype=int64)");
}

TEST_CASE("str prints integers and booleans plainly", "[print]") {
  CHECK(tensor(std::vector<int64_t>{1, -20, 3}).str() ==
        "tensor([  1, -20,   3], shape=[3], dtype=int64)");
  CHECK(tensor(std::vector<int32_t>{7}).str() == "tensor([7], shape=[1], dtype=int32)");
  CHECK(tensor(std::vector<bool>{true, false}).str() ==
        "tensor([ true, false], shape=[2], dtype=bool)");
}

TEST_CASE("str of scalars, empty tensors, special values and flags", "[print]") {
  CHECK(scalar_tensor(2.5).str() == "tensor(2.5000, shape=[], dtype=float32)");
  CHECK(scalar_tensor(4, {.dtype = kInt64}).str() == "tensor(4, shape=[], dtype=int64)");
  CHECK(zeros({0}).str() == "tensor([], shape=[0], dtype=float32)");
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(tensor(std::vector<double>{1.0, std::nan(""), -inf}).str() ==
        "tensor([  1.,  nan, -inf], shape=[3], dtype=float64)");
  CHECK(ones({2}, {.requires_grad = true}).str() ==
        "tensor([1., 1.], shape=[2], dtype=float32, requires_grad=true)");
  CHECK(Tensor().str() == "tensor(undefined)");
  // A view prints its own elements in row-major order.
  Tensor t = tensor({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2}).t();
  CHECK(t.str() == "tensor([[1., 3.],\n        [2., 4.]], shape=[2, 2], dtype=float32)");
}

TEST_CASE("operator<< writes the same text as str", "[print]") {
  Tensor t = tensor({0.25f, 8.0f}, {1, 2});
  std::ostringstream os;
  os << t;
  CHECK(os.str() == t.str());
  CHECK(os.str() == "tensor([[0.2500, 8.0000]], shape=[1, 2], dtype=float32)");
}

TEST_CASE("tensors over 1000 elements are elided with ...", "[print]") {
  // Exactly 1000 elements: all shown.
  const std::string full1000 = arange(1000).str();
  CHECK(full1000.find("...") == std::string::npos);
  CHECK_THAT(full1000, Contains("500,") && Contains("999]"));

  Tensor v = arange(1001);
  CHECK(v.str() == "tensor([   0,    1,    2, ...,  998,  999, 1000], shape=[1001], dtype=int64)");

  Tensor f = arange(0.0, 1001.0, 1.0, {.dtype = kFloat32});
  CHECK(f.str() ==
        "tensor([   0.,    1.,    2., ...,  998.,  999., 1000.], shape=[1001], dtype=float32)");

  // 2-D: three rows each side, each row elided too.
  Tensor m = arange(0.0, 2000.0, 1.0, {.dtype = kFloat32}).reshape({100, 20});
  const std::string s = m.str();
  CHECK(std::count(s.begin(), s.end(), '\n') == 6);
  CHECK(
      s ==
      "tensor([[   0.,    1.,    2., ...,   17.,   18.,   19.],\n"
      "        [  20.,   21.,   22., ...,   37.,   38.,   39.],\n"
      "        [  40.,   41.,   42., ...,   57.,   58.,   59.],\n"
      "        ...,\n"
      "        [1940., 1941., 1942., ..., 1957., 1958., 1959.],\n"
      "        [1960., 1961., 1962., ..., 1977., 1978., 1979.],\n"
      "        [1980., 1981., 1982., ..., 1997., 1998., 1999.]], shape=[100, 20], dtype=float32)");
}
