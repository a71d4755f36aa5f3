// User mistakes become typed exceptions whose messages name the op and the values.
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

TEST_CASE("every error type is a tg::Error and a std::runtime_error", "[errors]") {
  REQUIRE_THROWS_AS(fail<ShapeError>("op: ", 1), Error);
  REQUIRE_THROWS_AS(fail<DTypeError>("op"), Error);
  REQUIRE_THROWS_AS(fail<DeviceError>("op"), Error);
  REQUIRE_THROWS_AS(fail<IndexError>("op"), Error);
  REQUIRE_THROWS_AS(fail<ValueError>("op"), Error);
  REQUIRE_THROWS_AS(fail<IOError>("op"), Error);
  REQUIRE_THROWS_AS(fail<BackendError>("op"), std::runtime_error);
  REQUIRE_THROWS_WITH(fail<ValueError>("op: bad: ", 3, " vs ", Shape{1, 2}),
                      "op: bad: 3 vs [1, 2]");
}

TEST_CASE("matmul inner-dimension mismatch names both shapes", "[errors]") {
  Tensor a = zeros({32, 784});
  Tensor b = zeros({100, 10});
  REQUIRE_THROWS_AS(matmul(a, b), ShapeError);
  REQUIRE_THROWS_WITH(
      matmul(a, b), Equals("matmul: inner dimensions differ: [32, 784] @ [100, 10] (784 != 100)"));
  REQUIRE_THROWS_WITH(matmul(zeros({3}), zeros({4})),
                      Equals("matmul: inner dimensions differ: [3] @ [4] (3 != 4)"));
  REQUIRE_THROWS_AS(matmul(zeros({2, 3}), zeros({4})), ShapeError);
  REQUIRE_THROWS_AS(matmul(zeros({5}), zeros({4, 2})), ShapeError);
  REQUIRE_THROWS_AS(matmul(zeros({2, 2, 3}), zeros({4, 3, 2})), ShapeError);  // batch 2 vs 4
  REQUIRE_THROWS_AS(matmul(scalar_tensor(1.0), zeros({2})), ShapeError);
  REQUIRE_THROWS_AS(matmul(zeros({2, 2}, {.dtype = kBool}), zeros({2, 2}, {.dtype = kBool})),
                    DTypeError);
}

TEST_CASE("broadcast mismatch is a ShapeError naming the op and shapes", "[errors]") {
  REQUIRE_THROWS_AS(add(zeros({2, 3}), zeros({4})), ShapeError);
  REQUIRE_THROWS_WITH(add(zeros({2, 3}), zeros({4})),
                      StartsWith("add:") && Contains("[2, 3]") && Contains("[4]"));
  REQUIRE_THROWS_WITH(zeros({2, 3}) * zeros({3, 2}), StartsWith("mul:"));
  REQUIRE_THROWS_AS(where(ones({3}, {.dtype = kBool}), zeros({2}), zeros({3})), ShapeError);
  Tensor t = zeros({2, 3});
  REQUIRE_THROWS_AS(t.add_(zeros({2, 2})), ShapeError);
  // In place, the operand must broadcast to the target's own shape.
  REQUIRE_THROWS_AS(t.add_(zeros({4, 2, 3})), ShapeError);
  REQUIRE_THROWS_AS(zeros({3}).copy_(zeros({4})), ShapeError);
}

TEST_CASE("bad axes are IndexErrors", "[errors]") {
  Tensor x = zeros({2, 3});
  REQUIRE_THROWS_AS(sum(x, {2}), IndexError);
  REQUIRE_THROWS_WITH(sum(x, {2}), StartsWith("sum:") && Contains("2"));
  REQUIRE_THROWS_AS(mean(x, {-3}), IndexError);
  REQUIRE_THROWS_AS(softmax(x, 5), IndexError);
  REQUIRE_THROWS_AS(x.transpose(0, 2), IndexError);
  REQUIRE_THROWS_AS(x.size(2), IndexError);
  REQUIRE_THROWS_AS(concat({x, x}, 2), IndexError);
  REQUIRE_THROWS_AS(argmax(x, 4), IndexError);
  REQUIRE_THROWS_AS(cumsum(x, -3), IndexError);
}

TEST_CASE("reshape to the wrong size is a ShapeError", "[errors]") {
  Tensor x = zeros({2, 3});
  REQUIRE_THROWS_AS(x.reshape({4}), ShapeError);
  REQUIRE_THROWS_WITH(x.reshape({4}),
                      StartsWith("reshape:") && Contains("[2, 3]") && Contains("[4]"));
  REQUIRE_THROWS_AS(x.reshape({-1, 4}), ShapeError);
  REQUIRE_THROWS_AS(x.reshape({-1, -1}), ShapeError);
  REQUIRE_THROWS_AS(x.reshape({-2, 3}), ShapeError);
  REQUIRE_THROWS_AS(x.view({7}), ShapeError);
  REQUIRE_THROWS_AS(x.squeeze(0), ShapeError);
  REQUIRE_THROWS_AS(Tensor::empty({2, -1}), ShapeError);
}

