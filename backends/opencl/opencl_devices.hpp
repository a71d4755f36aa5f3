// The OpenCL platforms and devices of this machine, as Device::opencl(i) numbers them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

/// Description of one OpenCL device.
struct OpenClDeviceInfo {
  int index = 0;                 ///< i in Device::opencl(i): devices of all platforms, in order
  std::string platform;          ///< platform name ("Portable Computing Language")
  std::string platform_version;  ///< "OpenCL 3.0 PoCL 3.1 ..."
  std::string name;              ///< device name
  std::string vendor;            ///< device vendor
  std::string type;              ///< "CPU", "GPU", "accelerator" or "other"
  std::string version;           ///< device OpenCL version
  std::string driver_version;    ///< driver version
  uint64_t global_memory = 0;    ///< bytes of global memory
  uint64_t max_allocation = 0;   ///< largest single buffer, in bytes
  uint64_t local_memory = 0;     ///< bytes of local memory per compute unit
  uint32_t compute_units = 0;    ///< parallel compute units
  uint32_t max_clock_mhz = 0;    ///< maximum clock frequency
  uint64_t max_work_group = 0;   ///< largest work-group size
  bool fp64 = false;             ///< cl_khr_fp64: float64 kernels available
};

/// Every OpenCL device of every platform, in the order Device::opencl(i) numbers them. Empty
/// when no OpenCL platform is installed (no ICD, or the loader finds none).
std::vector<OpenClDeviceInfo> opencl_devices();

}  // namespace tg
