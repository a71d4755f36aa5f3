// Parsing and printing of Device.
#include "tapegrad/core/device.hpp"

#include <charconv>
#include <cstdlib>
#include <mutex>

#include "tapegrad/core/error.hpp"

namespace tg {

Device Device::parse(std::string_view s) {
  if (s == "cpu") return cpu();
  if (s.starts_with("opencl")) {
    if (s.size() == 6) return opencl(0);
    if (s[6] == ':') {
      int i = 0;
      auto r = std::from_chars(s.data() + 7, s.data() + s.size(), i);
      if (r.ec == std::errc() && r.ptr == s.data() + s.size() && i >= 0) return opencl(i);
    }
  }
  fail<DeviceError>("Device: cannot parse '", s, "' (expected cpu, opencl or opencl:N)");
}

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "opencl:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

namespace {
struct DefaultDevice {
  std::mutex mu;
  bool set = false;
  Device device;
};
DefaultDevice& default_state() {
  static DefaultDevice d;
  return d;
}
}  // namespace

Device default_device() {
  DefaultDevice& d = default_state();
  std::lock_guard<std::mutex> lock(d.mu);
  if (!d.set) {
    const char* env = std::getenv("TG_DEVICE");
    d.device = env && *env ? Device::parse(env) : Device::cpu();
    d.set = true;
  }
  return d.device;
}

void set_default_device(Device dev) {
  DefaultDevice& d = default_state();
  std::lock_guard<std::mutex> lock(d.mu);
  d.device = dev;
  d.set = true;
}

}  // namespace tg
