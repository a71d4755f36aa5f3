// The CPU backend (oneDNN for float32) against the reference backend: every op entry, forward
// and backward, small shapes (plain loops) and large ones (oneDNN primitives).
#include <optional>
#include <set>

#include "autograd/op_cases.hpp"
#include "tapegrad/backends/cpu/cpu_backend.hpp"
#include "test_util.hpp"

using namespace tg;
using tg::test::OpCase;

namespace {
/// Output and input gradients of one run of a case.
struct Run {
  Tensor out;
  std::vector<Tensor> grads;  // per floating input (undefined when unused)
};

/// Runs case c in float32 on the CPU backend or the reference backend: forward, then the
/// gradients of sum(out * w) for fixed random weights w.
Run run_case(const OpCase& c, size_t seed, bool reference) {
  std::optional<UseReferenceBackend> guard;
  if (reference) guard.emplace();
  std::vector<Tensor> xs = test::make_inputs(c, kFloat32, seed);
  std::vector<size_t> fl = test::floating_inputs(xs);
  const bool backward = c.differentiable && !fl.empty();
  if (backward)
    for (size_t i : fl) xs[i].requires_grad_(true);
  Run r;
  r.out = c.fn(xs);
  if (backward && is_floating(r.out.dtype()) && r.out.requires_grad()) {
    Tensor w = uniform(r.out.shape(), -1.0, 1.0, 1000 + seed, {.dtype = r.out.dtype()});
    std::vector<Tensor> wrt;
    for (size_t i : fl) wrt.push_back(xs[i]);
    r.grads = autograd::grad({sum(mul(r.out, w))}, wrt, {}, {.allow_unused = true});
  }
  return r;
}

/// Primitive uses (creations + cache hits) so far.
uint64_t primitive_uses() {
  PrimitiveCacheStats s = cpu_primitive_cache_stats();
  return s.created + s.hits;
}
}  // namespace

TEST_CASE("the default CPU backend is the oneDNN backend and the guard switches to the reference",
          "[cpu_vs_reference]") {
  CHECK(backend_for(Device::cpu()).name() == "cpu");
  {
    UseReferenceBackend ref;
    CHECK(backend_for(Device::cpu()).name() == "reference");
    {
      UseReferenceBackend nested;
      CHECK(backend_for(Device::cpu()).name() == "reference");
    }
    CHECK(backend_for(Device::cpu()).name() == "reference");
  }
  CHECK(backend_for(Device::cpu()).name() == "cpu");
}

namespace {
/// Compares every case of the list; returns the number of gradients compared.
int compare_cases(const std::vector<OpCase>& cases) {
  int compared_grads = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    INFO("case: " << c.name);
    Run cpu, ref;
    REQUIRE_NOTHROW(cpu = run_case(c, k, false));
    REQUIRE_NOTHROW(ref = run_case(c, k, true));
    REQUIRE(cpu.out.shape() == ref.out.shape());
    REQUIRE(cpu.out.dtype() == ref.out.dtype());
    {
      INFO("forward");
      TG_CHECK_VALUES(cpu.out, test::values(ref.out), c.tol32, c.tol32);
    }
    REQUIRE(cpu.grads.size() == ref.grads.size());
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      INFO("gradient of floating input " << i);
      REQUIRE(cpu.grads[i].defined() == ref.grads[i].defined());
      if (!cpu.grads[i].defined()) continue;
      CHECK(cpu.grads[i].shape() == ref.grads[i].shape());
      TG_CHECK_VALUES(cpu.grads[i], test::values(ref.grads[i]), c.tol32, c.tol32);
      ++compared_grads;
    }
  }
  return compared_grads;
}
}  // namespace

TEST_CASE("every op entry: CPU forward and backward match the reference in float32",
          "[cpu_vs_reference]") {
  CHECK(compare_cases(test::op_cases()) > 300);
}

TEST_CASE("every edge-shape variant (zero-sized axis, 0-d): CPU matches the reference",
          "[cpu_vs_reference][edge]") {
  CHECK(compare_cases(test::edge_op_cases()) > 100);
}

