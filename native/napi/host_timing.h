// With GATED_PIXELCNN_HOST_TIMING=1 in the environment, the host time of every call
// into the addon, summed per exported function and printed to stderr when the process
// exits: where a training step's host time goes (our checks, allocation, launches and
// cuDNN's own host work), to set beside the GPU's kernel times (scripts/device-check.sh
// prints both). Without it, a call costs one branch more.
#pragma once

#include <chrono>

namespace gpcnn::host_timing {

bool enabled();
// Adds one call of `function` (a string with static lifetime) that took `elapsed`.
void add(const char* function, std::chrono::steady_clock::duration elapsed);

}  // namespace gpcnn::host_timing
