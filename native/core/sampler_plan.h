// Host-side preparation for the samplers: each block's geometry from the configuration
// (SPEC.md §3) and weight lookup with size checks (both samplers), and the CUDA
// sampler's flat weight array and plan (layouts in sampler_layout.h).
#pragma once

#include <string>
#include <vector>

#include "recycled.h"
#include "sampler_job.h"
#include "sampler_layout.h"

namespace gpcnn {

struct BlockGeometry {
  int64_t cin, vkh, vkw, vdy, vdx, hkw, hdx;
};

// Block l's kernel shapes and offsets: block 0 is masked ('A'), the rest include the centre.
BlockGeometry block_geometry(const SamplerConfig& config, int64_t l);

// The job's weight `name`, which must hold exactly `count` values (ERR_ARG / ERR_SHAPE).
const float* job_weight(const SamplerJob& job, const std::string& name, int64_t count);
// A conditioning weight, present exactly when the configuration has that conditioning.
const float* job_optional_weight(const SamplerJob& job, const std::string& name, bool configured, int64_t count);

// The weights in the CUDA sampler's layout, with every offset a SamplerPlan needs.
struct ArrangedWeights {
  Recycled<std::vector<float>> flat;  // an earlier job's, refilled
  std::vector<BlockPlan> blocks;
  int64_t hidden_wt, hidden_b, out_wt, out_b, prev;
};
ArrangedWeights arrange_weights(const SamplerJob& job);

// Element counts of the state buffers (layouts in sampler_layout.h); logits is 0 unless kept.
struct SamplerStateSizes {
  int64_t xt, v_hist, v_conv, vh_conv, h_base, h_row, cond_bias, levels, logits;
};
SamplerStateSizes state_sizes(const SamplerPlan& p, bool keep_logits);

// A plan over `arranged` (host pointers for the weights, the blocks and the job's
// inputs); the caller fills in the state pointers.
SamplerPlan plan_for(const SamplerJob& job, const ArrangedWeights& arranged);

}  // namespace gpcnn