TEST_CASE("large op entries reach oneDNN primitives", "[cpu_vs_reference]") {
  // Ops with a oneDNN kernel for float32 (the others, e.g. sin, where or comparisons, use the
  // loops; so do sums over a leading or trailing block of axes, such as sum_to's, which are
  // faster as plain column/row sums).
  const std::set<std::string> onednn = {
      "neg",        "abs",       "exp",  "log",        "sqrt",    "rsqrt",       "square",
      "tanh",       "sigmoid",   "relu", "leaky_relu", "elu",     "gelu",        "softplus",
      "pow_scalar", "clip",      "add",  "sub",        "mul",     "div",         "maximum",
      "minimum",    "sum",       "mean", "max",        "min",     "prod",        "var",
      "std",        "logsumexp", "norm", "matmul",     "softmax", "log_softmax", "dropout",
      "lstm",       "gru"};
  std::set<std::string> reached;
  const auto& cases = test::op_cases();
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    if (!c.large) continue;
    std::vector<Tensor> xs = test::make_inputs(c, kFloat32, k);
    const uint64_t before = primitive_uses();
    Tensor y = c.fn(xs);
    if (primitive_uses() > before) reached.insert(c.op);
  }
  for (const std::string& op : onednn) {
    INFO(op);
    CHECK(reached.count(op) == 1);
  }
}

TEST_CASE("small shapes stay on the reference loops", "[cpu_vs_reference]") {
  const uint64_t before = primitive_uses();
  Tensor a = uniform({8, 8}, -1, 1, 1), b = uniform({8, 8}, -1, 1, 2);
  Tensor y = softmax(add(exp(matmul(a, b)), b));  // 512 flops, 64 elements
  CHECK(sum(y).item<double>() == Approx(8.0).epsilon(1e-5));
  CHECK(primitive_uses() == before + 0);
}

TEST_CASE("in-place arithmetic on large strided views matches the reference",
          "[cpu_vs_reference]") {
  for (bool reference : {false, true}) {
    std::optional<UseReferenceBackend> guard;
    if (reference) guard.emplace();
    INFO((reference ? "reference" : "cpu"));
    Tensor base = uniform({256, 128}, -1, 1, 5);
    Tensor view = base.t();  // [128, 256], strides (1, 128)
    Tensor other = uniform({128, 256}, -1, 1, 6);
    std::vector<double> b0 = test::values(view), o = test::values(other);
    view.add_(other);
    view.mul_(2.0);
    std::vector<double> expect(b0.size());
    for (size_t i = 0; i < b0.size(); ++i) expect[i] = 2.0 * (static_cast<float>(b0[i] + o[i]));
    TG_CHECK_VALUES(view, expect, 1e-6, 1e-6);
    // The base sees the writes through the view: base[j][i] == view[i][j].
    TG_CHECK_VALUES(base.t(), expect, 0, 0);
    // A broadcast row added in place into a contiguous target.
    Tensor t = zeros({128, 256});
    Tensor row = arange(0.0, 256.0, 1.0, {.dtype = kFloat32});
    t += row;
    std::vector<double> rows;
    for (int i = 0; i < 128; ++i)
      for (int j = 0; j < 256; ++j) rows.push_back(j);
    TG_CHECK_VALUES(t, rows, 0, 0);
  }
}

TEST_CASE("matmul backward with a broadcast upstream gradient on the oneDNN path",
          "[cpu_vs_reference]") {
  // sum() hands matmul's backward an expanded (stride-0) gradient: d/da sum(a @ b) = 1 @ bᵀ, i.e.
  // every row of the gradient is the row sums of b.
  Tensor a = uniform({64, 96}, -1, 1, 21).requires_grad_();
  Tensor b = uniform({96, 80}, -1, 1, 22).requires_grad_();
  sum(matmul(a, b)).backward();
  std::vector<double> bv = test::values(b), av = test::values(a);
  std::vector<double> ga, gb;
  for (int i = 0; i < 64; ++i)
    for (int k = 0; k < 96; ++k) {
      double s = 0;
      for (int j = 0; j < 80; ++j) s += bv[k * 80 + j];
      ga.push_back(s);
    }
  for (int k = 0; k < 96; ++k) {
    double s = 0;
    for (int i = 0; i < 64; ++i) s += av[i * 96 + k];
    for (int j = 0; j < 80; ++j) gb.push_back(s);
  }
  TG_CHECK_VALUES(a.grad(), ga, 1e-4, 1e-4);
  TG_CHECK_VALUES(b.grad(), gb, 1e-4, 1e-4);
}

