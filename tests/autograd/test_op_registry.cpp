// The op registry walk: every registered op has a test entry and a reference kernel.
#include <map>
#include <set>
#include <sstream>

#include "autograd/op_cases.hpp"
#include "test_util.hpp"

using namespace tg;
using tg::test::OpCase;

TEST_CASE("the registry lists the core ops once each", "[registry]") {
  const auto& ops = autograd::registered_ops();
  REQUIRE(ops.size() >= 70);
  std::set<std::string> names;
  for (const auto& info : ops) {
    INFO(info.name);
    CHECK(names.insert(info.name).second);  // registered once
    CHECK_FALSE(info.kernel.empty());
  }
  for (const char* n :
       {"add", "matmul", "softmax", "log_softmax", "sum", "gather", "concat", "reshape", "where"})
    CHECK(names.count(n) == 1);
  // Spot-check the differentiability flags.
  std::map<std::string, bool> diff;
  for (const auto& info : ops) diff[info.name] = info.differentiable;
  CHECK(diff["matmul"]);
  CHECK(diff["exp"]);
  CHECK_FALSE(diff["eq"]);
  CHECK_FALSE(diff["argmax"]);
  CHECK_FALSE(diff["one_hot"]);
  CHECK_FALSE(diff["logical_not"]);
}

TEST_CASE("every registered op has an entry in op_cases.hpp", "[registry]") {
  std::set<std::string> covered;
  for (const OpCase& c : test::op_cases()) covered.insert(c.op);
  std::ostringstream missing;
  for (const auto& info : autograd::registered_ops())
    if (!covered.count(info.name)) missing << info.name << ' ';
  INFO("registered ops without a test entry: " << missing.str());
  CHECK(missing.str().empty());
}

TEST_CASE("every op entry names a registered op", "[registry]") {
  std::set<std::string> registered;
  for (const auto& info : autograd::registered_ops()) registered.insert(info.name);
  for (const OpCase& c : test::op_cases()) {
    INFO(c.name);
    CHECK(registered.count(c.op) == 1);
  }
}

TEST_CASE("entries of non-differentiable ops are marked non-differentiable", "[registry]") {
  std::map<std::string, bool> diff;
  for (const auto& info : autograd::registered_ops()) diff[info.name] = info.differentiable;
  for (const OpCase& c : test::op_cases()) {
    INFO(c.name);
    if (!diff[c.op]) CHECK_FALSE(c.differentiable);
  }
}

namespace {
/// Runs case c in dtype dt on the reference backend, inputs requiring grad where floating.
Tensor run_reference(const OpCase& c, DType dt, size_t seed, bool with_grad) {
  UseReferenceBackend ref;
  std::vector<Tensor> xs = test::make_inputs(c, dt, seed);
  if (with_grad)
    for (size_t i : test::floating_inputs(xs)) xs[i].requires_grad_(true);
  return c.fn(xs);
}
}  // namespace

TEST_CASE("every op entry runs on the reference backend in float64 and float32", "[registry]") {
  const auto& cases = test::op_cases();
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    INFO("case: " << c.name);
    Tensor y64, y32;
    REQUIRE_NOTHROW(y64 = run_reference(c, kFloat64, k, false));
    REQUIRE_NOTHROW(y32 = run_reference(c, kFloat32, k, false));
    REQUIRE(y64.defined());
    REQUIRE(y32.defined());
    CHECK(y64.shape() == y32.shape());
    if (is_floating(y64.dtype())) {
      // Floating results follow the input dtype (one_hot is float32 by definition).
      if (c.op != "one_hot" && c.op != "cast" &&
          !test::floating_inputs(test::make_inputs(c, kFloat64, k)).empty()) {
        CHECK(y64.dtype() == kFloat64);
        CHECK(y32.dtype() == kFloat32);
      }
      // No NaN or infinity comes out of the chosen input ranges.
      bool finite = true;
      for (double v : test::values(y64)) finite &= std::isfinite(v);
      CHECK(finite);
    }
    // The float32 kernels agree with the float64 ones up to float32 rounding.
    const double tol = c.tol32 == 0.0 ? 0.0 : std::max(10 * c.tol32, 1e-4);
    TG_CHECK_VALUES(y32, test::values(y64), tol, tol);
  }
}

TEST_CASE("differentiable ops record a tape entry, non-differentiable ones do not", "[registry]") {
  const auto& cases = test::op_cases();
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    if (c.large) continue;
    INFO("case: " << c.name);
    Tensor y = run_reference(c, kFloat64, k, true);
    if (c.differentiable)
      CHECK(y.requires_grad());
    else
      CHECK_FALSE(y.requires_grad());
  }
}

TEST_CASE("the op table has small and large entries", "[registry]") {
  int small = 0, large = 0, diff = 0;
  for (const OpCase& c : test::op_cases()) {
    (c.large ? large : small) += 1;
    diff += c.differentiable;
  }
  INFO("op entries: " << small << " small, " << large << " large, " << diff << " differentiable");
  CHECK(small > 200);
  CHECK(large > 80);
}
