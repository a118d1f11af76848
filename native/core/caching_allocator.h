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
#include <utility>
#include <vector>

#include "memory_usage.h"
#include "tensor.h"

namespace gpcnn {

// Optional guard regions around every block, to catch writes past a tensor's ends:
// `fill` writes a known pattern, `intact` checks it when the block is freed. With
// guards on, `unwritten` also fills every block handed out with bytes that read as
// NaN, so that an op reading memory it never wrote gets results that show it.
struct AllocatorGuards {
  size_t bytes = 0;  // 0: no guards
  std::function<void(void*, size_t)> fill;
  std::function<bool(const void*, size_t)> intact;
  std::function<void(void*, size_t)> unwritten;
};

// What `unwritten` writes: NaN as float32, −1 as int32, 255 as uint8.
constexpr unsigned char kUnwrittenByte = 0xFF;

class CachingAllocator {
 public:
  using RawAllocate = std::function<void*(size_t)>;  // returns nullptr when out of memory
  using RawFree = std::function<void(void*)>;

  // Guard regions of `bytes` when GATED_PIXELCNN_GUARDS=1 (tests set it), else none.
  static size_t guard_bytes_requested(size_t bytes);

  using Guards = AllocatorGuards;

  // Idle blocks beyond max_cached_bytes are freed instead of kept. When memory runs
  // out, allocate() throws an Error with `oom_code`, naming the size asked for.
  // With idle_blocks_in_use, idle blocks still belong to the allocator's owner (a CUDA
  // graph, which replays into them): running out of memory throws at once instead of
  // first freeing them, and they count as allocated. Blocks count into `counter`:
  // another allocator's, to count both as one, or one of its own where null.
  CachingAllocator(RawAllocate allocate, RawFree free, size_t max_cached_bytes,
                   const char* oom_code, const char* memory_name, Guards guards = {},
                   bool idle_blocks_in_use = false, std::shared_ptr<MemoryCounter> counter = nullptr);
  ~CachingAllocator();

  // Throws when the memory cannot be had even after emptying the pool.
  std::shared_ptr<Buffer> allocate(size_t bytes);
  void release_cached();  // frees every idle block
  // Blocks freed with a damaged guard region since the allocator was made.
  size_t guard_violations() const;
  const std::shared_ptr<MemoryCounter>& memory() const { return pool_->counter; }

  // While a CUDA graph is captured, blocks freed are parked instead of pooled: the
  // graph may still use them when replayed, so nothing else may have them while it
  // lives. Their guard regions are checked when they come back, not in the capture
  // (the check reads the device back). The graph's owner keeps the Parked; destroying
  // it hands them back.
  class Parked;
  void start_parking();
  Parked stop_parking();  // the blocks freed since start_parking()

 private:
  struct Block {
    void* data;
    size_t size;   // the whole block
    size_t bytes;  // the caller's part, `guard` bytes into it
  };
  // Shared with every live buffer, so a buffer freed after the allocator still finds its pool.
  struct Pool {
    RawAllocate raw_allocate;
    RawFree raw_free;
    size_t max_cached_bytes;
    mutable std::mutex mutex;
    std::multimap<size_t, void*> idle;  // block size -> block
    size_t idle_bytes = 0;
    bool closed = false;  // the allocator is gone: free blocks instead of pooling them
    bool parking = false;
    std::vector<Block> parked;
    bool idle_blocks_in_use = false;
    Guards guards;
    size_t violations = 0;
    std::shared_ptr<MemoryCounter> counter;

    // A block no buffer uses any more: parked, or checked and pooled (or freed).
    void release(const Block& block);
    void give_back(void* data, size_t size);
    void free_all_idle();
  };
  class PooledBuffer;

  std::shared_ptr<Pool> pool_;
  const char* oom_code_;
  const char* memory_name_;
};

class CachingAllocator::Parked {
 public:
  Parked() = default;
  Parked(Parked&& other) noexcept : pool_(std::move(other.pool_)), blocks_(std::exchange(other.blocks_, {})) {}
  Parked& operator=(Parked&&) = delete;
  ~Parked();

 private:
  friend class CachingAllocator;
  std::shared_ptr<Pool> pool_;
  std::vector<Block> blocks_;
};

}  // namespace gpcnn
