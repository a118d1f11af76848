#include "portable_sampler.h"

#include <algorithm>

#include "../core/errors.h"
#include "../core/sampler_plan.h"

namespace gpcnn {

SamplerResult run_portable_steps(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                 const std::atomic<bool>& cancel) {
  const ArrangedWeights arranged = arrange_weights(job);
  SamplerPlan p = plan_for(job, arranged);
  const int64_t B = p.B, P = p.P, H = p.H, W = p.W, L = p.L;
  std::vector<float> xt(B * p.C * H * W, 0.f), v_hist(std::max<int64_t>(L - 1, 0) * B * P * H * W, 0.f);
  std::vector<float> u_row(L * B * 2 * P * W, 0.f), h_row(std::max<int64_t>(L - 1, 0) * B * P * W, 0.f);
  std::vector<float> cond_bias(L * B * 2 * 2 * P, 0.f);
  SamplerResult result;
  result.levels.assign(B * p.C * H * W, 0);
  if (job.keep_logits) result.logits.assign(B * p.C * p.K * H * W, 0.f);
  p.xt = xt.data(), p.v_hist = v_hist.data(), p.u_row = u_row.data(), p.h_row = h_row.data();
  p.cond_bias = cond_bias.data(), p.levels = result.levels.data();
  p.logits_out = job.keep_logits ? result.logits.data() : nullptr;

  const HostTeam team;
  for (int64_t b = 0; b < B; ++b) conditioning_step(p, team, b);
  const int64_t groups = (B + kImagesPerTeam - 1) / kImagesPerTeam;
  const int64_t scratch_doubles = (position_scratch_bytes(p, kImagesPerTeam) + 7) / 8;
  std::vector<double> scratch(groups * scratch_doubles);  // doubles: 8-byte aligned; nothing allocates below
  for (int64_t i = 0; i < H; ++i) {
    if (cancel.load()) fail(codes::kAborted, "sampling was aborted");
    // Groups are independent, as the GPU's thread blocks are.
#pragma omp parallel for schedule(static)
    for (int64_t group = 0; group < groups; ++group) {
      const int64_t first = group * kImagesPerTeam, count = std::min(kImagesPerTeam, B - first);
      for (int64_t b = first; b < first + count; ++b) vertical_step(p, team, b, i);
      for (int64_t j = 0; j < W; ++j) position_step(p, team, scratch.data() + group * scratch_doubles, first, count, i, j);
    }
    on_row(i + 1);
  }
  return result;
}

}  // namespace gpcnn
