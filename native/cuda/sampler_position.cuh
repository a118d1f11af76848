// The cached sampler's work at one position (i, j) on the GPU, for the whole batch at
// once: per block, the pre-activation product and then the skip and residual product
// (batch_gemm.cuh, with the window gather, gate and biases fused into the operands
// and epilogues); then the head's hidden layer (a product too) and the draws. Between launches every
// image's row of each product is complete, so no kernel waits on another image.
// Layouts as in sampler_layout.h, plus the scratch below.
#pragma once

#include <array>

#include "../core/sample_draw.h"
#include "../core/sampler_layout.h"
#include "batch_gemm.cuh"
#include "launch.cuh"

namespace gpcnn {

// One position's scratch, for the whole batch.
struct PositionScratch {
  float* pre;     // [B, 2P] a block's horizontal pre-activation, with all its terms
  float* skip;    // [B, S] the sum of the blocks' skip outputs
  float* zs;      // [B, Q] the head's hidden layer before the channel terms
};

// What every operand and epilogue of a position carries: the plan, its scratch, the
// block being computed (layer l) and the position: column j, and the row read from the
// device (*row), so that one captured graph of a row's positions serves every row.
struct PositionArgs {
  SamplerPlan p;
  PositionScratch s;
  BlockPlan bl;
  const int* row;
  int l, j;
};

inline std::array<const void*, 19> device_pointers(const PositionArgs& a) {
  const auto plan = device_pointers(a.p);
  return {plan[0],  plan[1],  plan[2],  plan[3],  plan[4],  plan[5], plan[6],  plan[7], plan[8], plan[9],
          plan[10], plan[11], plan[12], plan[13], plan[14], a.s.pre, a.s.skip, a.s.zs, a.row};
}

// The row whose positions are being drawn: one thread advances it after the last.
__global__ void advance_row_kernel(int* row) { ++*row; }

// Pre-activation of block l's horizontal stack: [window | u_v column] · [h; vh], plus
// both biases and the conditioning. The window holds the taps (e, c), tap-major, of row
// i at columns j − hdx + e: the image for block 0, the block below's horizontal output
// for the others. Both it and the u_v column are contiguous in c, as the loads run.
struct PreActivation : PositionArgs {
  __device__ GemmColumn a_column(int t) const {
    const int cin = int(bl.cin), taps = cin * int(bl.hkw), W = int(p.W), P2 = 2 * int(p.P);
    if (t >= taps) return {p.u_row + (int64_t(l) * p.B * W + j) * P2 + (t - taps), int64_t(W) * P2};
    const int c = t % cin, sj = j - int(bl.hdx) + t / cin;
    if (sj < 0 || sj >= W) return {nullptr, 0};
    if (l == 0) return {p.xt + (int64_t(c) * p.H + *row) * W + sj, p.C * p.H * W};
    return {p.h_row + (int64_t(l - 1) * p.B * W + sj) * p.P + c, W * p.P};
  }
  __device__ float a_value(const float* at) const { return *at; }
  __device__ const float* b_row(int t) const {
    const int taps = int(bl.cin * bl.hkw);
    return p.w + (t < taps ? bl.h_wt + int64_t(t) * 2 * p.P : bl.vh_wt + int64_t(t - taps) * 2 * p.P);
  }
  __device__ float prior(int b, int o) const {
    const int64_t P2 = 2 * p.P;
    return p.w[bl.h_b + o] + p.w[bl.vh_b + o] + p.cond_bias[((l * p.B + b) * 2 + 1) * P2 + o] +
           spatial_term(p, bl.spatial_ht, b, o, *row, j);
  }
  __device__ void out(int b, int o, float value) const { s.pre[b * 2 * p.P + o] = value; }
};

// The gated output g times [skip | res]: skip sums over the blocks; res, below the
// last block, gives the horizontal output (plus the block's input, except in block 0).
struct SkipResidual : PositionArgs {
  __device__ GemmColumn a_column(int c) const { return {s.pre + c, 2 * p.P}; }
  __device__ float a_value(const float* at) const { return gate_f(at[0], at[p.P]); }
  __device__ const float* b_row(int c) const { return p.w + bl.skip_res_wt + int64_t(c) * (p.S + p.P); }
  __device__ float prior(int b, int n) const {
    if (n < p.S) return (l == 0 ? 0.f : s.skip[b * p.S + n]) + p.w[bl.skip_b + n];
    const int64_t o = n - p.S;
    return p.w[bl.res_b + o] + (l == 0 ? 0.f : p.h_row[((l - 1) * p.B + b) * p.W * p.P + j * p.P + o]);
  }
  __device__ void out(int b, int n, float value) const {
    if (n < p.S) {
      s.skip[b * p.S + n] = value;
      return;
    }
    p.h_row[(l * p.B + b) * p.W * p.P + j * p.P + n - p.S] = value;
  }
};

// The head's hidden layer before the channel terms: zs = hidden · relu(skip) + bias.
struct HeadHidden : PositionArgs {
  __device__ GemmColumn a_column(int k) const { return {s.skip + k, p.S}; }
  __device__ float a_value(const float* at) const { return fmaxf(*at, 0.f); }
  __device__ const float* b_row(int k) const { return p.w + p.hidden_wt + int64_t(k) * p.Q; }
  __device__ float prior(int, int q) const { return p.w[p.hidden_b + q]; }
  __device__ void out(int b, int q, float value) const { s.zs[int64_t(b) * p.Q + q] = value; }
};

// The draws' shared memory per image: its level weights and maximum logit (doubles),
// then z, the input of the channel being drawn, and its logits (floats, an even count,
// so that the next image's doubles stay aligned).
GPCNN_HD inline size_t draw_bytes_per_image(int64_t Q, int64_t K) {
  return sizeof(double) * (K + 1) + sizeof(float) * ((Q + K + 1) / 2 * 2);
}

// The draws at (i, j) for `images` images a thread block, after HeadHidden: channel by
// channel z = relu(zs + prev · x_{<c}), logits = out_c · z, and a draw (or the known
// level), written into levels and, as network input, into xt, where later channels
// read it. z and the logits stay in shared memory (draw_bytes_per_image() an image),
// so that only the weights and zs come from memory.
__global__ void head_draw_kernel(PositionArgs a, int images) {
  const SamplerPlan& p = a.p;
  const int64_t first = int64_t(blockIdx.x) * images, count = min(int64_t(images), p.B - first);
  const int64_t Q = p.Q, K = p.K, C = p.C;
  const int i = *a.row;
  unsigned char* shared = dynamic_shared<unsigned char>();
  const size_t per_image = draw_bytes_per_image(Q, K);
  auto weights = [&](int64_t g) { return reinterpret_cast<double*>(shared + g * per_image); };  // [K + 1]
  auto z = [&](int64_t g) { return reinterpret_cast<float*>(weights(g) + K + 1); };              // [Q]
  auto logits = [&](int64_t g) { return z(g) + Q; };                                              // [K]
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t e = threadIdx.x; e < count * Q; e += blockDim.x) {
      const int64_t g = e / Q, q = e % Q, b = first + g;
      float sum = a.s.zs[b * Q + q];
      for (int64_t cp = 0; cp < c; ++cp)
        sum += p.w[p.prev + (q * C + c) * C + cp] * p.xt[((b * C + cp) * p.H + i) * p.W + a.j];
      z(g)[q] = fmaxf(sum, 0.f);
    }
    __syncthreads();
    for (int64_t e = threadIdx.x; e < count * K; e += blockDim.x) {
      const int64_t g = e / K, k = e % K, b = first + g;
      const float* zg = z(g);
      float sum = 0;
      for (int64_t q = 0; q < Q; ++q) sum += p.w[p.out_wt + (c * Q + q) * K + k] * zg[q];
      const float logit = sum + p.w[p.out_b + c * K + k];
      logits(g)[k] = logit;
      if (p.logits_out) p.logits_out[((((b * C + c) * K + k) * p.H + i) * p.W) + a.j] = logit;
    }
    __syncthreads();
    for (int64_t g = threadIdx.x; g < count; g += blockDim.x) {
      double max = -INFINITY;
      for (int64_t k = 0; k < K; ++k) max = ::fmax(max, double(logits(g)[k]));
      weights(g)[K] = max;
    }
    __syncthreads();
    for (int64_t e = threadIdx.x; e < count * K; e += blockDim.x) {
      const int64_t g = e / K, k = e % K;
      weights(g)[k] = level_weight(logits(g)[k], weights(g)[K], p.temperature);
    }
    __syncthreads();
    for (int64_t g = threadIdx.x; g < count; g += blockDim.x) {
      const int64_t b = first + g, at = ((b * C + c) * p.H + i) * p.W + a.j;
      int level;
      if (p.known_mask && p.known_mask[at]) {
        level = p.known[at];
      } else {
        const int64_t position = (int64_t(i) * p.W + a.j) * C + c;  // generation order, as the naive sampler counts
        level = level_from_weights(weights(g), K, sample_uniform(p.seed, p.first_image + b, position));
      }
      p.levels[at] = uint8_t(level);
      p.xt[at] = float(2.0 * level / double(K - 1) - 1.0);  // as toUnit() rounds it
    }
    __syncthreads();
  }
}

}  // namespace gpcnn
