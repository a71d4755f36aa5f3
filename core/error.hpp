// Error types thrown by tapegrad: every user mistake becomes one of these, never an abort.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace tg {

/// Base of every tapegrad exception. Messages read `<op or layer>: <what is wrong>: <values>`.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// Shapes that do not fit the op (mismatch, bad rank, incompatible reshape).
class ShapeError : public Error {
 public:
  using Error::Error;
};
/// A dtype the op does not accept, or two dtypes that do not match.
class DTypeError : public Error {
 public:
  using Error::Error;
};
/// Tensors on different devices, or a device that does not exist.
class DeviceError : public Error {
 public:
  using Error::Error;
};
/// An axis, index or slice out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};
/// A bad value or a misuse of the API (backward twice, in-place write to a saved tensor, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};
/// Reading or writing a file failed, or the file is corrupt.
class IOError : public Error {
 public:
  using Error::Error;
};
/// A backend library (oneDNN, OpenCL, CLBlast) reported a failure; names the routine.
class BackendError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

/// Throws E with the parts streamed together; the message is built only on failure.
template <class E, class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw E(detail::cat(args...));
}

}  // namespace tg
