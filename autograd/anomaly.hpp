// Anomaly mode (PyTorch's torch.autograd.detect_anomaly): find the first op whose forward or
// backward produced a NaN or an infinity, and where that op was called.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/core/error.hpp"
#include "tapegrad/core/tensor.hpp"

namespace tg::autograd {

class Node;

/// The first non-finite value an anomaly check met.
struct Anomaly {
  std::string op;     ///< the op's name ("log", "matmul", a custom Function's name)
  std::string phase;  ///< "forward" or "backward"
  /// What was non-finite: "output 0" (forward), "gradient of input 1" (backward), or, for a
  /// value that came in already non-finite, "input 0" / "incoming gradient of output 0".
  std::string where;
  bool produced = true;  ///< the op made it from finite values (false: it arrived non-finite)
  std::string value;     ///< "nan", "inf" or "-inf" (the first one met)
  /// Where the op was called: "file:line (function)" of the first frame outside tapegrad's own
  /// code (core/, autograd/, nn/, backends/, the installed headers), resolved with addr2line;
  /// the function and the module when the caller has no debug information (compile with -g).
  std::string site;
  std::string context;  ///< the layer or composite op the op ran inside ("Dense 'dense_1'")
  std::vector<std::string> trace;  ///< the call stack at creation, innermost first
  /// One line: `anomaly: backward of 'sqrt' produced nan in the gradient of input 0; the op was
  /// created at train.cpp:42 (main) inside 'mse'`.
  std::string message() const;
};

/// Thrown by an anomaly check of a detect_anomaly guard that raises (the default).
class AnomalyError : public ValueError {
 public:
  explicit AnomalyError(Anomaly a);
  const Anomaly& anomaly() const { return a_; }

 private:
  Anomaly a_;
};

/// While alive on this thread, every op recorded on the tape keeps the call stack of its
/// creation and checks its floating outputs after its forward; backward checks the gradients
/// each node receives and returns. The first NaN or infinity found is reported as an Anomaly
/// naming the op, the phase, the output or input, and the op's creation site: thrown as an
/// AnomalyError (raise = true), or kept for first() (raise = false: the computation goes on).
/// Ops that record nothing (no input requires grad, NoGrad) are not checked. Costs a host copy
/// of every output and gradient, and a stack capture per op: a debugging aid, as in PyTorch.
/// Guards nest; the innermost decides. Values that are non-finite on purpose (log of the
/// negative branch of a where) are reported too.
class detect_anomaly {
 public:
  struct Options {
    bool raise = true;  ///< throw AnomalyError at the first anomaly (else record it)
  };
  detect_anomaly();
  explicit detect_anomaly(Options opts);
  ~detect_anomaly();
  detect_anomaly(const detect_anomaly&) = delete;
  detect_anomaly& operator=(const detect_anomaly&) = delete;

  /// The first anomaly met while this guard was the innermost (with raise = false).
  const std::optional<Anomaly>& first() const { return first_; }
  /// Forgets first() (e.g. at the start of each batch).
  void reset() { first_.reset(); }

 private:
  friend struct AnomalyAccess;
  Options opts_;
  std::optional<Anomaly> first_;
};

/// Whether a detect_anomaly guard is alive on this thread.
bool anomaly_mode_enabled();

namespace detail {
/// The call stack of a node's creation (kept only in anomaly mode).
struct CreationSite {
  std::vector<void*> frames;  ///< return addresses, innermost first
  std::string context;        ///< the ErrorContext open at creation ("" when none)
};
/// Captures the creation site of node and checks its outputs (connect and connect_list call it
/// in anomaly mode, before the outputs are wired). Throws AnomalyError or records.
void anomaly_check_forward(Node& node, const std::vector<const Tensor*>& inputs,
                           const std::vector<const Tensor*>& outputs);
/// Checks the gradients node received (grads) and returned (in_grads) (the engine calls it in
/// anomaly mode).
void anomaly_check_backward(const Node& node, const std::vector<Tensor>& grads,
                            const std::vector<Tensor>& in_grads);
}  // namespace detail

}  // namespace tg::autograd
