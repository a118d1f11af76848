#include "portable_sampler.h"

#include <omp.h>

#include <algorithm>

#include "../core/errors.h"
#include "../core/sampler_plan.h"

namespace gpcnn {

namespace {

// A team of OpenMP threads standing in for a CUDA thread block: the steps' loops are
// shared among the ranks and team.sync() is a barrier, as __syncthreads() is on the GPU.
struct OpenMpTeam {
  int64_t rank() const { return omp_get_thread_num(); }
  int64_t size() const { return omp_get_num_threads(); }
  void sync() const {
#pragma omp barrier
  }
};

// Odd, and more than one: ranks stride through loops whose lengths it rarely divides.
constexpr int kTeamSize = 3;

}  // namespace

SamplerResult run_portable_steps(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                 const std::atomic<bool>& cancel) {
  const ArrangedWeights arranged = arrange_weights(job);
  SamplerPlan p = plan_for(job, arranged);
  const int64_t B = p.B, H = p.H;
  const SamplerStateSizes sizes = state_sizes(p, job.keep_logits);
  std::vector<float> xt(sizes.xt, 0.f), v_hist(sizes.v_hist, 0.f), u_row(sizes.u_row, 0.f), h_row(sizes.h_row, 0.f);
  std::vector<float> cond_bias(sizes.cond_bias, 0.f);
  SamplerResult result;
  result.levels.assign(sizes.levels, 0);
  result.logits.assign(sizes.logits, 0.f);
  p.xt = xt.data(), p.v_hist = v_hist.data(), p.u_row = u_row.data(), p.h_row = h_row.data();
  p.cond_bias = cond_bias.data(), p.levels = result.levels.data();
  p.logits_out = job.keep_logits ? result.logits.data() : nullptr;
  // Doubles: 8-byte aligned. Nothing allocates inside the parallel regions below.
  std::vector<double> scratch((position_scratch_bytes(p, kImagesPerTeam) + 7) / 8);

  const OpenMpTeam team;
  for (int64_t b = 0; b < B; ++b) {
#pragma omp parallel num_threads(kTeamSize)
    conditioning_step(p, team, b);
  }
  for (int64_t i = 0; i < H; ++i) {
    if (cancel.load()) fail(codes::kAborted, "sampling was aborted");
    for (int64_t first = 0; first < B; first += kImagesPerTeam) {
      const int64_t count = std::min(kImagesPerTeam, B - first);
#pragma omp parallel num_threads(kTeamSize)
      row_step(p, team, scratch.data(), first, count, i);
    }
    on_row(i + 1);
  }
  return result;
}

}  // namespace gpcnn
