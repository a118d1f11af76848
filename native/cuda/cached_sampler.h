// The cached sampler on the GPU. All per-layer state lives on the device, and every
// step works on the whole batch at once: at each row, every block's vertical stack
// is one matrix product (cuBLAS) or convolution (cuDNN) (sampler_vertical.cuh); at each
// position, every block's horizontal stack is two batched products, then the head's
// products and the Philox draws, which write the levels into the image on the device
// (sampler_position.cuh); a whole row, vertical stage and positions, is one CUDA graph.
// The host only launches, reports progress after each row and copies the levels back.
#pragma once

#include "../core/sampler_job.h"

namespace gpcnn {

// The CUDA addon's SamplerRunner.
SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel);

}  // namespace gpcnn
