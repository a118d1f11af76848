// With GATED_PIXELCNN_HOST_TIMING=1 in the environment, where one long native call's
// time goes, phase by phase, printed to stderr as one line when the call ends (the
// cached sampler's setup: a batch's time before its first row is much of the whole).
// Without it, a lap costs one branch.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace gpcnn {

class PhaseClock {
 public:
  explicit PhaseClock(const char* what) : what_(what), enabled_(timing_enabled()) {}
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;
  ~PhaseClock() {
    if (enabled_) std::fprintf(stderr, "%s (GATED_PIXELCNN_HOST_TIMING):%s\n", what_, phases_.c_str());
  }

  bool enabled() const { return enabled_; }

  // The time since the last lap (or since the clock was made) was `phase` (a string
  // with static lifetime).
  void lap(const char* phase) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    char part[96];
    std::snprintf(part, sizeof part, " %s %.3f ms;", phase, std::chrono::duration<double, std::milli>(now - last_).count());
    phases_ += part;
    last_ = now;
  }

 private:
  static bool timing_enabled() {
    const char* setting = std::getenv("GATED_PIXELCNN_HOST_TIMING");
    return setting && std::strcmp(setting, "1") == 0;
  }

  const char* what_;
  bool enabled_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::string phases_;
};

}  // namespace gpcnn
