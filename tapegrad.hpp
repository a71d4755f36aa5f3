// Umbrella header: the whole public API of tapegrad.
#pragma once

#include "autograd/engine.hpp"
#include "autograd/function.hpp"
#include "autograd/grad_mode.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/op_registry.hpp"
#include "autograd/ops.hpp"
#include "core/allocator.hpp"
#include "core/device.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "core/shape.hpp"
#include "core/tensor.hpp"
#include "nn/nn.hpp"
