// The cached sampler on the GPU: all per-layer state lives on the device, and each
// row is one kernel launch with one thread block per group of images, running the
// portable steps of native/core/sampler_steps.h: every block's vertical stack for
// the row, then column by column the horizontal stacks, skip sum, head and the
// Philox draws, which write the levels into the image on the device. The host only
// launches, reports progress after each row and copies the levels back.
#pragma once

#include "../core/sampler_job.h"

namespace gpcnn {

// The CUDA addon's SamplerRunner.
SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel);

}  // namespace gpcnn
