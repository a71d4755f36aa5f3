// Saving and loading: whole models (architecture + weights + optimizer state) in one file,
// weights by layer name, and single tensors as NumPy .npy files.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "tapegrad/core/tensor.hpp"
#include "tapegrad/nn/config.hpp"
#include "tapegrad/nn/layer_registry.hpp"
#include "tapegrad/nn/model.hpp"

namespace tg::nn {

/// Writes architecture, weights, compile settings and optimizer state to path (see
/// docs/saving.md for the format). The write is atomic: a failure leaves any previous file.
void save_model(ModelImpl& model, const std::string& path);
template <class M>
void save_model(const ModelHandle<M>& model, const std::string& path) {
  save_model(*model, path);
}
/// Rebuilds a model saved by save_model: same predictions; compiled with the restored
/// optimizer state when its loss, metrics and optimizer are built-ins, so fit resumes. Every
/// layer is rebuilt through the factory registered for its type (nn/layer_registry.hpp), the
/// optimizer through the one registered for its name (nn/optimizer_registry.hpp).
/// Throws IOError for a missing, truncated or corrupt file, naming what is wrong.
Model load_model(const std::string& path);

/// Writes every weight, keyed "<layer name>/<weight name>" (atomic write).
void save_weights(Layer& model, const std::string& path);
template <class M>
void save_weights(const LayerHandle<M>& model, const std::string& path) {
  save_weights(*model, path);
}
/// Loads weights by name into a model with the same layer names and weight shapes (builds
/// nothing: the model must be built). Throws IOError/ShapeError naming the mismatch.
void load_weights(Layer& model, const std::string& path);
template <class M>
void load_weights(const LayerHandle<M>& model, const std::string& path) {
  load_weights(*model, path);
}

/// Writes a tensor as a NumPy .npy file (version 1.0, little-endian, C order).
void save_npy(const std::string& path, const Tensor& t);
/// Reads a .npy file (float32/64, int32/64, bool; C or Fortran order).
Tensor load_npy(const std::string& path);

/// Writes bytes to path so that path always holds either its previous contents or all of
/// bytes, also if the process is killed or the disk fills: the bytes go to a temporary file
/// next to path (`<path>.tmp.<pid>.<n>`, mode of the file it replaces), which is fsync'ed,
/// renamed over path, and the folder fsync'ed. Throws IOError naming who, the path and the
/// system's reason (no space, file too large, permission denied); path is then unchanged. A
/// process killed mid-write may leave its temporary file behind, never a damaged path.
void atomic_write(const std::string& path, const std::string& bytes, const char* who);

}  // namespace tg::nn
