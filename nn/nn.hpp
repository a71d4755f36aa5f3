// The nn API in one include: layers, models, losses, metrics, optimizers, callbacks, data.
#pragma once

#include "nn/activations.hpp"
#include "nn/callbacks.hpp"
#include "nn/data/idx.hpp"
#include "nn/dataset.hpp"
#include "nn/initializers.hpp"
#include "nn/layer.hpp"
#include "nn/layers/activation_layer.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/reshaping.hpp"
#include "nn/losses.hpp"
#include "nn/metrics.hpp"
#include "nn/model.hpp"
#include "nn/optimizer.hpp"
#include "nn/progress_bar.hpp"
#include "nn/regularizers.hpp"
#include "nn/saving.hpp"
