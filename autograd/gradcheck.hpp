// Gradient checking against central finite differences in float64 on the reference backend.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/core/tensor.hpp"

namespace tg::autograd {

/// Tolerances and sizes of gradcheck.
struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< absolute tolerance
  double rtol = 1e-3;  ///< relative tolerance (of the numeric value)
  /// Largest Jacobian (input elements × output elements) checked in full; beyond it, random
  /// directions are checked instead.
  int64_t max_jacobian = 20000;
  int directions = 3;  ///< random directions for large inputs
  uint64_t seed = 1234;
};

/// Outcome of a check; converts to bool. On failure, message names the input, the element,
/// the analytic and the numeric value.
struct GradcheckResult {
  bool ok = true;
  std::string message;
  explicit operator bool() const { return ok; }
};

/// The function under test: tensors in, one tensor out.
using TestFunction = std::function<Tensor(const std::vector<Tensor>&)>;

/// Compares the gradients of f computed by backward with central finite differences. Inputs
/// are copied to float64 on the reference backend; floating inputs are differentiated, others
/// are passed through unchanged.
GradcheckResult gradcheck(const TestFunction& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions opts = {});

/// Second-order check: gradcheck of x ↦ ∂⟨f(x), v⟩/∂x for a fixed random v, differentiated
/// through the recorded backward pass (create_graph).
GradcheckResult gradgradcheck(const TestFunction& f, const std::vector<Tensor>& inputs,
                              GradcheckOptions opts = {});

}  // namespace tg::autograd
