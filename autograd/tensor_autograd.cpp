// The autograd members of Tensor (declared in core/tensor.hpp).
#include "tapegrad/autograd/engine.hpp"
#include "tapegrad/autograd/node.hpp"
#include "tapegrad/autograd/ops.hpp"

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

namespace {
/// Appends fn to one of a leaf's hook lists (made on first use); the handle erases it by id
/// and does nothing once the tensor is gone.
template <class F>
HookHandle add_leaf_hook(const std::shared_ptr<TensorImpl>& impl,
                         std::unique_ptr<std::vector<HookEntry<F>>> TensorImpl::*list, F fn) {
  auto& hooks = (*impl).*list;
  if (!hooks) hooks = std::make_unique<std::vector<HookEntry<F>>>();
  const uint64_t id = autograd::next_hook_id();
  hooks->push_back({id, std::move(fn)});
  std::weak_ptr<TensorImpl> weak = impl;
  return HookHandle([weak, list, id] {
    if (auto p = weak.lock(); p && (*p).*list)
      std::erase_if(*((*p).*list), [id](const auto& h) { return h.id == id; });
  });
}
}  // namespace

HookHandle Tensor::register_hook(GradHook hook) const {
  if (!defined()) fail<ValueError>("register_hook: undefined tensor");
  if (!requires_grad())
    fail<ValueError>("register_hook: tensor of shape ", shape(), " does not require grad");
  if (!hook) fail<ValueError>("register_hook: empty hook");
  if (is_leaf()) return add_leaf_hook(impl_, &TensorImpl::hooks, std::move(hook));
  const uint64_t id = autograd::add_output_hook(*grad_fn(), impl_->output_nr, std::move(hook));
  std::weak_ptr<autograd::Node> weak = grad_fn();
  return HookHandle([weak, id] {
    if (auto node = weak.lock()) autograd::remove_output_hook(*node, id);
  });
}

HookHandle Tensor::register_post_accumulate_grad_hook(PostAccumulateHook hook) const {
  if (!defined()) fail<ValueError>("register_post_accumulate_grad_hook: undefined tensor");
  if (!is_leaf())
    fail<ValueError>("register_post_accumulate_grad_hook: only leaf tensors accumulate a "
                     "gradient; this one was produced by ",
                     grad_fn()->name());
  if (!requires_grad())
    fail<ValueError>("register_post_accumulate_grad_hook: tensor of shape ", shape(),
                     " does not require grad");
  if (!hook) fail<ValueError>("register_post_accumulate_grad_hook: empty hook");
  return add_leaf_hook(impl_, &TensorImpl::post_hooks, std::move(hook));
}

void Tensor::retain_grad() const {
  if (!defined()) fail<ValueError>("retain_grad: undefined tensor");
  if (!requires_grad())
    fail<ValueError>("retain_grad: tensor of shape ", shape(), " does not require grad");
  if (is_leaf() || impl_->retains_grad) return;
  impl_->retains_grad = true;
  autograd::add_retained_output(*grad_fn(), impl_->output_nr, impl_);
}

}  // namespace tg
