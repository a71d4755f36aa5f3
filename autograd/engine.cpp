// Backward engine: collect reachable nodes, run them by descending creation number,
// accumulate into leaves or capture for grad().
#include "tapegrad/autograd/engine.hpp"

#include <algorithm>
#include <atomic>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "tapegrad/autograd/anomaly.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tg::autograd {

namespace {
std::atomic<uint64_t> g_run_id{1};

void check_grad_matches(const std::string& op, size_t i, const Tensor& g, const Shape& shape,
                        DType dtype) {
  if (g.shape() != shape)
    fail<ShapeError>(op, ": backward returned a gradient of shape ", g.shape(), " for input ", i,
                     " of shape ", shape);
  if (g.dtype() != dtype)
    fail<DTypeError>(op, ": backward returned a gradient of dtype ", g.dtype(), " for input ", i,
                     " of dtype ", dtype);
}

/// Runs hooks in registration order, each on the result of the previous, and checks what they
/// return against the gradient they were given. `owner` names the tensor's op in errors.
Tensor run_hooks(const std::vector<GradHook>& hooks, Tensor g, std::string_view owner) {
  for (const GradHook& h : hooks) {
    Tensor r = h(g);
    if (!r.defined()) continue;
    if (r.shape() != g.shape())
      fail<ShapeError>("register_hook: a hook returned a gradient of shape ", r.shape(),
                       " for a tensor of shape ", g.shape(), " (", owner, ")");
    if (r.dtype() != g.dtype())
      fail<DTypeError>("register_hook: a hook returned a gradient of dtype ", r.dtype(),
                       " for a tensor of dtype ", g.dtype(), " (", owner, ")");
    if (r.device() != g.device())
      fail<DeviceError>("register_hook: a hook returned a gradient on ", r.device(),
                        " for a gradient on ", g.device(), " (", owner, ")");
    g = r;
  }
  return g;
}
}  // namespace

/// One backward pass.
class Engine {
 public:
  Engine(bool accumulate, bool create_graph, bool retain_graph)
      : accumulate_(accumulate),
        create_graph_(create_graph),
        retain_graph_(retain_graph),
        run_id_(g_run_id.fetch_add(1)) {}

  /// Captures the gradient of t (for grad()) instead of accumulating it.
  void capture(const Tensor& t, size_t slot) {
    if (t.grad_fn())
      captures_node_[{t.grad_fn().get(), t.impl()->output_nr}] = slot;
    else
      captures_leaf_[t.impl()] = slot;
  }

