// What the addon tells V8 about the native memory its tensor handles hold. V8 starts
// collections when reported external memory grows, so reporting each tensor's bytes
// at creation and release makes a training step's churn (gigabytes allocated and
// freed, all disposed explicitly) set off full collections every step. Reporting
// only the high-water mark of live bytes keeps the signal that matters, memory held
// by undisposed handles growing past any earlier peak, which then gets collected and
// finalized, without reacting to churn.
#pragma once

#include <node_api.h>

#include <cstdint>

namespace gpcnn {

class ExternalMemoryHint {
 public:
  void add(napi_env env, int64_t bytes) {
    live_ += bytes;
    if (live_ <= reported_) return;
    int64_t total;
    napi_adjust_external_memory(env, live_ - reported_, &total);
    reported_ = live_;
  }
  void remove(int64_t bytes) { live_ -= bytes; }

 private:
  int64_t live_ = 0;      // bytes of live handles (a reshaped view counts again: a hint, not a ledger)
  int64_t reported_ = 0;  // the peak of live_, as reported to V8
};

}  // namespace gpcnn
