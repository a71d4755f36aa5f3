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
/// Registers the backend serving a device type (used by backends at start-up).
void register_backend(DeviceType type, Backend* (*factory)(int index));

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
