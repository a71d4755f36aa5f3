// Error messages in the terms of the function the user called (ErrorContext).
#include "tapegrad/core/error.hpp"

#include <string_view>

namespace tg {

namespace {
thread_local const char* t_context = nullptr;  // outermost ErrorContext of this thread
}  // namespace

ErrorContext::ErrorContext(const char* name, Kind kind) noexcept : prev_(t_context) {
  if (!prev_ || kind == Kind::Layer) t_context = name;
}

ErrorContext::~ErrorContext() { t_context = prev_; }

namespace detail {
const char* current_error_context() { return t_context; }

std::string in_user_terms(std::string msg) {
  if (!t_context) return msg;
  const std::string_view outer = t_context;
  const size_t colon = msg.find(": ");
  if (colon == std::string::npos || colon == 0) return msg;
  const std::string_view inner(msg.data(), colon);
  if (inner == outer || inner.find(' ') != std::string_view::npos) return msg;  // a layer's name
  return std::string(outer) + msg.substr(colon) + " (" + std::string(inner) + ")";
}
}  // namespace detail

}  // namespace tg