TEST_CASE("select and slice out of range are IndexErrors", "[errors]") {
  Tensor x = zeros({3, 4});
  REQUIRE_THROWS_AS(x.select(0, 3), IndexError);
  REQUIRE_THROWS_AS(x.select(1, -5), IndexError);
  REQUIRE_THROWS_AS(x[3], IndexError);
  REQUIRE_THROWS_WITH(x.select(0, 3), StartsWith("select:") && Contains("3") && Contains("[3, 4]"));
  REQUIRE_THROWS_AS(x.select(2, 0), IndexError);
  REQUIRE_THROWS_AS(x.slice(2, 0, 1), IndexError);
  REQUIRE_THROWS_AS(x.slice(-3, 0, 1), IndexError);
  REQUIRE_THROWS_AS(scalar_tensor(1.0)[0], IndexError);
}

TEST_CASE("gather with an out-of-range index is an IndexError", "[errors]") {
  Tensor x = zeros({2, 3});
  Tensor bad = tensor(std::vector<int64_t>{0, 3, 1, 2}, {2, 2});
  REQUIRE_THROWS_AS(gather(x, 1, bad), IndexError);
  REQUIRE_THROWS_WITH(gather(x, 1, bad), StartsWith("gather:") && Contains("3"));
  Tensor neg = tensor(std::vector<int64_t>{0, -1}, {1, 2});
  REQUIRE_THROWS_AS(gather(x, 1, neg), IndexError);
  REQUIRE_THROWS_AS(gather(x, 1, zeros({2, 2})), DTypeError);  // float index
  REQUIRE_THROWS_AS(index_select(x, 0, tensor(std::vector<int64_t>{2})), IndexError);
  REQUIRE_THROWS_AS(one_hot(tensor(std::vector<int64_t>{0, 5}), 5), IndexError);
}

TEST_CASE("dtype misuse is a DTypeError", "[errors]") {
  Tensor i = zeros({3}, {.dtype = kInt64});
  REQUIRE_THROWS_AS(i.requires_grad_(), DTypeError);
  REQUIRE_THROWS_WITH(i.requires_grad_(), StartsWith("requires_grad_:") && Contains("int64"));
  REQUIRE_THROWS_AS(zeros({3}, {.dtype = kBool, .requires_grad = true}), DTypeError);
  REQUIRE_THROWS_AS(where(zeros({3}), ones({3}), zeros({3})), DTypeError);
  REQUIRE_THROWS_WITH(where(zeros({3}), ones({3}), zeros({3})),
                      StartsWith("where:") && Contains("float32"));
  REQUIRE_THROWS_AS(where(i, ones({3}), zeros({3})), DTypeError);
  REQUIRE_THROWS_AS(i.div_(tensor({2.0f, 2.0f, 2.0f})), DTypeError);
  REQUIRE_THROWS_AS(ones({2}).data<int64_t>(), DTypeError);
  // Turning requires_grad off on an integer tensor is harmless.
  CHECK_NOTHROW(i.requires_grad_(false));
}

TEST_CASE("backward of a non-scalar needs an explicit gradient", "[errors]") {
  Tensor x = ones({3}, {.requires_grad = true});
  Tensor y = x * 2.0;
  REQUIRE_THROWS_AS(y.backward(), ValueError);
  REQUIRE_THROWS_WITH(y.backward(), Contains("scalar") && Contains("[3]"));
  REQUIRE_THROWS_AS(y.backward(ones({4})), ShapeError);
  // A one-element tensor of any rank counts as a scalar.
  Tensor z = sum(y, {}, true);
  CHECK(z.shape() == Shape{1});
  z.backward();
  TG_CHECK_VALUES(x.grad(), (std::vector<double>{2, 2, 2}), 0, 0);
  // Backward from a tensor that does not require grad.
  REQUIRE_THROWS_AS(ones({1}).backward(), ValueError);
  REQUIRE_THROWS_AS(Tensor().backward(), ValueError);
}

TEST_CASE("a second backward without retain_graph names the op", "[errors]") {
  Tensor x = scalar_tensor(0.5, {.requires_grad = true});
  Tensor y = exp(x);
  y.backward();
  REQUIRE_THROWS_AS(y.backward(), ValueError);
  REQUIRE_THROWS_WITH(y.backward(), StartsWith("exp:") && Contains("retain_graph"));
  Tensor m = tensor({1.0f, 2.0f}, {2}, {.requires_grad = true});
  Tensor p = m * m;
  p.backward(ones({2}));
  REQUIRE_THROWS_WITH(p.backward(ones({2})), StartsWith("mul:") && Contains("second time"));
  // Only the released part: a new op on top of a released node fails at that node.
  Tensor x2 = tensor({1.0f}, {1}, {.requires_grad = true});
  Tensor e = exp(x2);
  sum(e).backward();
  REQUIRE_THROWS_WITH(sum(e).backward(), StartsWith("exp:") && Contains("second time"));
}

