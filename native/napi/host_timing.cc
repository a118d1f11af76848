#include "host_timing.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace gpcnn::host_timing {

namespace {

struct Totals {
  long long calls = 0;
  std::chrono::steady_clock::duration time{};
};

// The sums, printed when the process exits (static destruction). Calls come from the
// JS thread only.
class Report {
 public:
  std::map<std::string, Totals> by_function;
  ~Report() {
    if (by_function.empty()) return;
    std::vector<std::pair<std::string, Totals>> rows(by_function.begin(), by_function.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.time > b.second.time; });
    double total_ms = 0;
    for (const auto& row : rows) total_ms += std::chrono::duration<double, std::milli>(row.second.time).count();
    std::fprintf(stderr, "host time in native calls (GATED_PIXELCNN_HOST_TIMING): %.3f ms in all\n", total_ms);
    std::fprintf(stderr, "%12s %10s %12s  %s\n", "ms", "calls", "us a call", "function");
    for (const auto& [name, totals] : rows) {
      const double ms = std::chrono::duration<double, std::milli>(totals.time).count();
      std::fprintf(stderr, "%12.3f %10lld %12.2f  %s\n", ms, totals.calls, 1000 * ms / double(totals.calls),
                   name.c_str());
    }
  }
};

Report& report() {
  static Report r;
  return r;
}

}  // namespace

bool enabled() {
  static const bool on = [] {
    const char* setting = std::getenv("GATED_PIXELCNN_HOST_TIMING");
    return setting && std::strcmp(setting, "1") == 0;
  }();
  return on;
}

void add(const char* function, std::chrono::steady_clock::duration elapsed) {
  Totals& totals = report().by_function[function];
  ++totals.calls;
  totals.time += elapsed;
}

}  // namespace gpcnn::host_timing
