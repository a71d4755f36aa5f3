// gradcheck: full Jacobians for small problems, random directions for large ones.
#include "tapegrad/autograd/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tapegrad/autograd/engine.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg::autograd {

namespace {
std::string index_str(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return shape_str(idx);
}

bool close(double a, double n, const GradcheckOptions& o) {
  if (std::isnan(a) || std::isnan(n)) return false;
  return std::abs(a - n) <= o.atol + o.rtol * std::abs(n);
}

/// Evaluates f without recording and returns the output as float64 values.
std::vector<double> eval(const TestFunction& f, const std::vector<Tensor>& xs) {
  NoGrad ng;
  return f(xs).to_vector<double>();
}

struct Prepared {
  std::vector<Tensor> xs;
  std::vector<size_t> diff;  // indices of differentiated inputs
};
Prepared prepare(const std::vector<Tensor>& inputs) {
  Prepared p;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) fail<ValueError>("gradcheck: input ", i, " is undefined");
    Tensor c = t.detach().to(Device::cpu());
    if (is_floating(c.dtype())) {
      c = c.to(kFloat64).clone();
      c.requires_grad_(true);
      p.diff.push_back(i);
    } else {
      c = c.clone();
    }
    p.xs.push_back(c);
  }
  return p;
}
}  // namespace

GradcheckResult gradcheck(const TestFunction& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions o) {
  UseReferenceBackend ref;
  Prepared p = prepare(inputs);
  Tensor y = f(p.xs);
  if (!y.defined()) fail<ValueError>("gradcheck: the function returned an undefined tensor");
  if (!is_floating(y.dtype()))
    fail<DTypeError>("gradcheck: the output must be floating, got ", y.dtype());
  const int64_t m = y.numel();
  int64_t n = 0;
  for (size_t i : p.diff) n += p.xs[i].numel();
  std::vector<Tensor> diff_inputs;
  for (size_t i : p.diff) diff_inputs.push_back(p.xs[i]);
  GradcheckResult res;
  std::ostringstream msg;
  msg.precision(10);
  if (!y.requires_grad()) {
    // The output does not depend on any input through the tape: the numeric Jacobian must be 0.
    for (size_t k = 0; k < p.diff.size(); ++k) {
      Tensor x = p.xs[p.diff[k]];
      double* d = x.data<double>();
      for (int64_t e = 0; e < x.numel(); ++e) {
        const double v = d[e];
        d[e] = v + o.eps;
        auto fp = eval(f, p.xs);
        d[e] = v - o.eps;
        auto fm = eval(f, p.xs);
        d[e] = v;
        for (int64_t j = 0; j < m; ++j) {
          double num = (fp[j] - fm[j]) / (2 * o.eps);
          if (!close(0.0, num, o)) {
            msg << "gradcheck: output does not require grad but depends on input " << p.diff[k]
                << " element " << index_str(e, x.shape()) << ": numeric " << num;
            return {false, msg.str()};
          }
        }
      }
    }
    return res;
  }
  if (m * n <= o.max_jacobian) {
    // Analytic Jacobian, one backward per output element.
    std::vector<std::vector<double>> analytic(static_cast<size_t>(m));
    for (int64_t j = 0; j < m; ++j) {
      std::vector<double> ej(static_cast<size_t>(m), 0.0);
      ej[j] = 1.0;
      Tensor gout = from_blob(ej.data(), y.shape(), kFloat64, Device::cpu());
      auto grads = grad({y}, diff_inputs, {gout}, {.retain_graph = true, .allow_unused = true});
      for (size_t k = 0; k < grads.size(); ++k) {
        if (grads[k].defined()) {
          auto v = grads[k].to_vector<double>();
          analytic[j].insert(analytic[j].end(), v.begin(), v.end());
        } else {
          analytic[j].insert(analytic[j].end(), static_cast<size_t>(diff_inputs[k].numel()), 0.0);
        }
      }
    }
    int64_t col = 0;
    for (size_t k = 0; k < p.diff.size(); ++k) {
      Tensor x = p.xs[p.diff[k]];
      double* d = x.data<double>();
      for (int64_t e = 0; e < x.numel(); ++e, ++col) {
        const double v = d[e];
        d[e] = v + o.eps;
        auto fp = eval(f, p.xs);
        d[e] = v - o.eps;
        auto fm = eval(f, p.xs);
        d[e] = v;
        for (int64_t j = 0; j < m; ++j) {
          const double num = (fp[j] - fm[j]) / (2 * o.eps);
          const double an = analytic[j][col];
          if (!close(an, num, o)) {
            msg << "gradcheck: input " << p.diff[k] << ", element " << index_str(e, x.shape())
                << ", output element " << index_str(j, y.shape()) << ": analytic " << an
                << " vs numeric " << num;
            return {false, msg.str()};
          }
        }
      }
    }
    return res;
  }
  // Random directions: compare vᵀ J u computed both ways.
  for (int dir = 0; dir < o.directions; ++dir) {
    Tensor v =
        normal(y.shape(), 0.0, 1.0, o.seed + 2 * dir, {.dtype = kFloat64, .device = Device::cpu()});
    auto grads = grad({y}, diff_inputs, {v}, {.retain_graph = true, .allow_unused = true});
    std::vector<Tensor> us;
    double analytic = 0.0;
    for (size_t k = 0; k < diff_inputs.size(); ++k) {
      Tensor u = normal(diff_inputs[k].shape(), 0.0, 1.0, o.seed + 2 * dir + 1 + 7919 * k,
                        {.dtype = kFloat64, .device = Device::cpu()});
      us.push_back(u);
      if (grads[k].defined()) analytic += sum(mul(grads[k], u)).item<double>();
    }
    auto shift = [&](double s) {
      for (size_t k = 0; k < diff_inputs.size(); ++k) {
        double* d = diff_inputs[k].data<double>();
        const double* u = us[k].data<double>();
        for (int64_t e = 0; e < diff_inputs[k].numel(); ++e) d[e] += s * u[e];
      }
    };
    // Keep the exact inputs: x + eps - 2eps + eps need not round back to x, and the tape (saved
    // inputs of max/min, ...) is reused by the next direction.
    std::vector<std::vector<double>> orig;
    for (const Tensor& x : diff_inputs) orig.push_back(x.to_vector<double>());
    shift(o.eps);
    auto fp = eval(f, p.xs);
    shift(-2 * o.eps);
    auto fm = eval(f, p.xs);
    for (size_t k = 0; k < diff_inputs.size(); ++k)
      std::copy(orig[k].begin(), orig[k].end(), diff_inputs[k].data<double>());
    const double* vv = v.data<double>();
    double numeric = 0.0;
    for (int64_t j = 0; j < m; ++j) numeric += vv[j] * (fp[j] - fm[j]) / (2 * o.eps);
    if (!close(analytic, numeric, o)) {
      msg << "gradcheck: random direction " << dir << " (inputs too large for a full Jacobian): "
          << "analytic " << analytic << " vs numeric " << numeric;
      return {false, msg.str()};
    }
  }
  return res;
}

