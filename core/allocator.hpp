// A caching allocator per device: freed blocks are kept by size class and handed out again.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tapegrad/core/device.hpp"

namespace tg {

/// Counters of one device's caching allocator.
struct AllocatorStats {
  size_t allocated_bytes = 0;  ///< bytes handed out and not yet returned
  size_t cached_bytes = 0;     ///< bytes held in free lists, ready for reuse
  size_t peak_bytes = 0;       ///< high-water mark of allocated_bytes
  uint64_t device_allocs = 0;  ///< times fresh memory was requested from the device
  uint64_t cache_hits = 0;     ///< times a cached block was reused
  uint64_t frees = 0;          ///< blocks returned to the cache
};

/// Caching allocator: allocate() rounds the size up to a size class and reuses a freed block of
/// that class when one is cached, so a steady-state training loop maps no new memory.
class CachingAllocator {
 public:
  /// Raw device allocation functions; the CPU uses aligned host memory.
  struct Raw {
    void* (*alloc)(size_t bytes, void* ctx);
    void (*free)(void* ptr, void* ctx);
    void* ctx;
  };
  CachingAllocator(Device device, Raw raw) : device_(device), raw_(raw) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  /// Returns a block of at least bytes (size-class rounded); the size class is written to *cls.
  void* allocate(size_t bytes, size_t* cls);
  /// Returns a block of size class cls to the cache.
  void deallocate(void* ptr, size_t cls);
  /// Frees every cached block back to the device.
  void release_cache();
  /// Current counters.
  AllocatorStats stats() const;
  /// The size class a request of bytes is rounded to.
  static size_t size_class(size_t bytes);
  Device device() const { return device_; }

 private:
  Device device_;
  Raw raw_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

/// The caching allocator of the host CPU.
CachingAllocator& cpu_allocator();
/// Statistics of the allocator of a device.
AllocatorStats allocator_stats(Device d = Device::cpu());
/// Releases the cached blocks of a device's allocator.
void release_cached_memory(Device d = Device::cpu());

}  // namespace tg
