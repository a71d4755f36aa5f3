// Custom differentiable functions: a user type with static forward(ctx, ...) and
// backward(ctx, grads) becomes an op on the tape without touching the library.
#pragma once
#include <any>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/node.hpp"

namespace tg::autograd {

/// What forward hands to backward: saved tensors (checked for in-place writes) and any values.
class Context {
 public:
  /// Keeps tensors for backward (retrieve with saved_tensors()).
  void save_for_backward(const std::vector<Tensor>& tensors);
  /// The saved tensors; throws ValueError if one was modified in place since it was saved.
  std::vector<Tensor> saved_tensors() const;
  /// Stores any value under a name.
  template <class T>
  void set(const std::string& key, T value) {
    values_[key] = std::move(value);
  }
  /// The value stored under key (throws ValueError when missing or of another type).
  template <class T>
  T get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) fail<ValueError>("Context::get: no value named '", key, "'");
    const T* p = std::any_cast<T>(&it->second);
    if (!p) fail<ValueError>("Context::get: value '", key, "' has another type");
    return *p;
  }
  /// Whether input i (counting tensor arguments only) needs a gradient; valid in backward.
  bool needs_input_grad(size_t i) const { return autograd::needs_input_grad(i); }

  /// Set by Function::apply: the tensor inputs, so that saving an input keeps its history.
  std::vector<Tensor> inputs_;

 private:
  std::vector<SavedTensor> saved_;
  std::unordered_map<std::string, std::any> values_;
};

namespace detail {
template <class T>
void collect_tensor(std::vector<Tensor>& out, const T& arg) {
  if constexpr (std::is_same_v<std::decay_t<T>, Tensor>) out.push_back(arg);
}
inline std::vector<Tensor> as_list(const Tensor& t) { return {t}; }
inline std::vector<Tensor> as_list(const std::vector<Tensor>& v) { return v; }
std::string demangle(const char* name);
}  // namespace detail

/// A custom op. Op provides
///   static Tensor forward(Context& ctx, Args...)            (or returns std::vector<Tensor>)
///   static std::vector<Tensor> backward(Context& ctx, const std::vector<Tensor>& grads)
/// backward returns one gradient per Tensor argument of forward (undefined for none) and may
/// use differentiable ops, so that gradients of gradients work. forward runs without recording.
template <class Op>
struct Function {
  /// Runs Op::forward and records Op::backward on the tape when an input requires grad.
  template <class... Args>
  static auto apply(const Args&... args) {
    auto ctx = std::make_shared<Context>();
    std::vector<Tensor> inputs;
    (detail::collect_tensor(inputs, args), ...);
    ctx->inputs_ = inputs;
    bool record = grad_enabled();
    if (record) {
      record = false;
      for (const Tensor& t : inputs) record |= t.defined() && t.requires_grad();
    }
    auto result = [&] {
      NoGrad no_grad;
      return Op::forward(*ctx, args...);
    }();
    ctx->inputs_.clear();
    std::vector<Tensor> outs = detail::as_list(result);
    // Outputs get fresh handles, so that tensors forward saved never point back at the node.
    for (Tensor& o : outs)
      if (o.defined()) o = o.detach();
    if (record) {
      auto f = [ctx](std::vector<Tensor>& grads) { return Op::backward(*ctx, grads); };
      auto node = std::make_shared<LambdaNode<decltype(f)>>(detail::demangle(typeid(Op).name()),
                                                            inputs.size(), std::move(f));
      connect_list(node, inputs, outs);
    }
    if constexpr (std::is_same_v<decltype(result), Tensor>)
      return outs[0];
    else
      return outs;
  }
};

}  // namespace tg::autograd
