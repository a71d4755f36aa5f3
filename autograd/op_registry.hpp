// The registry of ops: every public op registers its name, kernel and differentiability where
// it is defined, so that tests can check each op has a reference kernel and a test entry.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/core/backend.hpp"

namespace tg::autograd {

/// What the registry knows of one op.
struct OpInfo {
  std::string name;  ///< public name ("matmul", "log_softmax")
  std::string
      kernel;  ///< Backend kernel it dispatches to ("binary", "matmul", "composite", "view")
  bool differentiable = true;
};

/// All registered ops, in registration order.
const std::vector<OpInfo>& registered_ops();

/// How many times the ops of this process have dispatched each code of the op table
/// (core/op_table.hpp) to a backend: the registry test runs every op entry forward and backward
/// and asserts that each kernel variant was reached, so no variant lands without a test entry.
uint64_t dispatch_count(UnaryOp op);
uint64_t dispatch_count(BinaryOp op);
uint64_t dispatch_count(ReduceOp op);
/// Counts one dispatch of the code (called by the ops next to the kernel call).
void note_dispatch(UnaryOp op);
void note_dispatch(BinaryOp op);
void note_dispatch(ReduceOp op);

/// Registers an op at static-initialisation time (see TG_REGISTER_OP).
struct OpRegistrar {
  OpRegistrar(const char* name, const char* kernel, bool differentiable);
};

}  // namespace tg::autograd

#define TG_CONCAT_INNER_(a, b) a##b
#define TG_CONCAT_(a, b) TG_CONCAT_INNER_(a, b)
/// Registers op `name` dispatching to Backend kernel `kernel`.
#define TG_REGISTER_OP(name, kernel, differentiable)                                            \
  static const ::tg::autograd::OpRegistrar TG_CONCAT_(tg_op_registrar_, __LINE__)(name, kernel, \
                                                                                  differentiable)
