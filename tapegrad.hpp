// Umbrella header: the whole public API of tapegrad.
#pragma once

#include "tapegrad/autograd/anomaly.hpp"
#include "tapegrad/autograd/engine.hpp"
#include "tapegrad/autograd/function.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/op_registry.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/optim.hpp"
#include "tapegrad/core/allocator.hpp"
#include "tapegrad/core/device.hpp"
#include "tapegrad/core/dtype.hpp"
#include "tapegrad/core/error.hpp"
#include "tapegrad/core/registry.hpp"
#include "tapegrad/core/shape.hpp"
#include "tapegrad/core/tensor.hpp"
#include "tapegrad/nn/nn.hpp"
