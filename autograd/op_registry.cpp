// Storage of the op registry.
#include "tapegrad/autograd/op_registry.hpp"

#include <array>
#include <atomic>

namespace tg::autograd {

namespace {
std::vector<OpInfo>& ops() {
  static std::vector<OpInfo> v;
  return v;
}
}  // namespace

const std::vector<OpInfo>& registered_ops() { return ops(); }

namespace {
template <int N>
using Counters = std::array<std::atomic<uint64_t>, N>;
Counters<kUnaryOpCount> unary_counts;
Counters<kBinaryOpCount> binary_counts;
Counters<kReduceOpCount> reduce_counts;
}  // namespace

uint64_t dispatch_count(UnaryOp op) {
  return unary_counts[static_cast<size_t>(op)].load(std::memory_order_relaxed);
}
uint64_t dispatch_count(BinaryOp op) {
  return binary_counts[static_cast<size_t>(op)].load(std::memory_order_relaxed);
}
uint64_t dispatch_count(ReduceOp op) {
  return reduce_counts[static_cast<size_t>(op)].load(std::memory_order_relaxed);
}
void note_dispatch(UnaryOp op) {
  unary_counts[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
}
void note_dispatch(BinaryOp op) {
  binary_counts[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
}
void note_dispatch(ReduceOp op) {
  reduce_counts[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
}

OpRegistrar::OpRegistrar(const char* name, const char* kernel, bool differentiable) {
  ops().push_back({name, kernel, differentiable});
}

}  // namespace tg::autograd
