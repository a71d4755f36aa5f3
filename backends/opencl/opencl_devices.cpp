// Listing of the OpenCL devices of this machine.
#include "tapegrad/backends/opencl/opencl_devices.hpp"

#include "tapegrad/backends/opencl/opencl_runtime.hpp"

namespace tg {

std::vector<OpenClDeviceInfo> opencl_devices() {
  std::vector<OpenClDeviceInfo> out;
  const auto ids = opencl::enumerate_devices();
  for (size_t i = 0; i < ids.size(); ++i)
    out.push_back(opencl::describe_device(static_cast<int>(i), ids[i].first, ids[i].second));
  return out;
}

}  // namespace tg
