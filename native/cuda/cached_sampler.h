// The cached sampler on the GPU: all per-layer state lives on the device; each row
// is one kernel (every block's vertical stack for that row) and each position one
// kernel (horizontal stacks, skip sum, head and the Philox draws, which write the
// levels into the image on the device). Both run the portable steps of
// native/core/sampler_steps.h, one thread block per image or group of images; the
// host only launches, reports progress after each row and copies the levels back.
#pragma once

#include "../core/sampler_job.h"

namespace gpcnn {

// The CUDA addon's SamplerRunner.
SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel);

}  // namespace gpcnn
