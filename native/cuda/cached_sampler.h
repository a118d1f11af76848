// The cached sampler on the GPU. All per-layer state lives on the device. At each
// row, every block's vertical stack is one cuDNN convolution of output height 1 for
// the whole batch (sampler_vertical.cuh); then one kernel takes the row's positions,
// each thread block a tile of images through every block's horizontal stack, the
// head and the Philox draws, which write the levels into the image on the device
// (sampler_row.cuh). The host only launches, reports progress after each row and
// copies the levels back.
#pragma once

#include "../core/sampler_job.h"

namespace gpcnn {

// The CUDA addon's SamplerRunner.
SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel);

}  // namespace gpcnn
