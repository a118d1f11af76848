// A value of type T borrowed from a process-wide pool and given back when the holder
// ends, with the memory it holds: the samplers' host copies of the weights and their
// arrangement (megabytes, filled at every call) reuse pages already faulted in instead
// of memory fresh from the system, whose first touch costs a page fault per 4 KiB. In
// a sandboxed host that was ~3 ms a MB (6 MB copied into fresh memory: 19 ms; into
// reused memory: 0.5 ms), much of a GPU batch's time. A few values are kept, none
// holding more than kKeptBytes: a larger model's copies go back to the system.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace gpcnn {

// The heap memory a value holds, which a pool keeps with it.
inline size_t held_bytes(const std::vector<float>& values) { return values.capacity() * sizeof(float); }
inline size_t held_bytes(const std::map<std::string, std::vector<float>>& named) {
  size_t bytes = 0;
  for (const auto& entry : named) bytes += held_bytes(entry.second);
  return bytes;
}

template <typename T>
class Recycled {
 public:
  Recycled() : value_(take()) {}
  Recycled(Recycled&& other) noexcept = default;
  Recycled& operator=(Recycled&& other) noexcept {
    if (this != &other) {
      give_back(std::move(value_));
      value_ = std::move(other.value_);
    }
    return *this;
  }
  Recycled(const Recycled&) = delete;
  Recycled& operator=(const Recycled&) = delete;
  ~Recycled() { give_back(std::move(value_)); }

  // Whatever the last holder left in it: the holder clears what it must.
  T& operator*() const { return *value_; }
  T* operator->() const { return value_.get(); }

 private:
  // Spare values kept: one per job that runs at once, a few at most, each holding at
  // most 64 MiB (the presets' weights take 6 to 10 MB).
  static constexpr size_t kKept = 4;
  static constexpr size_t kKeptBytes = size_t{64} << 20;

  struct Pool {
    Pool() { spare.reserve(kKept); }  // so that giving back never allocates
    std::mutex mutex;
    std::vector<std::unique_ptr<T>> spare;
  };
  static Pool& pool() {
    static Pool* shared = new Pool;  // never destroyed: holders may end during the process's exit
    return *shared;
  }
  static std::unique_ptr<T> take() {
    Pool& p = pool();
    const std::lock_guard<std::mutex> lock(p.mutex);
    if (p.spare.empty()) return std::make_unique<T>();
    std::unique_ptr<T> value = std::move(p.spare.back());
    p.spare.pop_back();
    return value;
  }
  static void give_back(std::unique_ptr<T> value) {
    if (!value || held_bytes(*value) > kKeptBytes) return;  // moved from, or too large to keep
    Pool& p = pool();
    const std::lock_guard<std::mutex> lock(p.mutex);
    if (p.spare.size() < kKept) p.spare.push_back(std::move(value));
  }

  std::unique_ptr<T> value_;
};

}  // namespace gpcnn