namespace {
/// One recurrent problem run on the CPU backend (oneDNN's RNN primitives in float32) or the
/// reference backend (matmul + lstm_cell / gru_cell per step).
struct RnnRun {
  std::vector<Tensor> outputs;  // output, h_T (, c_T)
  std::vector<Tensor> second;   // d/d(inputs) of |∂L/∂kernel|² + |∂L/∂x|² (create_graph)
};

RnnRun run_rnn(bool lstm, const RnnOptions& o, bool reference, bool with_grad) {
  std::optional<UseReferenceBackend> guard;
  if (reference) guard.emplace();
  const int64_t N = 3, T = 4, F = 5, H = 6, G = lstm ? 4 : 3;
  std::vector<Tensor> in = {uniform({N, T, F}, -1, 1, 31),
                            uniform({N, H}, -1, 1, 32),
                            uniform({N, H}, -1, 1, 33),
                            uniform({F, G * H}, -0.6, 0.6, 34),
                            uniform({H, G * H}, -0.6, 0.6, 35),
                            uniform(lstm ? Shape{G * H} : Shape{2, G * H}, -0.5, 0.5, 36)};
  if (!lstm) in.erase(in.begin() + 2);  // no c0
  if (with_grad)
    for (Tensor& t : in) t.requires_grad_(true);
  RnnRun r;
  r.outputs = lstm ? tg::lstm(in[0], in[1], in[2], in[3], in[4], in[5], o)
                   : tg::gru(in[0], in[1], in[2], in[3], in[4], o);
  if (!with_grad) return r;
  Tensor w = uniform(r.outputs[0].shape(), -1, 1, 37);
  Tensor loss = add(sum(mul(r.outputs[0], w)), sum(mul(r.outputs[1], r.outputs[1])));
  const Tensor& kernel = in[lstm ? 3 : 2];
  std::vector<Tensor> g = autograd::grad({loss}, {kernel, in[0]}, {}, {.create_graph = true});
  Tensor loss2 = add(sum(square(g[0])), sum(square(g[1])));
  r.second = autograd::grad({loss2}, in, {}, {.allow_unused = true});
  return r;
}
}  // namespace

TEST_CASE(
    "LSTM and GRU on oneDNN's RNN primitives: inference, and second order through "
    "create_graph, match the reference",
    "[cpu_vs_reference]") {
  for (bool lstm : {true, false})
    for (RnnOptions o : {RnnOptions{.return_sequences = true}, RnnOptions{.go_backwards = true},
                         RnnOptions{.return_sequences = true, .go_backwards = true}}) {
      INFO((lstm ? "lstm" : "gru")
           << " return_sequences " << o.return_sequences << " go_backwards " << o.go_backwards);
      {
        INFO("inference (no grad): forward_inference primitive");
        NoGrad no_grad;
        const uint64_t before = primitive_uses();
        RnnRun cpu = run_rnn(lstm, o, false, false);
        CHECK(primitive_uses() > before);
        RnnRun ref = run_rnn(lstm, o, true, false);
        REQUIRE(cpu.outputs.size() == (lstm ? 3u : 2u));
        for (size_t i = 0; i < cpu.outputs.size(); ++i) {
          CHECK(!cpu.outputs[i].requires_grad());
          TG_CHECK_VALUES(cpu.outputs[i], test::values(ref.outputs[i]), 1e-5, 1e-5);
        }
      }
      RnnRun cpu = run_rnn(lstm, o, false, true), ref = run_rnn(lstm, o, true, true);
      REQUIRE(cpu.second.size() == ref.second.size());
      for (size_t i = 0; i < cpu.second.size(); ++i) {
        INFO("second-order gradient of input " << i);
        REQUIRE(cpu.second[i].defined());
        TG_CHECK_VALUES(cpu.second[i], test::values(ref.second[i]), 1e-4, 1e-4);
      }
    }
}

