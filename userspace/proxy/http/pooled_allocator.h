// The allocator of the proxy's HTTP header fields. Beast's basic_fields
// allocates every field as a block of its own, so a request and its response
// cost a dozen malloc/free pairs (docs/benchmarks.md, L7: ALLOCS=1). This
// allocator keeps freed small blocks in per-thread lists by size class and
// hands them out again; with one worker per thread, a worker's messages
// reuse the blocks of the messages before them. It is stateless (all
// instances are equal), so messages move and swap freely; a block freed on
// another thread simply joins that thread's lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace sluice::proxy {

namespace detail {

class SmallBlockCache {
 public:
  static constexpr size_t kClassBytes = 64;
  static constexpr size_t kClasses = 8;       // blocks up to 512 bytes are kept
  static constexpr uint32_t kMaxKept = 512;   // per class: a burst's blocks go back to malloc

  SmallBlockCache() = default;
  SmallBlockCache(const SmallBlockCache&) = delete;
  SmallBlockCache& operator=(const SmallBlockCache&) = delete;
  ~SmallBlockCache() {
    for (Block*& head : free_) {
      while (head) ::operator delete(std::exchange(head, head->next));
    }
  }

  void* allocate(size_t bytes) {
    const size_t c = size_class(bytes);
    if (c >= kClasses) return ::operator new(bytes);
    if (Block* b = free_[c]) {
      free_[c] = b->next;
      --kept_[c];
      return b;
    }
    return ::operator new((c + 1) * kClassBytes);
  }

  void deallocate(void* p, size_t bytes) noexcept {
    const size_t c = size_class(bytes);
    if (c >= kClasses || kept_[c] >= kMaxKept) {
      ::operator delete(p);
      return;
    }
    free_[c] = new (p) Block{free_[c]};
    ++kept_[c];
  }

  static SmallBlockCache& mine() {
    thread_local SmallBlockCache cache;
    return cache;
  }

 private:
  struct Block {
    Block* next;
  };
  static size_t size_class(size_t bytes) { return bytes == 0 ? 0 : (bytes - 1) / kClassBytes; }

  Block* free_[kClasses] = {};
  uint32_t kept_[kClasses] = {};
};

}  // namespace detail

template <class T>
class PooledAllocator {
 public:
  using value_type = T;
  PooledAllocator() noexcept = default;
  template <class U>
  PooledAllocator(const PooledAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    static_assert(alignof(T) <= alignof(std::max_align_t), "blocks are only malloc-aligned");
    return static_cast<T*>(detail::SmallBlockCache::mine().allocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { detail::SmallBlockCache::mine().deallocate(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const PooledAllocator<U>&) const noexcept { return true; }
};

}  // namespace sluice::proxy
