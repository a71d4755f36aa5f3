// Caching allocator: size classes, free lists and statistics.
#include "tapegrad/core/allocator.hpp"

#include <bit>
#include <cstdlib>
#include <new>

#include "tapegrad/core/backend.hpp"
#include "tapegrad/core/error.hpp"
#include "tapegrad/core/registry.hpp"

namespace tg {

CachingAllocator::~CachingAllocator() { release_cache(); }

size_t CachingAllocator::size_class(size_t bytes) {
  if (bytes <= 64) return 64;
  // Powers of two with four steps each: waste stays under 25%.
  size_t p = std::bit_floor(bytes);
  if (p == bytes) return bytes;
  size_t step = std::max<size_t>(p / 4, 64);
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes, size_t* cls) {
  size_t c = size_class(bytes);
  *cls = c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(c);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= c;
      stats_.allocated_bytes += c;
      stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.allocated_bytes);
      ++stats_.cache_hits;
      return p;
    }
  }
  void* p = raw_.alloc(c, raw_.ctx);
  if (!p) {
    release_cache();  // try once more with the cache given back
    p = raw_.alloc(c, raw_.ctx);
    if (!p) fail<BackendError>("allocate: out of memory on ", device_, " (", c, " bytes)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.allocated_bytes += c;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.allocated_bytes);
  ++stats_.device_allocs;
  return p;
}

void CachingAllocator::deallocate(void* ptr, size_t cls) {
  std::lock_guard<std::mutex> lock(mu_);
  free_[cls].push_back(ptr);
  stats_.allocated_bytes -= cls;
  stats_.cached_bytes += cls;
  ++stats_.frees;
}

void CachingAllocator::release_cache() {
  std::unordered_map<size_t, std::vector<void*>> blocks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    blocks.swap(free_);
    stats_.cached_bytes = 0;
  }
  for (auto& [cls, list] : blocks)
    for (void* p : list) raw_.free(p, raw_.ctx);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

CachingAllocator& cpu_allocator() {
  static CachingAllocator* a = new CachingAllocator(  // never destroyed: tensors may outlive main
      Device::cpu(), {[](size_t bytes, void*) -> void* { return std::aligned_alloc(64, bytes); },
                      [](void* p, void*) { std::free(p); }, nullptr});
  return *a;
}

AllocatorStats allocator_stats(Device d) { return device_backend(d).allocator().stats(); }
void release_cached_memory(Device d) { device_backend(d).allocator().release_cache(); }

}  // namespace tg
