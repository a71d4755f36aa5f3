// The backward engine: runs tape nodes in reverse creation order, without recursion.
#pragma once
#include <vector>

#include "tapegrad/autograd/node.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg::autograd {

/// Options of grad().
struct GradOptions {
  bool retain_graph =
      false;  ///< keep saved tensors (defaults to create_graph in PyTorch; here explicit)
  bool create_graph = false;  ///< record the backward pass so the result can be differentiated
  bool allow_unused = false;  ///< return undefined for inputs the outputs do not depend on
};

/// Gradients of sum(outputs[i] * grad_outputs[i]) with respect to inputs, without touching
/// .grad. grad_outputs may be empty when every output is a scalar (ones are used).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions opts = {});

/// Back-propagates into the .grad of the leaves (what Tensor::backward calls).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              BackwardOptions opts = {});

}  // namespace tg::autograd
