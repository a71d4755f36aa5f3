// Storage of the op registry.
#include "tapegrad/autograd/op_registry.hpp"

namespace tg::autograd {

namespace {
std::vector<OpInfo>& ops() {
  static std::vector<OpInfo> v;
  return v;
}
}  // namespace

const std::vector<OpInfo>& registered_ops() { return ops(); }

OpRegistrar::OpRegistrar(const char* name, const char* kernel, bool differentiable) {
  ops().push_back({name, kernel, differentiable});
}

}  // namespace tg::autograd
