// A value of type T borrowed from a process-wide pool and given back when the holder
// ends, with the memory it holds: the samplers' host copies of the weights and their
// arrangement (megabytes, filled at every call) reuse pages already faulted in instead
// of memory fresh from the system, whose first touch costs a page fault per 4 KiB. In
// a sandboxed host that was ~3 ms a MB (6 MB copied into fresh memory: 19 ms; into
// reused memory: 0.5 ms), much of a GPU batch's time.
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace gpcnn {

template <typename T>
class Recycled {
 public:
  Recycled() : value_(take()) {}
  Recycled(Recycled&& other) noexcept = default;
  Recycled& operator=(Recycled&& other) noexcept {
    give_back(std::move(value_));
    value_ = std::move(other.value_);
    return *this;
  }
  Recycled(const Recycled&) = delete;
  Recycled& operator=(const Recycled&) = delete;
  ~Recycled() { give_back(std::move(value_)); }

  // Whatever the last holder left in it: the holder clears what it must.
  T& operator*() const { return *value_; }
  T* operator->() const { return value_.get(); }

 private:
  // Spare values kept: one per job that runs at once, a few at most.
  static constexpr size_t kKept = 4;

  struct Pool {
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
    if (!value) return;  // moved from
    Pool& p = pool();
    const std::lock_guard<std::mutex> lock(p.mutex);
    if (p.spare.size() < kKept) p.spare.push_back(std::move(value));
  }

  std::unique_ptr<T> value_;
};

}  // namespace gpcnn