  std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grads,
                          size_t n_captures) {
    captured_.assign(n_captures, Tensor());
    std::vector<Node*> roots;
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& out = outputs[i];
      if (!out.requires_grad())
        fail<ValueError>("backward: output ", i, " does not require grad and has no grad_fn");
      if (out.grad_fn()) {
        Node* n = out.grad_fn().get();
        prepare(n);
        add_to_buffer(n, out.impl()->output_nr, grads[i]);
        roots.push_back(n);
      } else {
        send_to_leaf(out.impl_ptr(), grads[i]);
      }
    }
    std::vector<Node*> order = collect(roots);
    std::sort(order.begin(), order.end(),
              [](Node* a, Node* b) { return a->sequence_nr() > b->sequence_nr(); });
    if (!accumulate_) mark_needed(order);
    plan_leaves(order);
    NoGrad no_grad_scope;
    std::optional<EnableGrad> enable;
    if (create_graph_) enable.emplace();
    size_t next_flush = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      execute(order[i]);
      // Leaves whose last consumer was this node now hold their total gradient.
      for (; next_flush < flush_at_.size() && flush_at_[next_flush].first == i; ++next_flush)
        flush_leaf(flush_at_[next_flush].second);
    }
    // Leaves given as outputs and consumed by no node.
    for (auto& [impl, st] : leaves_)
      if (st.pending.defined()) flush_leaf(impl);
    return std::move(captured_);
  }

 private:
  struct PairHash {
    size_t operator()(const std::pair<Node*, uint32_t>& p) const {
      return std::hash<Node*>()(p.first) ^ (p.second * 0x9E3779B97F4A7C15ull);
    }
  };

  void prepare(Node* n) {
    if (n->run_id_ != run_id_) {
      n->run_id_ = run_id_;
      n->buffer_.assign(n->num_outputs(), Tensor());
    }
  }

  std::vector<Node*> collect(const std::vector<Node*>& roots) {
    std::vector<Node*> order, stack(roots.begin(), roots.end());
    const uint64_t mark = run_id_ | (1ull << 63);
    for (Node* r : roots) r->run_id_ = mark;  // buffers of roots are already prepared
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      order.push_back(n);
      for (const Edge& e : n->next_edges()) {
        Node* c = e.node.get();
        if (!c || c->run_id_ == mark) continue;
        c->run_id_ = mark;
        c->buffer_.assign(c->num_outputs(), Tensor());
        stack.push_back(c);
      }
    }
    return order;
  }

  Tensor accumulate(const Tensor& a, const Tensor& b) { return a.defined() ? add(a, b) : b; }

  void add_to_buffer(Node* n, uint32_t nr, const Tensor& g) {
    n->buffer_[nr] = accumulate(n->buffer_[nr], g);
  }

  /// What a backward pass gathers for one leaf: the sum of its contributions so far.
  struct LeafState {
    std::shared_ptr<TensorImpl> impl;
    Tensor pending;
  };

  /// Orders the leaves by the position of their last consumer in the descending order: after
  /// that node ran, no contribution to the leaf is left.
  void plan_leaves(const std::vector<Node*>& order) {
    std::unordered_map<TensorImpl*, size_t> last;
    for (size_t i = 0; i < order.size(); ++i)
      for (const Edge& e : order[i]->next_edges())
        if (e.leaf) last[e.leaf.get()] = i;
    flush_at_.reserve(last.size());
    for (auto [impl, i] : last) flush_at_.emplace_back(i, impl);
    std::sort(flush_at_.begin(), flush_at_.end());
  }

  /// Adds one contribution to a leaf's pending gradient.
  void send_to_leaf(const std::shared_ptr<TensorImpl>& leaf, const Tensor& g) {
    LeafState& st = leaves_[leaf.get()];
    if (!st.impl) st.impl = leaf;
    st.pending = accumulate(st.pending, g);
  }

  /// Runs a leaf's hooks once on its total gradient, then captures it (grad()) or accumulates
  /// it into .grad and runs the post-accumulate hooks (backward()).
  void flush_leaf(TensorImpl* key) {
    auto found = leaves_.find(key);
    if (found == leaves_.end() || !found->second.pending.defined()) return;
    std::shared_ptr<TensorImpl> leaf = found->second.impl;
    Tensor g = std::exchange(found->second.pending, Tensor());
    if (leaf->hooks && !leaf->hooks->empty()) {
      std::vector<GradHook> fns;  // copied: a hook may register or remove hooks
      for (const auto& h : *leaf->hooks) fns.push_back(h.fn);
      g = run_hooks(fns, g, "leaf");
    }
    auto it = captures_leaf_.find(leaf.get());
    if (it != captures_leaf_.end()) {
      captured_[it->second] = accumulate(captured_[it->second], g);
      return;
    }
    if (!accumulate_) return;
    Tensor& slot = leaf->grad ? *leaf->grad : *(leaf->grad = std::make_unique<Tensor>());
    // Out of place: a gradient tensor may be shared by several leaves.
    slot = slot.defined() ? add(slot, g) : (create_graph_ ? g : g.detach());
    if (leaf->post_hooks && !leaf->post_hooks->empty()) {
      const Tensor self(leaf);
      const auto hooks = *leaf->post_hooks;  // a hook may remove itself
      for (const auto& h : hooks) h.fn(self);
    }
  }

  /// For grad(): marks the nodes on a path to a captured input (ascending creation order is a
  /// valid order to decide it, since edges point to older nodes). Others are not run: their
  /// gradients reach no requested input.
  void mark_needed(const std::vector<Node*>& desc) {
    for (auto it = desc.rbegin(); it != desc.rend(); ++it) {
      Node* n = *it;
      bool need = false;
      for (const Edge& e : n->next_edges()) {
        if (e.leaf)
          need |= captures_leaf_.count(e.leaf.get()) > 0;
        else if (e.node)
          need |= needed_.count(e.node.get()) > 0 ||
                  captures_node_.count({e.node.get(), e.output_nr}) > 0;
        if (need) break;
      }
      if (need) needed_.insert(n);
    }
  }

  void execute(Node* n) {
    std::vector<Tensor>& buf = n->buffer_;
    bool any = false;
    for (const Tensor& g : buf) any |= g.defined();
    if (!any) return;
    if (!accumulate_ && !needed_.count(n)) {
      // Not on a path to an input: only capture what arrived here, if this node is an input's.
      for (uint32_t nr = 0; nr < buf.size(); ++nr) {
        auto it = captures_node_.find({n, nr});
        if (it != captures_node_.end() && buf[nr].defined())
          captured_[it->second] = accumulate(captured_[it->second], buf[nr]);
      }
      buf.clear();
      return;
    }
    if (n->released())
      fail<ValueError>(n->name(),
                       ": backward through the graph a second time, but its saved tensors were "
                       "freed; pass retain_graph = true to the first backward");
    if (!n->hooks_.empty()) run_node_hooks(n);
    for (auto& [nr, weak] : n->retained_) {
      auto impl = weak.lock();
      if (!impl || !buf[nr].defined()) continue;
      if (!impl->grad) impl->grad = std::make_unique<Tensor>();
      Tensor g = create_graph_ ? buf[nr] : buf[nr].detach();
      *impl->grad = impl->grad->defined() ? add(*impl->grad, g) : g;
    }
    for (uint32_t nr = 0; nr < buf.size(); ++nr) {
      auto it = captures_node_.find({n, nr});
      if (it != captures_node_.end() && buf[nr].defined())
        captured_[it->second] = accumulate(captured_[it->second], buf[nr]);
    }
    if (buf.size() > 1)
      for (size_t i = 0; i < buf.size(); ++i)
        if (!buf[i].defined()) {
          const OutputMeta& m = n->outputs()[i];
          buf[i] = zeros(m.shape, {.dtype = m.dtype, .device = m.device});
        }
    std::vector<Tensor> in_grads;
    {
      CurrentNodeScope scope(n);
      std::vector<Tensor> grads = std::move(buf);
      buf.clear();
      if (anomaly_mode_enabled()) {
        const std::vector<Tensor> received = grads;  // apply may consume its argument
        in_grads = n->apply(grads);
        detail::anomaly_check_backward(*n, received, in_grads);
      } else {
        in_grads = n->apply(grads);
      }
    }
    if (!retain_graph_) {
      n->release();
      n->released_ = true;
    }
    const auto& edges = n->next_edges();
    if (in_grads.size() != edges.size())
      fail<ValueError>(n->name(), ": backward returned ", in_grads.size(), " gradients for ",
                       edges.size(), " inputs");
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& e = edges[i];
      const Tensor& g = in_grads[i];
      if (!e.valid() || !g.defined()) continue;
      if (e.node) {
        if (e.node->num_outputs() == 1 || e.node->outputs().empty()) {
          // shape checked when the consumer node runs its own formula
        } else {
          const OutputMeta& m = e.node->outputs()[e.output_nr];
          check_grad_matches(n->name(), i, g, m.shape, m.dtype);
        }
        add_to_buffer(e.node.get(), e.output_nr, g);
      } else {
        check_grad_matches(n->name(), i, g, e.leaf->shape, e.leaf->dtype);
        send_to_leaf(e.leaf, g);
      }
    }
  }

  /// Runs the hooks of each output of n on its total gradient (all contributions are in n's
  /// buffer when n runs).
  void run_node_hooks(Node* n) {
    std::vector<Tensor>& buf = n->buffer_;
    for (uint32_t nr = 0; nr < buf.size(); ++nr) {
      if (!buf[nr].defined()) continue;
      std::vector<GradHook> fns;  // copied: a hook may register or remove hooks
      for (const auto& h : n->hooks_)
        if (h.output_nr == nr) fns.push_back(h.hook.fn);
      if (!fns.empty()) buf[nr] = run_hooks(fns, buf[nr], "output of " + n->name());
    }
  }

  bool accumulate_, create_graph_, retain_graph_;
  uint64_t run_id_;
  std::unordered_map<TensorImpl*, LeafState> leaves_;
  std::vector<std::pair<size_t, TensorImpl*>> flush_at_;
  std::unordered_map<std::pair<Node*, uint32_t>, size_t, PairHash> captures_node_;
  std::unordered_map<TensorImpl*, size_t> captures_leaf_;
  std::unordered_set<const Node*> needed_;
  std::vector<Tensor> captured_;
};

