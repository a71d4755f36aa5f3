// Picks the backend that runs kernels for a device.
#pragma once
#include <memory>

#include "tapegrad/core/device.hpp"

namespace tg {

class Backend;

/// The backend that runs kernels for tensors on device d (oneDNN for the CPU).
/// Throws DeviceError when no backend serves the device.
Backend& backend_for(Device d);
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

}  // namespace tg
