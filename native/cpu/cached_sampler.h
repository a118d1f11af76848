// The cached sampler on the CPU. Each block's vertical stack at row i reads only
// rows ≤ i of the stack below, and its horizontal stack at (i, j) only columns
// ≤ j of its own row (SPEC.md §3–4). So at the start of each row the vertical
// stacks of all blocks are computed for that row alone, and at each position the
// horizontal stacks, the skip sum and the head for that position alone: a batch of
// images costs about one forward pass instead of one per position. The matrix
// products are oneDNN sgemm calls; each thread samples its own share of the images.
#pragma once

#include "../core/sampler_job.h"

namespace gpcnn {

// The CPU addon's SamplerRunner.
SamplerResult run_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                 const std::atomic<bool>& cancel);

}  // namespace gpcnn
