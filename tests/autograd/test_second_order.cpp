// Gradients of gradients: gradgradcheck (float64, reference backend) through the recorded
// backward pass of the ops.
#include <set>

#include "autograd/op_cases.hpp"
#include "test_util.hpp"

using namespace tg;
using tg::test::OpCase;

namespace {
/// y = x² whose backward is right to first order but built from a detached x, so that its own
/// gradient (the second derivative, 2) is lost.
struct DetachedBackwardSquare {
  static Tensor forward(autograd::Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return mul(x, x);
  }
  static std::vector<Tensor> backward(autograd::Context& ctx, const std::vector<Tensor>& g) {
    return {mul(g[0], mul(ctx.saved_tensors()[0].detach(), 2.0))};
  }
};

/// gradgradchecks the small differentiable entries of op; returns how many ran.
int gradgrad_entries(const std::string& op) {
  const auto& cases = test::op_cases();
  int n = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    if (c.op != op || !c.differentiable || c.large) continue;
    INFO("case: " << c.name);
    auto res = autograd::gradgradcheck(c.fn, test::make_inputs(c, kFloat64, k), c.gc);
    INFO(res.message);
    CHECK(res.ok);
    ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("gradgradcheck rejects a backward that is right only to first order", "[second_order]") {
  Tensor x = tensor<double>({0.5, -1.0, 1.5}, {3});
  auto f = [](const std::vector<Tensor>& xs) {
    return autograd::Function<DetachedBackwardSquare>::apply(xs[0]);
  };
  TG_REQUIRE_GRADCHECK(autograd::gradcheck(f, {x}));
  auto res = autograd::gradgradcheck(f, {x});
  INFO(res.message);
  CHECK_FALSE(res.ok);
  // The same function through the library's ops passes.
  TG_REQUIRE_GRADCHECK(autograd::gradgradcheck(
      [](const std::vector<Tensor>& xs) { return mul(xs[0], xs[0]); }, {x}));
}

TEST_CASE("gradgradcheck: unary ops with curvature", "[second_order]") {
  for (const char* op :
       {"tanh", "sigmoid", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "sin", "cos",
        "gelu", "softplus", "softsign", "erf", "elu", "selu", "pow_scalar"}) {
    INFO(op);
    CHECK(gradgrad_entries(op) >= 3);
  }
}

TEST_CASE("gradgradcheck: binary arithmetic", "[second_order]") {
  for (const char* op : {"mul", "div", "pow", "add", "sub", "maximum", "minimum", "where"}) {
    INFO(op);
    CHECK(gradgrad_entries(op) >= 3);
  }
}

TEST_CASE("gradgradcheck: matmul in every operand layout", "[second_order]") {
  CHECK(gradgrad_entries("matmul") >= 10);
}

TEST_CASE("gradgradcheck: softmax and log_softmax", "[second_order]") {
  CHECK(gradgrad_entries("softmax") >= 4);
  CHECK(gradgrad_entries("log_softmax") >= 4);
}

TEST_CASE("gradgradcheck: reductions", "[second_order]") {
  for (const char* op :
       {"sum", "mean", "prod", "var", "std", "logsumexp", "norm", "max", "min", "sum_to"}) {
    INFO(op);
    CHECK(gradgrad_entries(op) >= 2);
  }
}

TEST_CASE("gradgradcheck: piecewise-linear unary ops (zero second derivative)", "[second_order]") {
  for (const char* op : {"neg", "abs", "sign", "relu", "leaky_relu", "clip"}) {
    INFO(op);
    CHECK(gradgrad_entries(op) >= 3);
  }
}

TEST_CASE("gradgradcheck: indexing, joining and views", "[second_order]") {
  for (const char* op :
       {"gather",  "scatter_add", "take_along_axis", "index_select",   "cumsum",
        "concat",  "stack",       "split",           "chunk",          "pad",
        "reshape", "permute",     "slice",           "select",         "expand",
        "clone",   "cast",        "to_device",       "slice_backward", "dropout"}) {
    INFO(op);
    CHECK(gradgrad_entries(op) >= 1);
  }
}

TEST_CASE("gradgradcheck: convolution, pooling, normalization, embedding", "[second_order]") {
  for (const char* op :
       {"conv2d", "conv2d_backward_input", "conv2d_backward_weight", "conv1d", "conv2d_transpose",
        "max_pool2d", "avg_pool2d", "avg_pool2d_backward", "global_avg_pool2d", "global_max_pool2d",
        "batch_norm", "layer_norm", "embedding", "lstm", "gru", "simple_rnn", "unbind", "lstm_cell",
        "gru_cell"}) {
    INFO(op);
    CHECK(gradgrad_entries(op) >= 1);
  }
}

TEST_CASE("gradgradcheck: ctc_loss (backward re-records the alpha-beta recursions)",
          "[second_order]") {
  CHECK(gradgrad_entries("ctc_loss") >= 3);
}

TEST_CASE("every differentiable op is covered by a second-order check", "[second_order]") {
  // The TEST_CASEs above name these ops; a newly registered differentiable op must be added.
  const std::set<std::string> covered = {"tanh",
                                         "sigmoid",
                                         "exp",
                                         "log",
                                         "log1p",
                                         "expm1",
                                         "sqrt",
                                         "rsqrt",
                                         "square",
                                         "sin",
                                         "cos",
                                         "gelu",
                                         "softplus",
                                         "softsign",
                                         "erf",
                                         "elu",
                                         "selu",
                                         "pow_scalar",
                                         "mul",
                                         "div",
                                         "pow",
                                         "add",
                                         "sub",
                                         "maximum",
                                         "minimum",
                                         "where",
                                         "matmul",
                                         "softmax",
                                         "log_softmax",
                                         "sum",
                                         "mean",
                                         "prod",
                                         "var",
                                         "std",
                                         "logsumexp",
                                         "norm",
                                         "max",
                                         "min",
                                         "sum_to",
                                         "neg",
                                         "abs",
                                         "sign",
                                         "relu",
                                         "leaky_relu",
                                         "clip",
                                         "gather",
                                         "scatter_add",
                                         "take_along_axis",
                                         "index_select",
                                         "cumsum",
                                         "concat",
                                         "stack",
                                         "split",
                                         "chunk",
                                         "pad",
                                         "reshape",
                                         "permute",
                                         "slice",
                                         "select",
                                         "expand",
                                         "clone",
                                         "cast",
                                         "to_device",
                                         "slice_backward",
                                         "dropout",
                                         "conv2d",
                                         "conv2d_backward_input",
                                         "conv2d_backward_weight",
                                         "conv1d",
                                         "conv2d_transpose",
                                         "max_pool2d",
                                         "avg_pool2d",
                                         "avg_pool2d_backward",
                                         "global_avg_pool2d",
                                         "global_max_pool2d",
                                         "batch_norm",
                                         "layer_norm",
                                         "embedding",
                                         "ctc_loss",
                                         "lstm",
                                         "gru",
                                         "simple_rnn",
                                         "lstm_cell",
                                         "gru_cell",
                                         "unbind"};
  for (const auto& info : autograd::registered_ops()) {
    INFO(info.name);
    if (info.differentiable) CHECK(covered.count(info.name) == 1);
  }
}

TEST_CASE("second derivatives of simple functions match their closed forms", "[second_order]") {
  // d²/dx² tanh(x) = -2 tanh(x) (1 - tanh²(x)); at x = 0.5: tanh = 0.46211715726000974.
  Tensor x = tensor<double>({0.5}, {1}, {.dtype = kFloat64}).requires_grad_();
  Tensor y = sum(tanh(x));
  Tensor g = autograd::grad({y}, {x}, {}, {.create_graph = true})[0];
  Tensor gg = autograd::grad({sum(g)}, {x})[0];
  TG_CHECK_VALUES(g, std::vector<double>{0.7864477329659274}, 1e-12, 1e-12);
  TG_CHECK_VALUES(gg, std::vector<double>{-0.7268619813835873}, 1e-12, 1e-12);

  // d²/dx² x³ = 6x; with x = [1, -2]: gradient [3, 12], second [6, -12].
  Tensor z = tensor<double>({1.0, -2.0}, {2}, {.dtype = kFloat64}).requires_grad_();
  Tensor gz = autograd::grad({sum(mul(mul(z, z), z))}, {z}, {}, {.create_graph = true})[0];
  TG_CHECK_VALUES(gz, (std::vector<double>{3.0, 12.0}), 1e-12, 0);
  Tensor ggz = autograd::grad({sum(gz)}, {z})[0];
  TG_CHECK_VALUES(ggz, (std::vector<double>{6.0, -12.0}), 1e-12, 0);
}
