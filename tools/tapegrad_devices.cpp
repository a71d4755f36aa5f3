// tapegrad-devices: lists the OpenCL platforms and devices tapegrad can run on.
#include <cstdio>
#include <string>

#include <tapegrad/backends/opencl/opencl_devices.hpp>

namespace {
std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }
}  // namespace

int main() {
  const std::vector<tg::OpenClDeviceInfo> devices = tg::opencl_devices();
  std::printf("cpu          host CPU (oneDNN backend)\n");
  if (devices.empty()) {
    std::printf(
        "no OpenCL platform or device found (is an OpenCL ICD such as pocl-opencl-icd "
        "installed?)\n");
    return 0;
  }
  std::string platform;
  for (const tg::OpenClDeviceInfo& d : devices) {
    if (d.platform != platform) {
      platform = d.platform;
      std::printf("\nplatform: %s (%s)\n", d.platform.c_str(), d.platform_version.c_str());
    }
    std::printf("  opencl:%d  %s [%s, %s]\n", d.index, d.name.c_str(), d.type.c_str(),
                d.vendor.c_str());
    std::printf("            %s, driver %s\n", d.version.c_str(), d.driver_version.c_str());
    std::printf("            memory %s (largest buffer %s), local memory %s\n",
                mib(d.global_memory).c_str(), mib(d.max_allocation).c_str(),
                (std::to_string(d.local_memory >> 10) + " KiB").c_str());
    std::printf("            %u compute units at %u MHz, work groups up to %llu\n", d.compute_units,
                d.max_clock_mhz, static_cast<unsigned long long>(d.max_work_group));
    std::printf("            float64: %s\n", d.fp64 ? "yes (cl_khr_fp64)" : "no");
  }
  return 0;
}
