// Registers the reference loops as the backend of the CPU (called by the generated
// backends/builtin_backends.cpp when the build has no oneDNN: -Donednn=disabled).
#include "tapegrad/backends/reference/reference_backend.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

void register_reference_cpu_backend() {
  register_backend(DeviceType::CPU, [](int) -> Backend* { return &reference_backend(); });
}

}  // namespace tg
