// Registers the OpenCL backend for DeviceType::OpenCL (called by the generated
// backends/builtin_backends.cpp when the build has OpenCL and CLBlast).
#include "tapegrad/backends/opencl/opencl_backend.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

void register_opencl_backend() { register_backend(DeviceType::OpenCL, opencl_backend_factory); }

}  // namespace tg
