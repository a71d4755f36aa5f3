// The autograd members of Tensor (declared in core/tensor.hpp).
#include "autograd/engine.hpp"
#include "autograd/node.hpp"
#include "autograd/ops.hpp"

namespace tg {

Tensor& Tensor::requires_grad_(bool value) {
  if (!defined()) fail<ValueError>("requires_grad_: undefined tensor");
  if (!is_leaf())
    fail<ValueError>(
        "requires_grad_: only leaf tensors can change requires_grad; use detach() "
        "for a non-leaf (produced by ",
        grad_fn()->name(), ")");
  if (value && !is_floating(dtype()))
    fail<DTypeError>("requires_grad_: only floating tensors can require grad, got ", dtype());
  impl_->requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  if (!defined()) fail<ValueError>("grad: undefined tensor");
  return impl_->grad ? *impl_->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined() && g.shape() != shape())
    fail<ShapeError>("set_grad: gradient of shape ", g.shape(), " for a tensor of shape ", shape());
  if (!impl_->grad) impl_->grad = std::make_unique<Tensor>();
  *impl_->grad = g;
}

void Tensor::zero_grad() const {
  if (impl_->grad) *impl_->grad = Tensor();
}

void Tensor::backward(const Tensor& gradient, BackwardOptions opts) const {
  if (!defined()) fail<ValueError>("backward: undefined tensor");
  if (!requires_grad())
    fail<ValueError>("backward: tensor of shape ", shape(),
                     " does not require grad (no input of its computation requires grad)");
  autograd::backward(
      {*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{}, opts);
}

Tensor Tensor::detach() const {
  if (!defined()) return *this;
  return Tensor::make_view(storage(), shape(), strides(), offset(), dtype());
}

void Tensor::register_hook(GradHook hook) const {
  if (!requires_grad())
    fail<ValueError>("register_hook: tensor of shape ", shape(), " does not require grad");
  if (is_leaf()) {
    if (!impl_->hooks) impl_->hooks = std::make_unique<std::vector<GradHook>>();
    impl_->hooks->push_back(std::move(hook));
  } else {
    autograd::add_output_hook(*grad_fn(), impl_->output_nr, std::move(hook));
  }
}

void Tensor::retain_grad() const {
  if (!requires_grad())
    fail<ValueError>("retain_grad: tensor of shape ", shape(), " does not require grad");
  if (is_leaf() || impl_->retains_grad) return;
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  register_hook([weak](const Tensor& g) {
    if (auto impl = weak.lock()) {
      if (!impl->grad) impl->grad = std::make_unique<Tensor>();
      *impl->grad = impl->grad->defined() ? add(*impl->grad, g.detach()) : g.detach();
    }
    return Tensor();
  });
}

}  // namespace tg
