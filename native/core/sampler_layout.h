// The CUDA cached sampler's plan: each block's geometry and weight offsets, the
// state's layouts, and the small pieces of arithmetic its kernels share
// (native/cuda/sampler_vertical.cuh, sampler_position.cuh). Host code
// (sampler_plan.cc) fills the plan in.
// Layouts (B = images in the batch):
//   xt [B, C, H, W] the image as network input, levels [B, C, H, W], logits_out
//   [B, C, K, H, W]; v_hist [L−1][B, P, H, W] each block's vertical output; v_conv
//   [B, 2P, W] one block's vertical convolution at the current row, as cuDNN writes it,
//   and vh_conv [B, 2P, W] the 1×1 convolution vh of it; h_base [L][B, W, 2P] each
//   block's horizontal pre-activation at the current row but for its taps: vh(u_v),
//   every bias and the conditioning, all known when the row starts; h_row [L−1][B, W, P]
//   each block's horizontal output at the current row; cond_bias [L][B][2][2P] the
//   class + global-vector terms (vertical, horizontal). The position steps read h_base
//   and h_row per image and column, so their channels are contiguous.
// Most weights are transposed to [inputs][outputs] (sampler_plan.cc), so that threads
// that compute neighbouring outputs read neighbouring weights; h's inputs are
// tap-major (e, c), as the window is read.
#pragma once

#include <math.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "host_device.h"

namespace gpcnn {

// One block's geometry and the offsets of its weights in the flat array (−1: absent);
// a name ending in t is a transposed weight, v_w and vh_w are cuDNN's filters as they
// are (OIHW). h_base_b = h.bias + vh.bias + vh.weight · v.bias: the horizontal
// pre-activation's constant, since vh reads u_v = v_conv + v.bias.
struct BlockPlan {
  int64_t cin, vkh, vkw, vdy, vdx, hkw, hdx;
  int64_t v_w, v_b, vh_w, h_base_b, h_wt, res_wt, res_b, skip_wt, skip_b;
  int64_t class_v, class_h, cond_vt, cond_ht, spatial_vt, spatial_ht;
};

struct SamplerPlan {
  int64_t B, C, H, W, K, P, S, Q, L, cond_dim, spatial_cond;
  const BlockPlan* blocks;  // [L]
  const float* w;           // the flat weights
  int64_t hidden_wt, hidden_b, out_wt, out_b, prev;  // head offsets (prev −1 when C = 1)
  double temperature;
  int64_t seed, first_image;
  // Inputs (null when absent).
  const int32_t* labels;
  const float* vectors;
  const float* spatial;
  const uint8_t* known;
  const uint8_t* known_mask;
  // State and outputs.
  float *xt, *v_hist, *v_conv, *vh_conv, *h_base, *h_row, *cond_bias, *logits_out;  // logits_out may be null
  uint8_t* levels;
  int32_t* diverged;  // set to 1 where a draw's logits are not finite (sample_draw.h)
};

// Every pointer a plan holds; on the GPU all must be device memory, which the CUDA
// emulator checks at each launch (native/cuda_emu/launch.h).
inline std::array<const void*, 17> device_pointers(const SamplerPlan& p) {
  return {p.blocks, p.w,      p.labels,  p.vectors, p.spatial,  p.known,      p.known_mask, p.xt,    p.v_hist,
          p.v_conv, p.vh_conv, p.h_base, p.h_row,   p.cond_bias, p.logits_out, p.levels,     p.diverged};
}

// The horizontal outputs a block's window reads, the block below's last hdx + 1 columns
// (its taps end at column j): what the designs that keep them in a ring of shared
// memory hold per block (sampler_cluster.cuh, sampler_tile.cuh).
inline int ring_columns(const SamplerPlan& p, const BlockPlan* blocks) {
  int64_t columns = 1;
  for (int64_t l = 1; l < p.L; ++l) columns = std::max(columns, blocks[l].hdx + 1);
  return int(columns);
}

// A block's dynamic shared memory laid out array after array: first `doubles` doubles
// (the draws'), then each take() of floats, every array starting on 16 bytes.
class SharedLayout {
 public:
  explicit SharedLayout(int64_t doubles) : end_((doubles * int64_t(sizeof(double)) + 15) / 16 * 4) {}
  // The offset, in floats, of the next `floats` floats.
  int take(int64_t floats) {
    const int64_t at = end_;
    end_ += (floats + 3) / 4 * 4;
    return int(at);
  }
  int64_t bytes() const { return end_ * int64_t(sizeof(float)); }

 private:
  int64_t end_;  // in floats
};

GPCNN_HD inline float sigmoid_f(float a) { return 1.f / (1.f + ::expf(-a)); }
GPCNN_HD inline float gate_f(float a, float b) { return ::tanhf(a) * sigmoid_f(b); }

// The spatial term Σ_k W[k, o]·S[b, k, i, j].
GPCNN_HD inline float spatial_term(const SamplerPlan& p, int64_t weights, int64_t b, int64_t o, int64_t i, int64_t j) {
  if (weights < 0) return 0.f;
  float sum = 0;
  for (int64_t k = 0; k < p.spatial_cond; ++k)
    sum += p.w[weights + k * 2 * p.P + o] * p.spatial[((b * p.spatial_cond + k) * p.H + i) * p.W + j];
  return sum;
}

}  // namespace gpcnn
