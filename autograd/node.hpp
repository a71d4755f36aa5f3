// Tape nodes: what an op recorded for its backward, and the saved tensors it keeps.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/core/pool.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg::autograd {

class Node;
namespace detail {
struct CreationSite;
}

/// Where a node sends the gradient of one of its inputs: the node that produced that input
/// (and which of its outputs it was), or the input itself when it is a leaf requiring grad.
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t output_nr = 0;
  std::shared_ptr<TensorImpl> leaf;
  bool valid() const { return node || leaf; }
};

/// Shape, dtype and device of a node output (to make zero gradients for unused outputs).
struct OutputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

/// One tape entry. Nodes are numbered in creation order, a valid topological order: backward
/// runs them from the highest number down, with no recursion.
class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(std::string_view name, size_t num_inputs);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Gradients of the inputs from gradients of the outputs (one per output, all defined).
  /// Returns one tensor per input (undefined where an input needs none).
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grads) = 0;
  /// Frees what the node saved for backward.
  virtual void release() = 0;

  /// The op's name ("matmul", a custom Function's name, ...).
  const std::string& name() const { return name_; }
  /// Creation number (later nodes have larger numbers).
  uint64_t sequence_nr() const { return seq_; }
  /// One edge per input.
  const std::vector<Edge>& next_edges() const { return next_; }
  /// Number of outputs of the op.
  uint32_t num_outputs() const { return num_outputs_; }
  /// Metadata of each output (kept only for ops with several outputs).
  const std::vector<OutputMeta>& outputs() const { return outputs_; }
  /// Whether input i needs a gradient (callable from a backward formula).
  bool needs_input_grad(size_t i) const { return i < next_.size() && next_[i].valid(); }
  bool released() const { return released_; }
  /// Where the op was called (kept only while anomaly mode is on; else nullptr).
  const detail::CreationSite* creation_site() const { return site_.get(); }
  void set_creation_site(std::shared_ptr<const detail::CreationSite> s) { site_ = std::move(s); }

 private:
  friend class Engine;
  friend void connect(const std::shared_ptr<Node>&, std::initializer_list<const Tensor*>,
                      std::initializer_list<Tensor*>);
  friend void connect_list(const std::shared_ptr<Node>&, const std::vector<Tensor>&,
                           std::vector<Tensor>&);
  friend uint64_t add_output_hook(Node&, uint32_t, GradHook);
  friend void remove_output_hook(Node&, uint64_t);
  friend void add_retained_output(Node&, uint32_t, std::weak_ptr<TensorImpl>);

  std::string name_;
  uint64_t seq_;
  std::vector<Edge> next_;
  std::vector<OutputMeta> outputs_;
  uint32_t num_outputs_ = 1;
  bool released_ = false;
  std::shared_ptr<const detail::CreationSite> site_;
  // Engine scratch state.
  std::vector<Tensor> buffer_;
  uint64_t run_id_ = 0;
  // Hooks on outputs (non-leaf tensors), in registration order.
  struct OutputHook {
    uint32_t output_nr;
    HookEntry<GradHook> hook;
  };
  std::vector<OutputHook> hooks_;
  // Outputs whose tensor keeps its gradient in .grad (retain_grad): filled after the hooks ran.
  std::vector<std::pair<uint32_t, std::weak_ptr<TensorImpl>>> retained_;
};

/// A tensor kept for backward. Detects an in-place write made after it was saved.
class SavedTensor {
 public:
  SavedTensor() = default;
  /// Saves t; is_output says whether t is output number output_nr of the node that saves it
  /// (an output is saved before the node is connected).
  explicit SavedTensor(const Tensor& t, bool is_output = false, uint32_t output_nr = 0);
  /// The saved tensor; throws ValueError naming op when it was modified in place since.
  Tensor unpack() const;
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
  bool is_output_ = false;
  bool requires_grad_ = false;
  uint32_t output_nr_ = 0;
};

/// True when grad mode is on and any input requires grad.
inline bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}
template <class... Ts>
inline bool needs_grad(const Ts&... ts) {
  return needs_grad({&ts...});
}

/// The node whose backward is running on this thread (for SavedTensor::unpack and
/// needs_input_grad from inside a formula).
Node* current_node();
/// Whether input i of the running node needs a gradient.
bool needs_input_grad(size_t i);
/// Makes n the running node while alive (used by the engine).
struct CurrentNodeScope {
  Node* prev;
  explicit CurrentNodeScope(Node* n);
  ~CurrentNodeScope();
};

/// Wires a new node: one edge per input, outputs get the node as grad_fn.
void connect(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
             std::initializer_list<Tensor*> outputs);
/// connect() for inputs and outputs held in vectors.
void connect_list(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
                  std::vector<Tensor>& outputs);

/// Adds a hook on output output_nr of node (hooks of non-leaf tensors live on their node);
/// returns its id.
uint64_t add_output_hook(Node& node, uint32_t output_nr, GradHook hook);
/// Removes the output hook with this id (no effect when it is gone).
void remove_output_hook(Node& node, uint64_t id);
/// Makes backward store the gradient of output output_nr into t's .grad, after its hooks.
void add_retained_output(Node& node, uint32_t output_nr, std::weak_ptr<TensorImpl> t);
/// A fresh hook id (unique in the process).
uint64_t next_hook_id();

/// Drops a node reference without recursing down a long chain (the last reference of a
/// 100,000-node chain is released iteratively).
void release_node(std::shared_ptr<Node>&& node);

/// A node whose backward is a callable F: either Tensor→vector<Tensor> (one output) or
/// vector<Tensor>&→vector<Tensor>. Its captures are what it saved.
template <class F>
class LambdaNode final : public Node {
 public:
  LambdaNode(std::string_view name, size_t num_inputs, F f)
      : Node(name, num_inputs), f_(std::move(f)) {}
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    if constexpr (std::is_invocable_v<F&, const Tensor&>)
      return (*f_)(grads[0]);
    else
      return (*f_)(grads);
  }
  void release() override { f_.reset(); }

 private:
  std::optional<F> f_;
};

/// Records one op on the tape: a node with backward f, edges to inputs, and grad_fn on outputs.
/// Call only when needs_grad(inputs...) is true.
template <class F>
void record(std::string_view name, std::initializer_list<const Tensor*> inputs,
            std::initializer_list<Tensor*> outputs, F&& f) {
  auto node =
      ::tg::detail::make_pooled<LambdaNode<std::decay_t<F>>>(name, inputs.size(), std::forward<F>(f));
  connect(node, inputs, outputs);
}

}  // namespace tg::autograd
