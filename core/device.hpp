// Where a tensor's storage lives: the CPU or an OpenCL device.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace tg {

/// Kind of device.
enum class DeviceType : uint8_t { CPU, OpenCL };
/// Number of device types (for tables indexed by DeviceType).
inline constexpr size_t kDeviceTypeCount = 2;

/// A device: a type and an index ("cpu", "opencl:0").
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  /// The host CPU.
  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  /// The OpenCL device with this index.
  static constexpr Device opencl(int i = 0) { return {DeviceType::OpenCL, i}; }
  /// Parses "cpu", "opencl", "opencl:1"; throws DeviceError otherwise.
  static Device parse(std::string_view s);
  /// "cpu" or "opencl:N".
  std::string str() const;
  friend bool operator==(const Device&, const Device&) = default;
};
std::ostream& operator<<(std::ostream& os, const Device& d);

/// The device creation functions use when TensorOptions names none: the TG_DEVICE environment
/// variable ("cpu", "opencl", "opencl:1") when set, else the CPU.
Device default_device();
/// Sets the default device for this process (overrides TG_DEVICE).
void set_default_device(Device d);

}  // namespace tg
