// Drawing levels exactly as the TypeScript samplers do (src/sample/draw.ts): the
// uniform number of draw (seed, image, position) from Philox (philox.h), and the
// inverse CDF of softmax(logits / T) in double precision. Same seed, same logits:
// same levels, whichever sampler and device runs.
#pragma once

#include <math.h>

#include <cstdint>

#include "host_device.h"
#include "philox.h"

namespace gpcnn {

// The weight of level k before normalization: exp((logit − max) / T), in double.
GPCNN_HD inline double level_weight(float logit, double max, double temperature) {
  return ::exp((double(logit) - max) / temperature);
}

// A level no draw gives: the logits were not all finite (a NaN, or an infinity, which
// leaves the weights NaN), as the weights of a run that diverged make them.
constexpr int kNoLevel = -1;

// The level whose cumulative weight first exceeds u·Σweights; the weights are summed
// in level order, as drawLevel() does. kNoLevel where the weights are not finite:
// every comparison would fail, drawing the top level everywhere.
GPCNN_HD inline int level_from_weights(const double* weights, int64_t levels, double u) {
  double total = 0;
  for (int64_t k = 0; k < levels; ++k) total += weights[k];
  if (!(total >= 1 && total <= double(levels))) return kNoLevel;  // the largest weight is exp(0) = 1
  const double target = u * total;
  double cumulative = 0;
  for (int64_t k = 0; k < levels; ++k) {
    cumulative += weights[k];
    if (target < cumulative) return int(k);
  }
  return int(levels - 1);  // rounding left the target at the very top
}

// One draw from K logits held `stride` apart (kNoLevel where they are not all finite);
// `weights` is scratch for K doubles.
inline int draw_level(const float* logits, int64_t stride, int64_t levels, double temperature, double u,
                      double* weights) {
  double max = -INFINITY;
  for (int64_t k = 0; k < levels; ++k) max = ::fmax(max, double(logits[k * stride]));
  for (int64_t k = 0; k < levels; ++k) weights[k] = level_weight(logits[k * stride], max, temperature);
  return level_from_weights(weights, levels, u);
}

}  // namespace gpcnn