TEST_CASE("an in-place write to a saved tensor is caught at backward", "[errors]") {
  SECTION("a non-leaf modified in place with recording") {
    Tensor x = tensor({1.0f, 2.0f}, {2}, {.requires_grad = true});
    Tensor a = x * 1.0;
    Tensor b = a * a;  // mul saves a
    a.mul_(2.0);
    REQUIRE_THROWS_AS(sum(b).backward(), ValueError);
    REQUIRE_THROWS_WITH(sum(b).backward(), StartsWith("mul:") && Contains("modified in place"));
  }
  SECTION("a saved output modified under NoGrad") {
    Tensor x = tensor({0.5f}, {1}, {.requires_grad = true});
    Tensor y = exp(x);  // exp saves its output
    {
      NoGrad ng;
      y.add_(1.0);
    }
    REQUIRE_THROWS_WITH(y.backward(ones({1})), StartsWith("exp:") && Contains("modified in place"));
  }
  SECTION("a view of the saved tensor written through its base") {
    Tensor x = tensor({1.0f, 2.0f, 3.0f}, {3}, {.requires_grad = true});
    Tensor base;
    {
      NoGrad ng;
      base = ones({3});
    }
    Tensor y = x * base;  // saves base for x's gradient
    {
      NoGrad ng;
      base.slice(0, 0, 1).fill_(5.0);
    }
    REQUIRE_THROWS_AS(sum(y).backward(), ValueError);
  }
}

TEST_CASE("in-place ops on a leaf that requires grad are refused", "[errors]") {
  Tensor w = ones({2}, {.requires_grad = true});
  REQUIRE_THROWS_AS(w.add_(1.0), ValueError);
  REQUIRE_THROWS_WITH(w.add_(1.0), StartsWith("add_:") && Contains("leaf") && Contains("NoGrad"));
  REQUIRE_THROWS_AS(w.mul_(ones({2})), ValueError);
  REQUIRE_THROWS_AS(w += 1.0, ValueError);
  REQUIRE_THROWS_AS(w.fill_(0.0), ValueError);
  REQUIRE_THROWS_AS(w.copy_(zeros({2})), ValueError);
  // Nothing was written.
  CHECK(w.to_vector<float>() == std::vector<float>{1.0f, 1.0f});
  // Under NoGrad it is the normal way to update parameters.
  {
    NoGrad ng;
    w.add_(1.0);
  }
  CHECK(w.to_vector<float>() == std::vector<float>{2.0f, 2.0f});
}

TEST_CASE("requires_grad_ on a non-leaf is refused", "[errors]") {
  Tensor x = ones({2}, {.requires_grad = true});
  Tensor y = exp(x);
  REQUIRE_THROWS_AS(y.requires_grad_(false), ValueError);
  REQUIRE_THROWS_WITH(y.requires_grad_(false), Contains("leaf") && Contains("exp"));
}

TEST_CASE("grad() misuse is a ValueError", "[errors]") {
  Tensor x = ones({2}, {.requires_grad = true});
  Tensor u = ones({2}, {.requires_grad = true});
  Tensor y = sum(x * 3.0);
  REQUIRE_THROWS_AS(autograd::grad({y}, {zeros({2})}), ValueError);  // input does not require grad
  REQUIRE_THROWS_WITH(autograd::grad({y}, {u}, {}, {.retain_graph = true}),
                      Contains("allow_unused"));
  REQUIRE_THROWS_AS(autograd::grad({y}, {x}, {ones({1}), ones({1})}), ValueError);  // two grads
}

TEST_CASE("Device::parse accepts cpu and opencl[:N], rejects the rest", "[errors]") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("opencl") == Device::opencl(0));
  CHECK(Device::parse("opencl:3") == Device::opencl(3));
  CHECK(Device::parse("opencl:3").str() == "opencl:3");
  CHECK(Device::cpu().str() == "cpu");
  for (const char* bad : {"", "gpu", "cuda:0", "CPU", "cpu:0", "opencl:", "opencl:x", "opencl:-1",
                          "opencl:1x", "opencl0", "opencl:1:2"}) {
    INFO("parsing '" << bad << "'");
    REQUIRE_THROWS_AS(Device::parse(bad), DeviceError);
  }
  REQUIRE_THROWS_WITH(Device::parse("gpu"), Contains("'gpu'"));
}

TEST_CASE("other misuse: item, empty reductions, bad creation arguments", "[errors]") {
  REQUIRE_THROWS_AS(ones({2, 2}).item<float>(), ValueError);
  REQUIRE_THROWS_WITH(ones({2, 2}).item<float>(), Contains("[2, 2]"));
  REQUIRE_THROWS_AS(max(zeros({0})), ValueError);
  REQUIRE_THROWS_AS(argmax(zeros({0})), ValueError);
  REQUIRE_THROWS_AS(concat({}), ValueError);
  REQUIRE_THROWS_AS(concat({zeros({2, 3}), zeros({2, 4})}, 0), ShapeError);
  REQUIRE_THROWS_AS(exp(Tensor()), ValueError);
  REQUIRE_THROWS_AS(one_hot(tensor(std::vector<int64_t>{0}), 0), ValueError);
}
