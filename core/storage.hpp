// A block of device memory shared by a tensor and its views, with the version counter.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tapegrad/core/allocator.hpp"
#include "tapegrad/core/device.hpp"

namespace tg {

/// Memory of one or more tensors (a tensor and its views share one Storage). Returned to the
/// device's caching allocator when the last tensor using it goes away.
///
/// A storage made inside a MetaScope (core/registry.hpp) is a meta storage: it knows its device
/// and size but holds no memory, and is_meta() is true. If such a tensor escapes the scope and
/// a kernel later asks for its data, the memory is allocated then (zero-filled on the CPU,
/// unspecified like Tensor::empty elsewhere), so a stray meta tensor is never a dangling
/// pointer.
class Storage {
 public:
  /// Allocates bytes from allocator.
  Storage(CachingAllocator& allocator, size_t bytes);
  /// Tag of the meta constructor.
  struct Meta {};
  /// A meta storage of bytes on device: no memory until data() is first called.
  Storage(Meta, Device device, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  /// Device pointer (host pointer on the CPU, a cl_mem on OpenCL); allocates a meta storage's
  /// memory on first use.
  void* data() const {
    void* p = data_.load(std::memory_order_acquire);
    return p ? p : materialize();
  }
  /// Whether the storage has no memory yet (made in a MetaScope and not used by a kernel since).
  bool is_meta() const { return data_.load(std::memory_order_acquire) == nullptr; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  /// Bumped by every in-place write; saved tensors compare it at backward.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* materialize() const;

  mutable CachingAllocator* allocator_;
  mutable size_t cls_ = 0;
  mutable std::atomic<void*> data_;
  size_t nbytes_;
  Device device_;
  uint64_t version_ = 0;
};

}  // namespace tg
