// The caching allocator: size classes, reuse of freed blocks, statistics and release.
#include <cstdlib>
#include <vector>

#include "test_util.hpp"

using namespace tg;

namespace {
/// Raw allocation functions that count their calls (for a private CachingAllocator).
struct CountingRaw {
  int allocs = 0;
  int frees = 0;
  std::vector<size_t> sizes;
  static void* alloc(size_t bytes, void* ctx) {
    auto* self = static_cast<CountingRaw*>(ctx);
    ++self->allocs;
    self->sizes.push_back(bytes);
    return std::malloc(bytes);
  }
  static void free(void* p, void* ctx) {
    ++static_cast<CountingRaw*>(ctx)->frees;
    std::free(p);
  }
  CachingAllocator::Raw raw() { return {&CountingRaw::alloc, &CountingRaw::free, this}; }
};
}  // namespace

TEST_CASE("size_class rounds up to 64 bytes, powers of two and quarter steps", "[allocator]") {
  CHECK(CachingAllocator::size_class(1) == 64);
  CHECK(CachingAllocator::size_class(64) == 64);
  CHECK(CachingAllocator::size_class(65) == 128);
  CHECK(CachingAllocator::size_class(100) == 128);
  CHECK(CachingAllocator::size_class(128) == 128);
  CHECK(CachingAllocator::size_class(129) == 192);
  CHECK(CachingAllocator::size_class(256) == 256);
  CHECK(CachingAllocator::size_class(257) == 320);
  CHECK(CachingAllocator::size_class(1000) == 1024);
  CHECK(CachingAllocator::size_class(1025) == 1280);
  CHECK(CachingAllocator::size_class(4096) == 4096);
  CHECK(CachingAllocator::size_class(5000) == 5120);
  CHECK(CachingAllocator::size_class(3u << 20) == (3u << 20));  // 3 MiB is a quarter step of 2 MiB
  CHECK(CachingAllocator::size_class((1u << 20) + 1) == (1u << 20) + (1u << 18));

  size_t prev = 0;
  for (size_t b = 1; b <= 70000; b += 7) {
    const size_t c = CachingAllocator::size_class(b);
    INFO("bytes " << b << " -> class " << c);
    REQUIRE(c >= b);
    REQUIRE(c >= prev);                             // monotone
    REQUIRE(CachingAllocator::size_class(c) == c);  // a class maps to itself
    if (b > 256)
      REQUIRE(static_cast<double>(c - b) < 0.25 * static_cast<double>(b));  // waste < 25%
    prev = c;
  }
}

TEST_CASE("a private CachingAllocator reuses freed blocks of the same class", "[allocator]") {
  CountingRaw counter;
  {
    CachingAllocator alloc(Device::cpu(), counter.raw());
    size_t cls = 0;
    void* a = alloc.allocate(100, &cls);
    CHECK(cls == 128);
    CHECK(counter.allocs == 1);
    CHECK(counter.sizes.back() == 128);
    AllocatorStats s = alloc.stats();
    CHECK(s.allocated_bytes == 128);
    CHECK(s.cached_bytes == 0);
    CHECK(s.device_allocs == 1);
    CHECK(s.cache_hits == 0);

    alloc.deallocate(a, cls);
    s = alloc.stats();
    CHECK(s.allocated_bytes == 0);
    CHECK(s.cached_bytes == 128);
    CHECK(s.frees == 1);
    CHECK(counter.frees == 0);  // kept, not returned to the device

    size_t cls2 = 0;
    void* b = alloc.allocate(120, &cls2);  // same class 128
    CHECK(cls2 == 128);
    CHECK(b == a);
    CHECK(counter.allocs == 1);
    s = alloc.stats();
    CHECK(s.cache_hits == 1);
    CHECK(s.device_allocs == 1);
    CHECK(s.cached_bytes == 0);

    size_t cls3 = 0;
    void* c = alloc.allocate(200, &cls3);  // class 256: a fresh block
    CHECK(cls3 == 256);
    CHECK(counter.allocs == 2);
    s = alloc.stats();
    CHECK(s.allocated_bytes == 384);
    CHECK(s.peak_bytes == 384);

    alloc.deallocate(b, cls2);
    alloc.deallocate(c, cls3);
    s = alloc.stats();
    CHECK(s.cached_bytes == 384);
    CHECK(s.allocated_bytes == 0);
    CHECK(s.peak_bytes == 384);

    alloc.release_cache();
    CHECK(counter.frees == 2);
    CHECK(alloc.stats().cached_bytes == 0);

    void* d = alloc.allocate(64, &cls);
    CHECK(counter.allocs == 3);  // nothing cached any more
    alloc.deallocate(d, cls);
  }
  // The destructor gives the cached block back.
  CHECK(counter.frees == 3);
}

