// A map that keeps at most `capacity` entries, dropping the least recently used first.
// The convolution plans are kept per shape, batch size included: unbounded, a
// long-running process that meets a new batch size on every call (a server scoring
// requests, the naive sampler's counts) grew by a plan per shape until memory ran out.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace gpcnn {

template <typename Value>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The entry for `key`, made by `make()` when it is not kept. The reference stays
  // valid until the next call that adds an entry, or clear().
  template <typename Make>
  Value& get(const std::string& key, Make make) {
    auto found = index_.find(key);
    if (found != index_.end()) {
      entries_.splice(entries_.begin(), entries_, found->second);
      return found->second->second;
    }
    entries_.emplace_front(key, make());
    index_.emplace(key, entries_.begin());
    while (entries_.size() > capacity_) {
      index_.erase(entries_.back().first);
      entries_.pop_back();
    }
    return entries_.front().second;
  }

  size_t size() const { return entries_.size(); }
  void clear() {
    index_.clear();
    entries_.clear();
  }

 private:
  using Entries = std::list<std::pair<std::string, Value>>;
  size_t capacity_;
  Entries entries_;  // most recently used first
  std::unordered_map<std::string, typename Entries::iterator> index_;
};

}  // namespace gpcnn