GradcheckResult gradgradcheck(const TestFunction& f, const std::vector<Tensor>& inputs,
                              GradcheckOptions o) {
  Tensor v;
  {
    UseReferenceBackend ref;
    Prepared p = prepare(inputs);
    NoGrad ng;
    Tensor y = f(p.xs);
    v = normal(y.shape(), 0.0, 1.0, o.seed + 99, {.dtype = kFloat64, .device = Device::cpu()});
  }
  TestFunction g = [f, v](const std::vector<Tensor>& xs) {
    std::vector<Tensor> diff;
    for (const Tensor& x : xs)
      if (x.requires_grad()) diff.push_back(x);
    if (!autograd::grad_enabled()) {
      // Numeric evaluation: the first-order gradient still needs a tape.
      EnableGrad eg;
      std::vector<Tensor> xs2;
      for (const Tensor& x : xs) xs2.push_back(x);
      Tensor y = f(xs2);
      auto gs = grad({y}, diff, {v}, {.allow_unused = true});
      std::vector<Tensor> flat;
      for (size_t k = 0; k < gs.size(); ++k)
        flat.push_back(gs[k].defined() ? gs[k].detach().reshape({-1})
                                       : zeros({diff[k].numel()},
                                               {.dtype = kFloat64, .device = Device::cpu()}));
      return concat(flat);
    }
    Tensor y = f(xs);
    auto gs = grad({y}, diff, {v}, {.create_graph = true, .allow_unused = true});
    std::vector<Tensor> flat;
    for (size_t k = 0; k < gs.size(); ++k)
      flat.push_back(gs[k].defined()
                         ? gs[k].reshape({-1})
                         : zeros({diff[k].numel()}, {.dtype = kFloat64, .device = Device::cpu()}));
    return concat(flat);
  };
  return gradcheck(g, inputs, o);
}

}  // namespace tg::autograd
