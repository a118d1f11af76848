// Softmax cross-entropy over K levels, fused: one pass finds each position's
// maximum logit, one sums the shifted exponentials (so K = 256 cannot overflow),
// and the last writes the gradient. Positions are contiguous in memory for a fixed
// level, so the inner loops run over positions and vectorize.
#include <cmath>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "../core/errors.h"
#include "cpu_backend.h"
#include "fast_math.h"

namespace gpcnn {

namespace {

template <typename Level>
void check_levels(const Level* targets, int64_t count, int64_t levels) {
  for (int64_t i = 0; i < count; ++i)
    if (static_cast<int64_t>(targets[i]) < 0 || static_cast<int64_t>(targets[i]) >= levels)
      fail(codes::kRange, "target level ", static_cast<int64_t>(targets[i]), " at flat index ", i,
           " is outside [0, ", levels, ")");
}

template <typename Level>
void cross_entropy(const Tensor& logits, const Level* targets, float grad_scale, Tensor& nll,
                   Tensor* grad_logits) {
  const int64_t batch = logits.dim(0), channels = logits.dim(1), levels = logits.dim(2);
  const int64_t plane = logits.dim(3) * logits.dim(4);
  check_levels(targets, batch * channels * plane, levels);
  const float* z = logits.data<float>();
  float* grad = grad_logits ? grad_logits->data<float>() : nullptr;
  std::vector<double> per_slice(batch * channels);
  // Per-thread rows, allocated before the parallel region: nothing may throw inside one.
  std::vector<float> rows(2 * plane * omp_get_max_threads());
#pragma omp parallel for schedule(static)
  for (int64_t slice = 0; slice < batch * channels; ++slice) {
    const float* zs = z + slice * levels * plane;
    const Level* target = targets + slice * plane;
    float* max_logit = rows.data() + 2 * plane * omp_get_thread_num();
    float* sum = max_logit + plane;
    std::copy(zs, zs + plane, max_logit);
    std::fill(sum, sum + plane, 0.f);
    for (int64_t k = 1; k < levels; ++k)
      for (int64_t i = 0; i < plane; ++i) max_logit[i] = std::max(max_logit[i], zs[k * plane + i]);
    for (int64_t k = 0; k < levels; ++k)
      for (int64_t i = 0; i < plane; ++i) sum[i] += fast_exp(zs[k * plane + i] - max_logit[i]);
    double total = 0;
    // max − z first: with logits far from 0 (diverged weights) log(sum) would vanish beside max.
    for (int64_t i = 0; i < plane; ++i)
      total += double(max_logit[i] - zs[target[i] * plane + i]) + std::log(sum[i]);
    per_slice[slice] = total;
    if (!grad) continue;
    float* gs = grad + slice * levels * plane;
    for (int64_t i = 0; i < plane; ++i) sum[i] = grad_scale / sum[i];
    for (int64_t k = 0; k < levels; ++k)
      for (int64_t i = 0; i < plane; ++i)
        gs[k * plane + i] = fast_exp(zs[k * plane + i] - max_logit[i]) * sum[i];
    for (int64_t i = 0; i < plane; ++i) gs[target[i] * plane + i] -= grad_scale;
  }
  for (int64_t n = 0; n < batch; ++n) {
    double total = 0;
    for (int64_t c = 0; c < channels; ++c) total += per_slice[n * channels + c];
    nll.data<float>()[n] = static_cast<float>(total);
  }
}

}  // namespace

void CpuBackend::softmax_cross_entropy(const Tensor& logits, const Tensor& targets,
                                       float grad_scale, Tensor& nll, Tensor* grad_logits) {
  if (targets.dtype == DType::U8)
    cross_entropy(logits, targets.data<uint8_t>(), grad_scale, nll, grad_logits);
  else
    cross_entropy(logits, targets.data<int32_t>(), grad_scale, nll, grad_logits);
}

}  // namespace gpcnn
