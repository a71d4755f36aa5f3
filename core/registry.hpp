// Picks the backend that runs kernels for a device.
#pragma once
#include <memory>

#include "tapegrad/core/device.hpp"

namespace tg {

class Backend;

/// The backend that runs kernels for tensors on device d (oneDNN for the CPU); inside a
/// MetaScope, the meta backend (no kernel runs). Throws DeviceError when no backend serves the
/// device.
Backend& backend_for(Device d);
/// The backend serving device d whatever scope is open on this thread (its allocator owns the
/// device's memory). Throws DeviceError like backend_for.
Backend& device_backend(Device d);
/// The meta backend: every kernel is a no-op, copy_to_host of a meta tensor writes zeros.
Backend& meta_backend();
/// The plain-loop reference backend (float32, float64, integers, bool): the test oracle.
Backend& reference_backend();
/// Registers the backend serving a device type: factory(index) returns the backend of device
/// index (nullptr when there is no such device). The backends of a build register themselves
/// (backends/<name>/register.cpp, listed by the generated backends/builtin_backends.cpp) before
/// the first backend_for; a later call for a non-CPU type replaces its backend (the CPU's is
/// registered once). Throws ValueError for a second CPU registration.
void register_backend(DeviceType type, Backend* (*factory)(int index));
/// Whether this build has a backend for the device type (OpenCL is a meson option).
bool has_backend(DeviceType type);

/// While alive, CPU tensors run on the reference backend on this thread (gradcheck, tests).
class UseReferenceBackend {
 public:
  UseReferenceBackend();
  ~UseReferenceBackend();
  UseReferenceBackend(const UseReferenceBackend&) = delete;
  UseReferenceBackend& operator=(const UseReferenceBackend&) = delete;

 private:
  bool prev_;
};

/// While alive, ops on this thread run their checks and shape rules only: every tensor they
/// make is a meta tensor (Tensor::is_meta: device, shape and dtype, no memory) and every kernel
/// goes to the meta backend, which computes nothing. Errors are raised as in a real run. In-place
/// writes to real tensors do nothing; reading a real tensor (item, to_vector) gives its values,
/// reading a meta one gives zeros. Symbolic layer calls run in one (nn::Layer::
/// compute_output_shapes); nestable, and it wins over UseReferenceBackend.
class MetaScope {
 public:
  MetaScope();
  ~MetaScope();
  MetaScope(const MetaScope&) = delete;
  MetaScope& operator=(const MetaScope&) = delete;

 private:
  bool prev_;
};

/// While alive, suspends an enclosing MetaScope on this thread: ops compute again (a layer
/// builds its weights under one, even when first called symbolically).
class NoMetaScope {
 public:
  NoMetaScope();
  ~NoMetaScope();
  NoMetaScope(const NoMetaScope&) = delete;
  NoMetaScope& operator=(const NoMetaScope&) = delete;

 private:
  bool prev_;
};

/// Whether a MetaScope is active on this thread.
bool in_meta_scope();

}  // namespace tg
