// Thread-local grad mode and the RAII guards that switch it.
#pragma once

namespace tg::autograd {

/// Whether ops record on the tape (thread-local; on by default).
bool grad_enabled();
/// Switches grad mode for this thread.
void set_grad_enabled(bool enabled);

}  // namespace tg::autograd

namespace tg {

/// While alive, no op records on the tape on this thread (inference, optimizer updates).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

/// While alive, ops record on this thread even inside a NoGrad scope.
class EnableGrad {
 public:
  EnableGrad();
  ~EnableGrad();
  EnableGrad(const EnableGrad&) = delete;
  EnableGrad& operator=(const EnableGrad&) = delete;

 private:
  bool prev_;
};

}  // namespace tg
