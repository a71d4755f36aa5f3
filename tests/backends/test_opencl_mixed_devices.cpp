// Every op that takes several tensors refuses operands on two devices with a DeviceError that
// names the op and both devices (the registry walk over op_cases.hpp), and the optimizer
// update refuses slots on another device. Part of test_backends_opencl (skipped without a
// device by the check in test_opencl_vs_reference.cpp).
#include <set>

#include "autograd/op_cases.hpp"
#include "test_util.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using tg::test::OpCase;

namespace {
const Device kDev = Device::opencl(0);
/// Ops of one tensor whose entries combine their result with a second input (a weight for the
/// gradient check): the DeviceError comes from that second op, which it names.
const std::set<std::string> kOneTensorOps = {"permute", "expand"};
}  // namespace

TEST_CASE("every multi-input op entry refuses an operand on another device", "[opencl][devices]") {
  std::set<std::string> ops_checked;
  int calls = 0;
  const auto& cases = test::op_cases();
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    if (c.inputs.size() < 2) continue;
    for (size_t j = 0; j < c.inputs.size(); ++j) {
      INFO("case: " << c.name << ", input " << j << " on " << kDev);
      std::vector<Tensor> xs = test::make_inputs(c, kFloat32, k);
      for (Tensor& x : xs) x = x.to(Device::cpu());
      xs[j] = xs[j].to(kDev);
      try {
        Tensor y = c.fn(xs);
        FAIL("no error; result on " << y.device());
      } catch (const DeviceError& e) {
        const std::string msg = e.what();
        INFO(msg);
        CHECK_THAT(msg, Contains("cpu") && Contains("opencl:0"));
        if (!kOneTensorOps.count(c.op)) CHECK_THAT(msg, Contains(c.op));
      } catch (const std::exception& e) {
        FAIL("expected a DeviceError, got: " << e.what());
      }
      ++calls;
    }
    ops_checked.insert(c.op);
  }
  // The walk reached the multi-input ops the issue names (index, mask, target and state inputs).
  for (const char* op : {"index_select", "gather", "take_along_axis", "scatter_add", "embedding",
                         "where", "matmul", "conv2d", "batch_norm", "layer_norm", "lstm", "gru",
                         "simple_rnn", "lstm_cell", "gru_cell", "ctc_loss", "concat", "stack"}) {
    INFO(op);
    CHECK(ops_checked.count(op) == 1);
  }
  CHECK(calls > 100);
}

TEST_CASE("index ops with a CPU index on an OpenCL tensor name both devices", "[opencl][devices]") {
  Tensor x = ones({4, 3}, {.device = kDev});
  Tensor ix = tensor(std::vector<int64_t>{0, 2}, {2});
  CHECK_THROWS_WITH(index_select(x, 0, ix), Contains("index_select") && Contains("cpu") &&
                                                 Contains("opencl:0"));
  CHECK_THROWS_AS(index_select(x, 0, ix), DeviceError);
  CHECK_THROWS_AS(embedding(ix, x), DeviceError);
  CHECK_THROWS_AS(one_hot(ix, 3).to(kDev) * ones({2, 3}), DeviceError);
}

TEST_CASE("in-place ops refuse an operand on another device", "[opencl][devices]") {
  Tensor d = ones({2, 2}, {.device = kDev});
  Tensor c = ones({2, 2});
  CHECK_THROWS_AS(d.add_(c), DeviceError);
  CHECK_THROWS_AS(c.mul_(d), DeviceError);
  // copy_ is the one that crosses devices (as in PyTorch): it transfers.
  Tensor src = arange(0.0, 4.0, 1.0).reshape({2, 2});
  d.copy_(src);
  CHECK(d.device() == kDev);
  TG_CHECK_VALUES(d, (std::vector<double>{0, 1, 2, 3}), 0, 0);
}

TEST_CASE("an optimizer step refuses a parameter and gradient on two devices",
          "[opencl][devices]") {
  Tensor w = ones({3}, {.requires_grad = true});
  w.set_grad(ones({3}, {.device = kDev}));
  optim::Adam adam;
  CHECK_THROWS_AS(adam.step({w}), DeviceError);
  CHECK_THROWS_WITH(adam.step({w}), Contains("Adam") && Contains("cpu") && Contains("opencl:0"));
  // Nothing changed: the parameter keeps its values.
  TG_CHECK_VALUES(w, (std::vector<double>{1, 1, 1}), 0, 0);
}

TEST_CASE("a MetaScope keeps OpenCL tensors on their device and allocates none", "[opencl][meta]") {
  Tensor w = uniform({3, 5}, -1, 1, 7, {.device = kDev});
  const std::vector<float> w_values = uniform({3, 5}, -1, 1, 7).to_vector<float>();
  const AllocatorStats before = allocator_stats(kDev);
  Tensor y;
  {
    MetaScope meta;
    Tensor x = Tensor::empty({4, 3}, kFloat32, kDev);
    y = relu(add(matmul(x, w), 1.0));
    // A real OpenCL tensor reads its values inside the scope.
    CHECK(w.to_vector<float>() == w_values);
    // Mixed devices are refused as in a real run.
    CHECK_THROWS_AS(matmul(Tensor::empty({4, 3}), w), DeviceError);
  }
  const AllocatorStats after = allocator_stats(kDev);
  CHECK(after.allocated_bytes == before.allocated_bytes);
  CHECK(after.device_allocs == before.device_allocs);
  CHECK(after.cache_hits == before.cache_hits);
  CHECK(y.device() == kDev);
  CHECK(y.shape() == Shape{4, 5});
  CHECK(y.is_meta());
}
