#include "caching_allocator.h"

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace gpcnn {

namespace {

// Sizes are rounded so that similar requests share blocks: 512 bytes for small
// blocks, 64 KiB above 1 MiB (at most about 6% waste).
size_t block_size(size_t bytes) {
  const size_t granule = bytes < (size_t{1} << 20) ? 512 : size_t{1} << 16;
  return (bytes + granule - 1) / granule * granule;
}

}  // namespace

// A block handed out: the caller's bytes start `guard` bytes into it.
class CachingAllocator::PooledBuffer final : public Buffer {
 public:
  PooledBuffer(void* block, size_t bytes, size_t size, std::shared_ptr<Pool> pool)
      : Buffer(static_cast<char*>(block) + pool->guards.bytes, bytes), block_(block), size_(size),
        pool_(std::move(pool)) {}
  ~PooledBuffer() override { pool_->release({block_, size_, bytes()}); }

 private:
  void* block_;
  size_t size_;
  std::shared_ptr<Pool> pool_;
};

void CachingAllocator::Pool::release(const Block& block) {
  try {  // called from destructors: must not throw
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (parking && !closed) {
        parked.push_back(block);
        return;
      }
    }
    if (guards.bytes) {
      const char* tail = static_cast<const char*>(block.data) + guards.bytes + block.bytes;
      const bool intact = guards.intact(block.data, guards.bytes) &&
                          guards.intact(tail, block.size - guards.bytes - block.bytes);
      if (!intact) {
        std::lock_guard<std::mutex> lock(mutex);
        ++violations;
      }
    }
    give_back(block.data, block.size);
  } catch (...) {
    raw_free(block.data);
    counter->unreserve(block.size, true);
  }
}

void CachingAllocator::Pool::give_back(void* data, size_t size) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!closed && idle_bytes + size <= max_cached_bytes) {
      idle.emplace(size, data);
      idle_bytes += size;
      if (!idle_blocks_in_use) counter->idle(size);
      return;
    }
  }
  raw_free(data);
  counter->unreserve(size, true);
}

void CachingAllocator::Pool::free_all_idle() {
  std::multimap<size_t, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(mutex);
    blocks.swap(idle);
    idle_bytes = 0;
  }
  for (const auto& [size, block] : blocks) {
    raw_free(block);
    counter->unreserve(size, idle_blocks_in_use);
  }
}

CachingAllocator::CachingAllocator(RawAllocate allocate, RawFree free, size_t max_cached_bytes,
                                   const char* oom_code, const char* memory_name, Guards guards,
                                   bool idle_blocks_in_use, std::shared_ptr<MemoryCounter> counter)
    : pool_(std::make_shared<Pool>()), oom_code_(oom_code), memory_name_(memory_name) {
  pool_->counter = counter ? std::move(counter) : std::make_shared<MemoryCounter>();
  pool_->idle_blocks_in_use = idle_blocks_in_use;
  pool_->guards = std::move(guards);
  pool_->raw_allocate = std::move(allocate);
  pool_->raw_free = std::move(free);
  pool_->max_cached_bytes = max_cached_bytes;
}

CachingAllocator::~CachingAllocator() {
  {
    std::lock_guard<std::mutex> lock(pool_->mutex);
    pool_->closed = true;
  }
  pool_->free_all_idle();
}

std::shared_ptr<Buffer> CachingAllocator::allocate(size_t bytes) {
  const size_t guard = pool_->guards.bytes;
  const size_t size = block_size((bytes == 0 ? 1 : bytes) + 2 * guard);
  void* data = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_->mutex);
    auto found = pool_->idle.find(size);
    if (found != pool_->idle.end()) {
      data = found->second;
      pool_->idle.erase(found);
      pool_->idle_bytes -= size;
      if (!pool_->idle_blocks_in_use) pool_->counter->reuse(size);
    }
  }
  if (!data) {
    data = pool_->raw_allocate(size);
    if (!data && !pool_->idle_blocks_in_use) {
      // Idle blocks of other sizes may be what stands in the way.
      pool_->free_all_idle();
      data = pool_->raw_allocate(size);
    }
    if (!data) fail(oom_code_, "out of ", memory_name_, " memory: could not allocate ", bytes, " bytes");
    pool_->counter->reserve(size, true);
  }
  try {
    if (guard) {
      pool_->guards.fill(data, guard);
      pool_->guards.fill(static_cast<char*>(data) + guard + bytes, size - guard - bytes);
      if (pool_->guards.unwritten) pool_->guards.unwritten(static_cast<char*>(data) + guard, bytes);
    }
    return std::make_shared<PooledBuffer>(data, bytes, size, pool_);
  } catch (...) {
    pool_->give_back(data, size);  // no buffer holds the block: back to the pool, counted as idle
    throw;
  }
}

void CachingAllocator::release_cached() { pool_->free_all_idle(); }

void CachingAllocator::start_parking() {
  std::lock_guard<std::mutex> lock(pool_->mutex);
  pool_->parking = true;
}

CachingAllocator::Parked CachingAllocator::stop_parking() {
  Parked parked;
  parked.pool_ = pool_;
  std::lock_guard<std::mutex> lock(pool_->mutex);
  pool_->parking = false;
  parked.blocks_ = std::exchange(pool_->parked, {});
  return parked;
}

CachingAllocator::Parked::~Parked() {
  for (const Block& block : blocks_) pool_->release(block);
}

size_t CachingAllocator::guard_bytes_requested(size_t bytes) {
  const char* setting = std::getenv("GATED_PIXELCNN_GUARDS");
  return setting && std::string(setting) == "1" ? bytes : 0;
}

size_t CachingAllocator::guard_violations() const {
  std::lock_guard<std::mutex> lock(pool_->mutex);
  return pool_->violations;
}

}  // namespace gpcnn
