// The edge-shape column of the op table (tests/autograd/op_cases.hpp): every registered op on a
// zero-sized axis and on 0-d tensors, forward and backward, with the output shapes, the values
// of reductions of nothing (NumPy's: sum 0, mean NaN, prod 1, max an error) and the errors of
// ops that need more axes. The backends compare the same variants with the reference
// (tests/backends/*_vs_reference.cpp, through test::edge_op_cases()).
#include <map>
#include <set>
#include <sstream>

#include "autograd/op_cases.hpp"
#include "test_util.hpp"

using namespace tg;
using tg::test::EdgeVariant;
using tg::test::OpCase;

namespace {

struct Variant {
  const OpCase* c;
  const EdgeVariant* e;
  std::string kind;  // "zero-sized axis" or "0-d"
};

std::vector<Variant> variants() {
  std::vector<Variant> r;
  for (const OpCase& c : test::op_cases()) {
    if (c.edge.empty.declared()) r.push_back({&c, &c.edge.empty, "zero-sized axis"});
    if (c.edge.scalar.declared()) r.push_back({&c, &c.edge.scalar, "0-d"});
  }
  return r;
}

std::vector<Tensor> inputs_of(const EdgeVariant& e, DType dt, uint64_t seed) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < e.inputs.size(); ++i) xs.push_back(e.inputs[i](dt, seed * 31 + i + 1));
  return xs;
}

const autograd::TestFunction& fn_of(const Variant& v) { return v.e->fn ? v.e->fn : v.c->fn; }

}  // namespace

TEST_CASE("every registered op has both edge-shape variants in the op table",
          "[registry][edge]") {
  std::set<std::string> empty, scalar;
  for (const Variant& v : variants()) (v.kind == "0-d" ? scalar : empty).insert(v.c->op);
  std::ostringstream missing;
  for (const auto& info : autograd::registered_ops()) {
    if (!empty.count(info.name)) missing << info.name << " (zero-sized axis) ";
    if (!scalar.count(info.name)) missing << info.name << " (0-d) ";
  }
  INFO("ops without an edge-shape variant: " << missing.str());
  CHECK(missing.str().empty());
}

TEST_CASE("every op on a zero-sized axis and on 0-d tensors: shapes, values, errors, backward",
          "[edge]") {
  UseReferenceBackend ref;
  int ran = 0, raised = 0, gradchecked = 0;
  const std::vector<Variant> vs = variants();
  for (size_t k = 0; k < vs.size(); ++k) {
    const Variant& v = vs[k];
    const autograd::TestFunction& f = fn_of(v);
    for (DType dt : {kFloat64, kFloat32}) {
      INFO(v.c->op << " on a " << v.kind << " (" << v.c->name << "), " << dt);
      std::vector<Tensor> xs = inputs_of(*v.e, dt, k);
      if (!v.e->error.empty()) {
        // A tapegrad error that says what is wrong, never a crash or a wrong result.
        try {
          f(xs);
          FAIL_CHECK("no error; expected one containing \"" << v.e->error << "\"");
        } catch (const Error& e) {
          CHECK_THAT(e.what(), Catch::Contains(v.e->error));
        }
        ++raised;
        continue;
      }
      const bool backward = v.c->differentiable && !test::floating_inputs(xs).empty();
      if (backward)
        for (size_t i : test::floating_inputs(xs)) xs[i].requires_grad_(true);
      Tensor y;
      try {
        y = f(xs);
      } catch (const std::exception& e) {
        FAIL_CHECK("threw: " << e.what());
        continue;
      }
      CHECK(y.shape() == v.e->out);
      if (v.e->fill) {
        const std::vector<double> want(static_cast<size_t>(y.numel()), *v.e->fill);
        TG_CHECK_VALUES(y, want, 0.0, 0.0);
      }
      if (v.e->same_as_1d) {
        std::vector<Tensor> ones_;
        for (const Tensor& x : xs) ones_.push_back(x.detach().reshape({1}));
        TG_CHECK_VALUES(y, test::values(f(ones_)), 1e-6, 1e-6);
      }
      ++ran;
      if (!backward || !y.requires_grad()) continue;
      // The gradient of sum(y): one per floating input, of its shape; zeros when y is empty.
      std::vector<Tensor> wrt;
      for (size_t i : test::floating_inputs(xs)) wrt.push_back(xs[i]);
      std::vector<Tensor> gs;
      REQUIRE_NOTHROW(gs = autograd::grad({sum(y)}, wrt, {}, {.allow_unused = true}));
      REQUIRE(gs.size() == wrt.size());
      for (size_t i = 0; i < gs.size(); ++i) {
        if (!gs[i].defined()) continue;
        CHECK(gs[i].shape() == wrt[i].shape());
        if (y.numel() == 0)
          TG_CHECK_VALUES(gs[i], std::vector<double>(static_cast<size_t>(gs[i].numel()), 0.0),
                          0.0, 0.0);
      }
      if (dt == kFloat64 && v.e->check_grad) {
        std::vector<Tensor> plain = inputs_of(*v.e, kFloat64, k);
        const auto res = autograd::gradcheck(f, plain, v.c->gc);
        INFO(res.message);
        CHECK(res.ok);
        ++gradchecked;
      }
    }
  }
  CHECK(ran > 150);
  CHECK(raised > 30);
  CHECK(gradchecked > 100);
}

TEST_CASE("reductions of an empty axis follow NumPy", "[edge]") {
  // Written out, apart from the table: the values NumPy gives.
  Tensor e = zeros({0, 3});
  TG_CHECK_VALUES(sum(e, {0}), std::vector<double>(3, 0.0), 0.0, 0.0);
  TG_CHECK_VALUES(prod(e, {0}), std::vector<double>(3, 1.0), 0.0, 0.0);
  for (double m : test::values(mean(e, {0}))) CHECK(std::isnan(m));
  for (double m : test::values(var(e, {0}))) CHECK(std::isnan(m));
  for (double m : test::values(logsumexp(e, {0}))) CHECK(m == -INFINITY);
  CHECK(sum(e).item<float>() == 0.0f);
  CHECK(sum(e, {1}).shape() == Shape{0});  // reducing a non-empty axis of an empty tensor
  CHECK_THROWS_WITH(max(e, {0}), Catch::Contains("max"));
  CHECK_THROWS_WITH(min(e), Catch::Contains("min"));
  CHECK_THROWS_WITH(argmax(e, 0), Catch::Contains("argmax"));
  CHECK(max(e, {1}).shape() == Shape{0});  // nothing to reduce into: no error
}
