// Thread-local free lists by 16-byte size class.
#include "tapegrad/core/pool.hpp"

#include <cstdlib>
#include <new>

namespace tg::detail {

namespace {
constexpr size_t kClasses = kPoolMaxBytes / 16;
constexpr size_t kMaxCached = 4096;  // blocks kept per class and thread

struct FreeBlock {
  FreeBlock* next;
};
struct Lists {
  FreeBlock* head[kClasses] = {};
  size_t count[kClasses] = {};
  bool alive = true;
  ~Lists() {
    alive = false;
    for (size_t c = 0; c < kClasses; ++c)
      while (head[c]) {
        FreeBlock* b = head[c];
        head[c] = b->next;
        std::free(b);
      }
  }
};
[[gnu::tls_model("initial-exec")]] thread_local Lists t_lists;
size_t class_of(size_t bytes) { return (bytes + 15) / 16 - 1; }
}  // namespace

void* pool_get(size_t bytes) {
  const size_t c = class_of(bytes);
  FreeBlock* b = t_lists.head[c];
  if (b) {
    t_lists.head[c] = b->next;
    --t_lists.count[c];
    return b;
  }
  void* p = std::malloc((c + 1) * 16);
  if (!p) throw std::bad_alloc();
  return p;
}

void pool_put(void* p, size_t bytes) noexcept {
  const size_t c = class_of(bytes);
  if (!t_lists.alive || t_lists.count[c] >= kMaxCached) {
    std::free(p);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = t_lists.head[c];
  t_lists.head[c] = b;
  ++t_lists.count[c];
}

}  // namespace tg::detail
