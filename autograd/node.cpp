// Tape nodes, saved tensors, and the iterative release of long chains.
#include "tapegrad/autograd/node.hpp"

#include <atomic>

#include "tapegrad/autograd/anomaly.hpp"

namespace tg::autograd {

namespace {
std::atomic<uint64_t> g_next_seq{1};
thread_local Node* t_current_node = nullptr;
}  // namespace

Node* current_node() { return t_current_node; }
bool needs_input_grad(size_t i) { return t_current_node && t_current_node->needs_input_grad(i); }

CurrentNodeScope::CurrentNodeScope(Node* n) : prev(t_current_node) { t_current_node = n; }
CurrentNodeScope::~CurrentNodeScope() { t_current_node = prev; }

Node::Node(std::string_view name, size_t num_inputs)
    : name_(name), seq_(g_next_seq.fetch_add(1, std::memory_order_relaxed)) {
  next_.resize(num_inputs);
}

Node::~Node() {
  for (Edge& e : next_) release_node(std::move(e.node));
}

void release_node(std::shared_ptr<Node>&& node) {
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  if (!node) return;
  if (node.use_count() > 1) {
    node.reset();
    return;
  }
  pending.push_back(std::move(node));
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // may push more nodes; the loop picks them up
  }
  draining = false;
}

namespace {
Edge edge_to(const Tensor& t) {
  Edge e;
  if (!t.defined() || !t.requires_grad()) return e;
  if (t.grad_fn()) {
    e.node = t.grad_fn();
    e.output_nr = t.impl()->output_nr;
  } else {
    e.leaf = t.impl_ptr();
  }
  return e;
}
void attach_output(const std::shared_ptr<Node>& node, Tensor& out, uint32_t nr) {
  TensorImpl* impl = out.impl();
  impl->requires_grad = true;
  impl->grad_fn = node;
  impl->output_nr = nr;
}
}  // namespace

void connect(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
             std::initializer_list<Tensor*> outputs) {
  if (anomaly_mode_enabled())
    detail::anomaly_check_forward(*node, std::vector<const Tensor*>(inputs.begin(), inputs.end()),
                                  std::vector<const Tensor*>(outputs.begin(), outputs.end()));
  size_t i = 0;
  for (const Tensor* t : inputs) node->next_[i++] = edge_to(*t);
  node->num_outputs_ = static_cast<uint32_t>(outputs.size());
  if (outputs.size() > 1)
    for (Tensor* o : outputs) node->outputs_.push_back({o->shape(), o->dtype(), o->device()});
  uint32_t nr = 0;
  for (Tensor* o : outputs) attach_output(node, *o, nr++);
}

void connect_list(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
                  std::vector<Tensor>& outputs) {
  if (anomaly_mode_enabled()) {
    std::vector<const Tensor*> ins, outs;
    for (const Tensor& t : inputs) ins.push_back(&t);
    for (const Tensor& t : outputs) outs.push_back(&t);
    detail::anomaly_check_forward(*node, ins, outs);
  }
  node->next_.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) node->next_[i] = edge_to(inputs[i]);
  node->num_outputs_ = static_cast<uint32_t>(outputs.size());
  if (outputs.size() > 1)
    for (Tensor& o : outputs) node->outputs_.push_back({o.shape(), o.dtype(), o.device()});
  for (uint32_t nr = 0; nr < outputs.size(); ++nr)
    if (outputs[nr].defined()) attach_output(node, outputs[nr], nr);
}

uint64_t next_hook_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

uint64_t add_output_hook(Node& node, uint32_t output_nr, GradHook hook) {
  const uint64_t id = next_hook_id();
  node.hooks_.push_back({output_nr, {id, std::move(hook)}});
  return id;
}

void remove_output_hook(Node& node, uint64_t id) {
  std::erase_if(node.hooks_, [id](const Node::OutputHook& h) { return h.hook.id == id; });
}

void add_retained_output(Node& node, uint32_t output_nr, std::weak_ptr<TensorImpl> t) {
  node.retained_.emplace_back(output_nr, std::move(t));
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output, uint32_t output_nr)
    : is_output_(is_output) {
  if (!t.defined()) return;
  version_ = t.storage()->version();
  requires_grad_ = is_output || t.requires_grad();
  output_nr_ = is_output ? output_nr : t.impl()->output_nr;
  // An output keeps only its data: holding its grad_fn would make a cycle node → tensor → node.
  data_ = is_output ? t.detach() : t;
}

Tensor SavedTensor::unpack() const {
  if (!data_.defined()) return data_;
  if (data_.storage()->version() != version_) {
    Node* n = current_node();
    fail<ValueError>(n ? n->name() : std::string("backward"),
                     ": a tensor saved for backward was modified in place (saved at version ",
                     version_, ", now version ", data_.storage()->version(), ", shape ",
                     data_.shape(), ")");
  }
  if (!is_output_ || !requires_grad_) return data_;
  // Re-attach the output to its node so that create_graph can differentiate through it.
  Tensor t = Tensor::make_view(data_.storage(), data_.shape(), data_.strides(), data_.offset(),
                               data_.dtype());
  Node* n = current_node();
  if (n) {
    // The running node is alive (the engine holds it); share its ownership.
    auto* impl = t.impl();
    impl->requires_grad = true;
    impl->output_nr = output_nr_;
    impl->grad_fn = n->shared_from_this();
  }
  return t;
}

}  // namespace tg::autograd

namespace tg {
TensorImpl::~TensorImpl() { autograd::release_node(std::move(grad_fn)); }
}  // namespace tg
