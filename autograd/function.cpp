// Context of custom functions.
#include "tapegrad/autograd/function.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace tg::autograd {

void Context::save_for_backward(const std::vector<Tensor>& tensors) {
  saved_.clear();
  for (const Tensor& t : tensors) {
    bool is_input = false;
    for (const Tensor& in : inputs_) is_input |= in.is_same(t);
    // Inputs keep their history (for create_graph); anything else is saved as plain data.
    saved_.emplace_back(is_input ? t : t.detach());
  }
}

std::vector<Tensor> Context::saved_tensors() const {
  std::vector<Tensor> out;
  for (const SavedTensor& s : saved_) out.push_back(s.unpack());
  return out;
}

namespace detail {
std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> r(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                           std::free);
  return status == 0 && r ? std::string(r.get()) : std::string(name);
}
}  // namespace detail

}  // namespace tg::autograd
