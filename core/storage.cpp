// Storage: a block from the caching allocator, or a meta storage that gets one on first use.
#include "tapegrad/core/storage.hpp"

#include <cstring>
#include <mutex>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

Storage::Storage(CachingAllocator& allocator, size_t bytes)
    : allocator_(&allocator), nbytes_(bytes), device_(allocator.device()) {
  data_.store(allocator.allocate(bytes, &cls_), std::memory_order_relaxed);
}

Storage::Storage(Meta, Device device, size_t bytes)
    : allocator_(nullptr), data_(nullptr), nbytes_(bytes), device_(device) {}

Storage::~Storage() {
  if (void* p = data_.load(std::memory_order_relaxed)) allocator_->deallocate(p, cls_);
}

void* Storage::materialize() const {
  static std::mutex mu;  // two threads touching the same stray meta tensor allocate once
  std::lock_guard<std::mutex> lock(mu);
  if (void* p = data_.load(std::memory_order_acquire)) return p;
  CachingAllocator& a = device_backend(device_).allocator();
  size_t cls = 0;
  void* p = a.allocate(nbytes_, &cls);
  if (device_.type == DeviceType::CPU) std::memset(p, 0, nbytes_);
  allocator_ = &a;
  cls_ = cls;
  data_.store(p, std::memory_order_release);
  return p;
}

}  // namespace tg
