// The one table of elementwise and reduction kernel codes: the Backend enums, their names and
// the constants the OpenCL kernels switch on (generated into the program source) all come from
// these lists. Adding a kernel variant: one line here, its reference loop, optional fast
// kernels, its test entry.
#pragma once

// X(Name, "name", OCL_CONSTANT): the enumerator, the name used in errors and registries, and
// the macro the OpenCL C kernels use in their switch.

/// Elementwise functions of one tensor (Backend::unary). p0/p1 per op in the comments.
#define TG_UNARY_OPS(X)                             \
  X(Neg, "neg", TG_UNARY_NEG)                       \
  X(Abs, "abs", TG_UNARY_ABS)                       \
  X(Sign, "sign", TG_UNARY_SIGN)                    \
  X(Exp, "exp", TG_UNARY_EXP)                       \
  X(Log, "log", TG_UNARY_LOG)                       \
  X(Log1p, "log1p", TG_UNARY_LOG1P)                 \
  X(Expm1, "expm1", TG_UNARY_EXPM1)                 \
  X(Sqrt, "sqrt", TG_UNARY_SQRT)                    \
  X(Rsqrt, "rsqrt", TG_UNARY_RSQRT)                 \
  X(Square, "square", TG_UNARY_SQUARE)              \
  X(Sin, "sin", TG_UNARY_SIN)                       \
  X(Cos, "cos", TG_UNARY_COS)                       \
  X(Tanh, "tanh", TG_UNARY_TANH)                    \
  X(Sigmoid, "sigmoid", TG_UNARY_SIGMOID)           \
  X(Relu, "relu", TG_UNARY_RELU)                    \
  X(LeakyRelu, "leaky_relu", TG_UNARY_LEAKY_RELU) /* p0 = negative slope */ \
  X(Elu, "elu", TG_UNARY_ELU)                     /* p0 = alpha */          \
  X(Selu, "selu", TG_UNARY_SELU)                    \
  X(Gelu, "gelu", TG_UNARY_GELU)                    \
  X(GeluTanh, "gelu_tanh", TG_UNARY_GELU_TANH)      \
  X(Softplus, "softplus", TG_UNARY_SOFTPLUS)        \
  X(Softsign, "softsign", TG_UNARY_SOFTSIGN)        \
  X(Erf, "erf", TG_UNARY_ERF)                       \
  X(PowScalar, "pow", TG_UNARY_POW_SCALAR)        /* x^p0 */                \
  X(Clip, "clip", TG_UNARY_CLIP)                  /* clamp to [p0, p1] */   \
  X(LogicalNot, "logical_not", TG_UNARY_LOGICAL_NOT)                        \
  X(Step, "step", TG_UNARY_STEP) /* 1 where x > 0, else 0 (relu's derivative) */

/// Elementwise functions of two tensors (Backend::binary); comparisons and logical ops write
/// bool.
#define TG_BINARY_OPS(X)                                  \
  X(Add, "add", TG_BINARY_ADD)                            \
  X(Sub, "sub", TG_BINARY_SUB)                            \
  X(Mul, "mul", TG_BINARY_MUL)                            \
  X(Div, "div", TG_BINARY_DIV)                            \
  X(Pow, "pow", TG_BINARY_POW)                            \
  X(Maximum, "maximum", TG_BINARY_MAXIMUM)                \
  X(Minimum, "minimum", TG_BINARY_MINIMUM)                \
  X(Eq, "eq", TG_BINARY_EQ)                               \
  X(Ne, "ne", TG_BINARY_NE)                               \
  X(Lt, "lt", TG_BINARY_LT)                               \
  X(Le, "le", TG_BINARY_LE)                               \
  X(Gt, "gt", TG_BINARY_GT)                               \
  X(Ge, "ge", TG_BINARY_GE)                               \
  X(LogicalAnd, "logical_and", TG_BINARY_LOGICAL_AND)     \
  X(LogicalOr, "logical_or", TG_BINARY_LOGICAL_OR)        \
  X(ReluBackward, "relu_backward", TG_BINARY_RELU_BACKWARD) /* a where b > 0, else 0 */

/// Reductions over the axes where the output has size 1 and the input does not.
#define TG_REDUCE_OPS(X)           \
  X(Sum, "sum", TG_REDUCE_SUM)     \
  X(Mean, "mean", TG_REDUCE_MEAN)  \
  X(Max, "max", TG_REDUCE_MAX)     \
  X(Min, "min", TG_REDUCE_MIN)     \
  X(Prod, "prod", TG_REDUCE_PROD)

/// Every kernel of the Backend interface (core/backend.hpp), one line per virtual:
/// X(Name, "name", domain). domain is the set of dtypes the kernel is defined for (the reference
/// backend runs all of them): All (every dtype) or Floating (float32, float64). Backend::supports(Kernel, DType) answers per backend; the ops ask before they
/// dispatch, and the registry test walks this list for every backend.
#define TG_KERNELS(X)                                           \
  X(CopyFromHost, "copy_from_host", All)                        \
  X(CopyToHost, "copy_to_host", All)                            \
  X(Fill, "fill", All)                                          \
  X(Copy, "copy", All)                                          \
  X(Unary, "unary", All)                                        \
  X(Binary, "binary", All)                                      \
  X(Where, "where", All)                                        \
  X(Reduce, "reduce", All)                                      \
  X(ArgReduce, "arg_reduce", All)                           \
  X(Matmul, "matmul", All)                                  \
  X(Softmax, "softmax", Floating)                               \
  X(Cumsum, "cumsum", All)                                  \
  X(Gather, "gather", All)                                      \
  X(ScatterAdd, "scatter_add", All)                         \
  X(Random, "random", Floating)                                 \
  X(Conv2d, "conv2d", Floating)                                 \
  X(Conv2dBackwardInput, "conv2d_backward_input", Floating)     \
  X(Conv2dBackwardWeight, "conv2d_backward_weight", Floating)   \
  X(MaxPool2d, "max_pool2d", Floating)                          \
  X(MaxPool2dBackward, "max_pool2d_backward", Floating)         \
  X(AvgPool2d, "avg_pool2d", Floating)                          \
  X(AvgPool2dBackward, "avg_pool2d_backward", Floating)         \
  X(CtcLoss, "ctc_loss", Floating)                              \
  X(LstmCell, "lstm_cell", Floating)                            \
  X(LstmCellBackward, "lstm_cell_backward", Floating)           \
  X(GruCell, "gru_cell", Floating)                              \
  X(GruCellBackward, "gru_cell_backward", Floating)             \
  X(RnnForward, "rnn_forward", Floating)                        \
  X(RnnBackward, "rnn_backward", Floating)                      \
  X(BatchNorm, "batch_norm", Floating)                          \
  X(BatchNormBackward, "batch_norm_backward", Floating)         \
  X(SgdUpdate, "sgd_update", Floating)                          \
  X(RmspropUpdate, "rmsprop_update", Floating)                  \
  X(AdamUpdate, "adam_update", Floating)                        \
  X(AdagradUpdate, "adagrad_update", Floating)                  \
  X(AdadeltaUpdate, "adadelta_update", Floating)                \
  X(AdamaxUpdate, "adamax_update", Floating)                    \
  X(NadamUpdate, "nadam_update", Floating)
