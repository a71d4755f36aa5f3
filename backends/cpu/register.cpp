// Registers the oneDNN CPU backend as the backend of the CPU (called by the generated
// backends/builtin_backends.cpp when the build has oneDNN).
#include "tapegrad/backends/cpu/cpu_backend.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

void register_cpu_backend() {
  register_backend(DeviceType::CPU, [](int) -> Backend* { return &cpu_backend(); });
}

}  // namespace tg
