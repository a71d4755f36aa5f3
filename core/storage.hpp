// A block of device memory shared by a tensor and its views, with the version counter.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tapegrad/core/allocator.hpp"
#include "tapegrad/core/device.hpp"

namespace tg {

/// Memory of one or more tensors (a tensor and its views share one Storage). Returned to the
/// device's caching allocator when the last tensor using it goes away.
class Storage {
 public:
  /// Allocates bytes from allocator.
  Storage(CachingAllocator& allocator, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  /// Device pointer (host pointer on the CPU, a cl_mem on OpenCL).
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return allocator_->device(); }
  /// Bumped by every in-place write; saved tensors compare it at backward.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  CachingAllocator* allocator_;
  size_t cls_ = 0;  // declared before data_: allocate() writes it during data_'s initialisation
  void* data_;
  size_t nbytes_;
  uint64_t version_ = 0;
};

}  // namespace tg
