// How much memory a backend holds, as PyTorch's torch.cuda.memory_allocated() and
// memory_reserved() say it: `allocated` is the blocks live tensors (and workspaces,
// and captured work) use, `reserved` those plus the idle blocks kept for reuse, and
// each has a high-water mark since the last reset_peaks(). Sizes are whole blocks, as
// the allocator takes them from the device or the host. Every allocator of a backend
// (its pool, and the graphs' own) counts into one MemoryCounter.
#pragma once

#include <algorithm>
#include <cstddef>
#include <mutex>

namespace gpcnn {

struct MemoryUsage {
  size_t allocated = 0, reserved = 0, peak_allocated = 0, peak_reserved = 0;
  // Convolution plans the backend keeps for shapes it met (a count: their primitives,
  // descriptors and chosen algorithms hold no memory from the pool).
  size_t cached_plans = 0;
};

class MemoryCounter {
 public:
  // A block taken from the device or the host (`in_use`: straight to a caller).
  void reserve(size_t bytes, bool in_use) {
    std::lock_guard<std::mutex> lock(mutex_);
    usage_.reserved += bytes;
    if (in_use) usage_.allocated += bytes;
    note_peaks();
  }
  // A block given back to the device or the host (`in_use`: by its last user).
  void unreserve(size_t bytes, bool in_use) {
    std::lock_guard<std::mutex> lock(mutex_);
    usage_.reserved -= bytes;
    if (in_use) usage_.allocated -= bytes;
  }
  // An idle block handed out again.
  void reuse(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    usage_.allocated += bytes;
    note_peaks();
  }
  // A block its last user let go of, kept idle.
  void idle(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    usage_.allocated -= bytes;
  }

  MemoryUsage usage() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return usage_;
  }
  // The peaks start again from what is held now.
  void reset_peaks() {
    std::lock_guard<std::mutex> lock(mutex_);
    usage_.peak_allocated = usage_.allocated;
    usage_.peak_reserved = usage_.reserved;
  }

 private:
  void note_peaks() {
    usage_.peak_allocated = std::max(usage_.peak_allocated, usage_.allocated);
    usage_.peak_reserved = std::max(usage_.peak_reserved, usage_.reserved);
  }

  mutable std::mutex mutex_;
  MemoryUsage usage_;
};

}  // namespace gpcnn
