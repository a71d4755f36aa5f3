// Storage: a block from the caching allocator.
#include "tapegrad/core/storage.hpp"

namespace tg {

Storage::Storage(CachingAllocator& allocator, size_t bytes)
    : allocator_(&allocator), cls_(0), data_(allocator.allocate(bytes, &cls_)), nbytes_(bytes) {}

Storage::~Storage() { allocator_->deallocate(data_, cls_); }

}  // namespace tg
