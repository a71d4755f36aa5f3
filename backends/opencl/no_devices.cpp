// The OpenCL device list of a build without the OpenCL backend (-Dopencl=disabled, or OpenCL or
// CLBlast not found): there are none, as on a machine without an OpenCL platform.
#include "tapegrad/backends/opencl/opencl_devices.hpp"

namespace tg {

std::vector<OpenClDeviceInfo> opencl_devices() { return {}; }

}  // namespace tg