TEST_CASE("freeing a tensor and allocating the same size hits the cache", "[allocator]") {
  const Shape shape{1000};                 // 4000 bytes, class 4096
  { Tensor warm = Tensor::empty(shape); }  // make sure one block of the class is cached
  const AllocatorStats s0 = allocator_stats();
  REQUIRE(s0.cached_bytes >= 4096);
  {
    Tensor t = Tensor::empty(shape);
    const AllocatorStats s1 = allocator_stats();
    CHECK(s1.cache_hits == s0.cache_hits + 1);
    CHECK(s1.device_allocs == s0.device_allocs);
    CHECK(s1.allocated_bytes == s0.allocated_bytes + 4096);
    CHECK(s1.cached_bytes == s0.cached_bytes - 4096);
    CHECK(s1.peak_bytes >= s1.allocated_bytes);
  }
  const AllocatorStats s2 = allocator_stats();
  CHECK(s2.frees == s0.frees + 1);
  CHECK(s2.allocated_bytes == s0.allocated_bytes);
  CHECK(s2.cached_bytes == s0.cached_bytes);

  // A view allocates nothing; the storage goes back only when the last user is gone.
  Tensor base = Tensor::empty({10, 100});
  const AllocatorStats s3 = allocator_stats();
  Tensor v = base.slice(0, 2, 5).t();
  base = Tensor();
  const AllocatorStats s4 = allocator_stats();
  CHECK(s4.frees == s3.frees);
  CHECK(s4.device_allocs == s3.device_allocs);
  CHECK(s4.cache_hits == s3.cache_hits);
  v = Tensor();
  CHECK(allocator_stats().frees == s3.frees + 1);
}

TEST_CASE("a steady-state training loop maps no new memory after warm-up", "[allocator]") {
  manual_seed(3);
  Tensor x = randn({16, 32});
  Tensor w = randn({32, 8}, {.requires_grad = true});
  Tensor b = zeros({8}, {.requires_grad = true});
  auto step = [&] {
    Tensor loss = sum(relu(add(matmul(x, w), b)));
    loss.backward();
    {
      NoGrad ng;
      w -= w.grad() * 0.01;
      b -= b.grad() * 0.01;
    }
    w.zero_grad();
    b.zero_grad();
    return loss.item<double>();
  };
  for (int i = 0; i < 3; ++i) step();
  const AllocatorStats s0 = allocator_stats();
  double last = 0;
  for (int i = 0; i < 25; ++i) last = step();
  const AllocatorStats s1 = allocator_stats();
  CHECK(s1.device_allocs == s0.device_allocs);
  CHECK(s1.cache_hits > s0.cache_hits);             // the loop does allocate, from the cache
  CHECK(s1.allocated_bytes == s0.allocated_bytes);  // and leaks nothing
  CHECK(std::isfinite(last));
}

TEST_CASE("release_cached_memory empties the cache", "[allocator]") {
  { Tensor t = Tensor::empty({256, 256}); }
  REQUIRE(allocator_stats().cached_bytes > 0);
  release_cached_memory();
  const AllocatorStats s0 = allocator_stats();
  CHECK(s0.cached_bytes == 0);
  // The next allocation has to come from the device.
  Tensor t = Tensor::empty({256, 256});
  const AllocatorStats s1 = allocator_stats();
  CHECK(s1.device_allocs == s0.device_allocs + 1);
  CHECK(s1.cache_hits == s0.cache_hits);
  // Live tensors are unaffected by a release.
  t.fill_(2.0);
  release_cached_memory();
  CHECK(t.to_vector<float>()[65535] == 2.0f);
}
