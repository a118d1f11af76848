// A cached-sampling job as the Node-API layer hands it to a sampler (CPU or CUDA):
// the configuration, host copies of the weights, the batch's conditioning and
// known pixels, and the draw settings.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "recycled.h"

namespace gpcnn {

struct SamplerConfig {
  int64_t channels, height, width, levels, hidden, layers, first_kernel, kernel, skip, head_hidden,
      classes, cond_dim, spatial_cond;
};

struct SamplerJob {
  SamplerConfig config;
  // SPEC.md §8 names, copied (into the vectors of an earlier job's map: recycled.h).
  Recycled<std::map<std::string, std::vector<float>>> weights;
  int64_t batch = 0;
  int64_t first_image = 0;  // index of this batch's first image in the whole run (for the draws)
  std::vector<int32_t> labels;      // [B] when classes > 0
  std::vector<float> vectors;       // [B, condDim]
  std::vector<float> spatial;       // [B, S, H, W]
  std::vector<uint8_t> known;       // [B, C, H, W] levels, with mask
  std::vector<uint8_t> known_mask;  // empty: nothing known
  double temperature = 1;
  int64_t seed = 0;
  bool keep_logits = false;
};

struct SamplerResult {
  std::vector<uint8_t> levels;  // [B, C, H, W]
  std::vector<float> logits;    // [B, C, K, H, W], the logits each draw used (when asked)
  std::string design;           // how its positions ran: "cpu", or on CUDA "graph", "cluster" or "tile"
  std::string vertical;         // how its vertical stacks ran: "cpu", or on CUDA "cudnn" or "cublas"
  int64_t cluster_images = 0;   // with "cluster" or "tile": the images each cluster or thread block took
  bool row_graph = false;       // on CUDA: each row one graph, vertical stage and positions
  std::string capture_refused;  // else on CUDA: why the device refused to capture a row
};

// Runs a job. `on_row(rows done)` is called after each row; when `cancel` becomes
// true the sampler stops and throws ERR_ABORTED.
using SamplerRunner = SamplerResult (*)(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                        const std::atomic<bool>& cancel);

}  // namespace gpcnn
