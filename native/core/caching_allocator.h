// A caching allocator: freed blocks go to a pool keyed by size and are handed out
// again, so a training step that allocates the same shapes every time stops
// paying for fresh memory (page faults on the host, cudaMalloc on a GPU).
// Each backend gives it the raw allocate / free functions of its memory.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "tensor.h"

namespace gpcnn {

class CachingAllocator {
 public:
  using RawAllocate = std::function<void*(size_t)>;  // returns nullptr when out of memory
  using RawFree = std::function<void(void*)>;

  // Idle blocks beyond max_cached_bytes are freed instead of kept. When memory runs
  // out, allocate() throws an Error with `oom_code`, naming the size asked for.
  CachingAllocator(RawAllocate allocate, RawFree free, size_t max_cached_bytes,
                   const char* oom_code, const char* memory_name);
  ~CachingAllocator();

  // Throws when the memory cannot be had even after emptying the pool.
  std::shared_ptr<Buffer> allocate(size_t bytes);
  void release_cached();  // frees every idle block
  size_t cached_bytes() const;

 private:
  // Shared with every live buffer, so a buffer freed after the allocator still finds its pool.
  struct Pool {
    RawAllocate raw_allocate;
    RawFree raw_free;
    size_t max_cached_bytes;
    mutable std::mutex mutex;
    std::multimap<size_t, void*> idle;  // block size -> block
    size_t idle_bytes = 0;
    bool closed = false;  // the allocator is gone: free blocks instead of pooling them

    void give_back(void* data, size_t size);
    void free_all_idle();
  };
  class PooledBuffer;

  std::shared_ptr<Pool> pool_;
  const char* oom_code_;
  const char* memory_name_;
};

}  // namespace gpcnn
