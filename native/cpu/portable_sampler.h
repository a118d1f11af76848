// The CUDA sampler's steps (native/core/sampler_steps.h) run on the host, with the
// same layouts, the same grouping of images and a team of threads in place of a thread
// block: a test vehicle for the device code on machines without a GPU, selected by
// SamplerJob::portable_steps.
#pragma once

#include "../core/sampler_job.h"

namespace gpcnn {

SamplerResult run_portable_steps(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                 const std::atomic<bool>& cancel);

}  // namespace gpcnn