TEST_CASE("per-channel broadcast arithmetic over NHWC (the CPU backend's row loop) is exact",
          "[cpu_vs_reference]") {
  Tensor x = uniform({16, 9, 9, 32}, -1, 1, 41);  // 41,472 elements: the oneDNN size range
  Tensor c = uniform({32}, 0.5, 1.5, 42);
  std::vector<double> xv = test::values(x), cv = test::values(c);
  auto expect = [&](auto f) {
    std::vector<double> r(xv.size());
    for (size_t i = 0; i < xv.size(); ++i)
      r[i] = static_cast<float>(f(static_cast<float>(xv[i]), static_cast<float>(cv[i % 32])));
    return r;
  };
  TG_CHECK_VALUES(add(x, c), expect([](float a, float b) { return a + b; }), 0, 0);
  TG_CHECK_VALUES(add(c, x), expect([](float a, float b) { return a + b; }), 0, 0);
  TG_CHECK_VALUES(sub(x, c), expect([](float a, float b) { return a - b; }), 0, 0);
  TG_CHECK_VALUES(sub(c, x), expect([](float a, float b) { return b - a; }), 0, 0);
  TG_CHECK_VALUES(mul(x, c), expect([](float a, float b) { return a * b; }), 0, 0);
  TG_CHECK_VALUES(div(x, c), expect([](float a, float b) { return a / b; }), 0, 0);
  // A strided channel vector and a non-contiguous input take the general paths.
  Tensor c2 = uniform({32, 2}, 0.5, 1.5, 43).select(1, 0);
  std::vector<double> c2v = test::values(c2);
  std::vector<double> r(xv.size());
  for (size_t i = 0; i < xv.size(); ++i)
    r[i] = static_cast<float>(static_cast<float>(xv[i]) + static_cast<float>(c2v[i % 32]));
  TG_CHECK_VALUES(add(x, c2), r, 0, 0);
}

TEST_CASE("whole-sequence LSTM: a one-step output is its own tensor, and backward runs on the "
          "backend of the forward",
          "[cpu_vs_reference]") {
  // One step without return_sequences: the output is a copy, so writing into it leaves what
  // backward reads untouched.
  Tensor x = uniform({2, 1, 3}, -1, 1, 51).requires_grad_();
  Tensor k = uniform({3, 8}, -0.5, 0.5, 52).requires_grad_();
  Tensor rk = uniform({2, 8}, -0.5, 0.5, 53).requires_grad_();
  std::vector<Tensor> r = lstm(x, Tensor(), Tensor(), k, rk, Tensor());
  std::vector<double> h_before = test::values(r[1]);
  {
    NoGrad ng;
    r[0].mul_(2.0);
  }
  CHECK(test::values(r[1]) == h_before);
  std::vector<Tensor> g;
  REQUIRE_NOTHROW(g = autograd::grad({sum(r[1])}, {x, k}));
  std::vector<Tensor> expect;
  {
    UseReferenceBackend ref;
    std::vector<Tensor> rr = lstm(x, Tensor(), Tensor(), k, rk, Tensor());
    expect = autograd::grad({sum(rr[1])}, {x, k});
  }
  TG_CHECK_VALUES(g[0], test::values(expect[0]), 1e-5, 1e-5);
  TG_CHECK_VALUES(g[1], test::values(expect[1]), 1e-5, 1e-5);

  // Forward on the CPU backend, backward inside a reference-backend scope: the node keeps the
  // backend (and workspace) of its forward.
  std::vector<Tensor> r2 = lstm(x, Tensor(), Tensor(), k, rk, Tensor());
  std::vector<Tensor> g2;
  {
    UseReferenceBackend ref;
    REQUIRE_NOTHROW(g2 = autograd::grad({sum(r2[1])}, {x, k}));
  }
  TG_CHECK_VALUES(g2[0], test::values(expect[0]), 1e-5, 1e-5);
  TG_CHECK_VALUES(g2[1], test::values(expect[1]), 1e-5, 1e-5);
}
