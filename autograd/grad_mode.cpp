// Thread-local grad mode.
#include "tapegrad/autograd/grad_mode.hpp"

namespace tg::autograd {
namespace {
[[gnu::tls_model("initial-exec")]] thread_local bool t_grad_enabled = true;
}
bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }
}  // namespace tg::autograd

namespace tg {
NoGrad::NoGrad() : prev_(autograd::grad_enabled()) { autograd::set_grad_enabled(false); }
NoGrad::~NoGrad() { autograd::set_grad_enabled(prev_); }
EnableGrad::EnableGrad() : prev_(autograd::grad_enabled()) { autograd::set_grad_enabled(true); }
EnableGrad::~EnableGrad() { autograd::set_grad_enabled(prev_); }
}  // namespace tg
