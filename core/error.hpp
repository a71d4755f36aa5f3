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

/// Puts errors in the terms of the function the user called. While a scope is alive on this
/// thread, an error that an inner op raises as `<inner>: <what is wrong>` reads
/// `<name>: <what is wrong> (<inner>)`, e.g. `embedding: index 7 out of range for axis 0 of
/// size 7 (index_select)`. An op scope (composite ops, losses, metrics) names the message
/// only when no scope is open, so the function the user called wins over the ones it calls; a
/// layer scope always takes over, so an error inside a model names the innermost layer
/// (`LSTM 'lstm': ... (lstm)`). Costs nothing unless an error is raised.
class ErrorContext {
 public:
  /// What opened the scope.
  enum class Kind { Op, Layer };
  /// name must outlive the scope (a string literal, or a layer's label kept alive).
  explicit ErrorContext(const char* name, Kind kind = Kind::Op) noexcept;
  ~ErrorContext();
  ErrorContext(const ErrorContext&) = delete;
  ErrorContext& operator=(const ErrorContext&) = delete;

 private:
  const char* prev_;
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
/// The name of the ErrorContext that errors of this thread are put in terms of (nullptr when
/// none is open).
const char* current_error_context();
/// msg rewritten for the outermost ErrorContext of this thread (msg itself without one).
std::string in_user_terms(std::string msg);
}  // namespace detail

/// Throws E with the parts streamed together; the message is built only on failure.
template <class E, class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw E(detail::in_user_terms(detail::cat(args...)));
}

}  // namespace tg