namespace {
std::vector<Tensor> default_grads(const std::vector<Tensor>& outputs,
                                  const std::vector<Tensor>& grad_outputs, const char* op) {
  std::vector<Tensor> grads(outputs.size());
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    fail<ValueError>(op, ": ", grad_outputs.size(), " gradients given for ", outputs.size(),
                     " outputs");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& o = outputs[i];
    if (!o.defined()) fail<ValueError>(op, ": output ", i, " is undefined");
    if (!grad_outputs.empty() && grad_outputs[i].defined()) {
      if (grad_outputs[i].shape() != o.shape())
        fail<ShapeError>(op, ": gradient of shape ", grad_outputs[i].shape(),
                         " given for an output of shape ", o.shape());
      grads[i] = grad_outputs[i].to(o.dtype());
    } else {
      if (o.numel() != 1)
        fail<ValueError>(op, ": grad can be implicitly created only for scalar outputs, got shape ",
                         o.shape(), "; pass a gradient");
      grads[i] = ones(o.shape(), {.dtype = o.dtype(), .device = o.device()});
    }
  }
  return grads;
}
}  // namespace

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions opts) {
  std::vector<Tensor> grads = default_grads(outputs, grad_outputs, "grad");
  Engine engine(false, opts.create_graph, opts.retain_graph || opts.create_graph);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad())
      fail<ValueError>("grad: input ", i, " does not require grad");
    engine.capture(inputs[i], i);
  }
  std::vector<Tensor> result = engine.run(outputs, grads, inputs.size());
  for (size_t i = 0; i < result.size(); ++i) {
    if (!result[i].defined() && !opts.allow_unused)
      fail<ValueError>("grad: input ", i, " (shape ", inputs[i].shape(),
                       ") was not used to compute the outputs; pass allow_unused = true");
  }
  return result;
}

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              BackwardOptions opts) {
  std::vector<Tensor> grads = default_grads(outputs, grad_outputs, "backward");
  Engine engine(true, opts.create_graph, opts.retain_graph || opts.create_graph);
  engine.run(outputs, grads, 0);
}

}  // namespace tg::autograd
