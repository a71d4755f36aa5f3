// A thread-local free-list pool for the small objects made per op (tensor handles, storages,
// tape nodes), used through allocate_shared so that an eager op costs no malloc/free.
#pragma once
#include <cstddef>
#include <memory>

namespace tg::detail {

/// Takes a block of `bytes` (≤ kPoolMaxBytes) from this thread's free list, or from malloc.
void* pool_get(size_t bytes);
/// Returns a block taken with pool_get(bytes).
void pool_put(void* p, size_t bytes) noexcept;
inline constexpr size_t kPoolMaxBytes = 512;

/// std-style allocator over the pool (single objects; arrays fall back to operator new).
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() noexcept = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    if (n == 1 && sizeof(T) <= kPoolMaxBytes) return static_cast<T*>(pool_get(sizeof(T)));
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) noexcept {
    if (n == 1 && sizeof(T) <= kPoolMaxBytes)
      pool_put(p, sizeof(T));
    else
      std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

/// make_shared through the pool.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>(), std::forward<Args>(args)...);
}

}  // namespace tg::detail
