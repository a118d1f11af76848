// The cached sampler's work at one position (i, j) on the GPU, for the whole batch at
// once: per block, the pre-activation product and then the skip and residual product
// (batch_gemm.cuh, with the window gather, gate and biases fused into the operands
// and epilogues); then the head's hidden layer (a product too) and the draws. Between
// launches every image's row of each product is complete, so no kernel waits on
// another image.
// Layouts as in sampler_layout.h, plus the scratch below.
#pragma once

#include <algorithm>
#include <array>
#include <tuple>

#include "../core/relu.h"
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
  float* z;       // [B, Q] the input of the channel being drawn: relu(zs + prev · x_{<c})
  float* logits;  // [B, K] the logits of the channel being drawn
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

// The plan's pointers, then the scratch's and the row's: derived from the plan's list,
// so that a pointer added to the plan is checked here too.
constexpr size_t kPlanPointers = std::tuple_size<decltype(device_pointers(SamplerPlan{}))>::value;
inline std::array<const void*, kPlanPointers + 6> device_pointers(const PositionArgs& a) {
  std::array<const void*, kPlanPointers + 6> all{};
  const auto plan = device_pointers(a.p);
  std::copy(plan.begin(), plan.end(), all.begin());
  const std::array<const void*, 6> own{a.s.pre, a.s.skip, a.s.zs, a.s.z, a.s.logits, a.row};
  std::copy(own.begin(), own.end(), all.begin() + kPlanPointers);
  return all;
}

// The row whose positions are being drawn: one thread advances it after the last.
__global__ void advance_row_kernel(int* row) {
  wait_for_previous_kernel();
  ++*row;
}

// Pre-activation of block l's horizontal stack: window · h, plus h_base (vh(u_v), the
// biases and the conditioning, computed when the row started). The window holds the
// taps (e, c), tap-major, of row i at columns j − hdx + e: the image for block 0, the
// block below's horizontal output for the others, contiguous in c as the loads run.
struct PreActivation : PositionArgs {
  __device__ float a(int b, int t) const {
    const int cin = int(bl.cin), W = int(p.W);
    const int c = t % cin, sj = j - int(bl.hdx) + t / cin;
    if (sj < 0 || sj >= W) return 0.f;
    return l == 0 ? p.xt[((int64_t(b) * p.C + c) * p.H + *row) * W + sj]
                  : p.h_row[((int64_t(l - 1) * p.B + b) * W + sj) * p.P + c];
  }
  __device__ float b(int t, int o) const { return p.w[bl.h_wt + int64_t(t) * 2 * p.P + o]; }
  __device__ void out(int b, int o, float sum) const {
    const int64_t P2 = 2 * p.P;
    s.pre[b * P2 + o] = sum + p.h_base[((int64_t(l) * p.B + b) * p.W + j) * P2 + o];
  }
};

// The gated output g times [skip | res]: skip sums over the blocks; res, below the
// last block, gives the horizontal output (plus the block's input, except in block 0).
struct SkipResidual : PositionArgs {
  __device__ float a(int b, int c) const {
    const float* pre = s.pre + b * 2 * p.P;
    return gate_f(pre[c], pre[c + p.P]);
  }
  __device__ float b(int c, int n) const {
    return n < p.S ? p.w[bl.skip_wt + int64_t(c) * p.S + n] : p.w[bl.res_wt + int64_t(c) * p.P + n - p.S];
  }
  __device__ void out(int b, int n, float sum) const {
    if (n < p.S) {
      float& skip = s.skip[b * p.S + n];
      skip = (l == 0 ? 0.f : skip) + sum + p.w[bl.skip_b + n];
      return;
    }
    const int64_t o = n - p.S, at = (int64_t(b) * p.W + j) * p.P + o, layer = p.B * p.W * p.P;
    const float below = l == 0 ? 0.f : p.h_row[(l - 1) * layer + at];
    p.h_row[l * layer + at] = sum + p.w[bl.res_b + o] + below;
  }
};

// The head's hidden layer before the channel terms: zs = hidden · relu(skip) + bias.
struct HeadHidden : PositionArgs {
  __device__ float a(int b, int k) const { return relu(s.skip[int64_t(b) * p.S + k]); }
  __device__ float b(int k, int q) const { return p.w[p.hidden_wt + int64_t(k) * p.Q + q]; }
  __device__ void out(int b, int q, float sum) const { s.zs[int64_t(b) * p.Q + q] = sum + p.w[p.hidden_b + q]; }
};

// relu(zs + prev · x_{<c}) for channel c of image b, with zs the head's hidden unit q
// before the channel terms and x_{<c} the levels drawn for this pixel's earlier channels.
__device__ inline float channel_input(const SamplerPlan& p, float zs, int64_t b, int64_t q, int64_t c, int i, int j) {
  const int64_t C = p.C;
  float sum = zs;
  for (int64_t cp = 0; cp < c; ++cp)
    sum += p.w[p.prev + (q * C + c) * C + cp] * p.xt[((b * C + cp) * p.H + i) * p.W + j];
  return relu(sum);
}

// The draws at (i, j) for images [first, first + count), by every thread of the block
// (it has barriers): channel by channel z = relu(zs + prev · x_{<c}), logits = out_c · z,
// and a draw (or the known level), written into levels and, as network input, into xt,
// where later channels read it. zs [count][Q] is the head's hidden layer before the
// channel terms; z [count][Q] and logits [count][K] are scratch, as is weights, for
// count · (K + 1) doubles (each image's level weights, then its maximum logit).
__device__ inline void draw_pixel(const SamplerPlan& p, int64_t first, int64_t count, int i, int j, const float* zs,
                                  float* z, float* logits, double* weights) {
  const int64_t Q = p.Q, K = p.K, C = p.C;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t e = threadIdx.x; e < count * Q; e += blockDim.x)
      z[e] = channel_input(p, zs[e], first + e / Q, e % Q, c, i, j);
    __syncthreads();
    for (int64_t e = threadIdx.x; e < count * K; e += blockDim.x) {
      const int64_t g = e / K, k = e % K;
      float sum = 0;
      for (int64_t q = 0; q < Q; ++q) sum += p.w[p.out_wt + (c * Q + q) * K + k] * z[g * Q + q];
      const float logit = sum + p.w[p.out_b + c * K + k];
      logits[e] = logit;
      if (p.logits_out) p.logits_out[(((((first + g) * C + c) * K + k) * p.H + i) * p.W) + j] = logit;
    }
    __syncthreads();
    for (int64_t g = threadIdx.x; g < count; g += blockDim.x) {
      double max = -INFINITY;
      for (int64_t k = 0; k < K; ++k) max = ::fmax(max, double(logits[g * K + k]));
      weights[g * (K + 1) + K] = max;
    }
    __syncthreads();
    for (int64_t e = threadIdx.x; e < count * K; e += blockDim.x) {
      const int64_t g = e / K, k = e % K;
      weights[g * (K + 1) + k] = level_weight(logits[e], weights[g * (K + 1) + K], p.temperature);
    }
    __syncthreads();
    for (int64_t g = threadIdx.x; g < count; g += blockDim.x) {
      const int64_t b = first + g, at = ((b * C + c) * p.H + i) * p.W + j;
      int level;
      if (p.known_mask && p.known_mask[at]) {
        level = p.known[at];
      } else {
        const int64_t position = (int64_t(i) * p.W + j) * C + c;  // generation order, as the naive sampler counts
        level = level_from_weights(weights + g * (K + 1), K, sample_uniform(p.seed, p.first_image + b, position));
        if (level == kNoLevel) *p.diverged = 1, level = 0;  // reported when the job ends
      }
      p.levels[at] = uint8_t(level);
      p.xt[at] = float(2.0 * level / double(K - 1) - 1.0);  // as toUnit() rounds it
    }
    __syncthreads();
  }
}

// draw_pixel for images [first, first + count) of the batch at the position of `a`,
// with their rows of the scratch; the draws' doubles in dynamic shared memory.
__device__ inline void draw_images(const PositionArgs& a, int64_t first, int64_t count) {
  const SamplerPlan& p = a.p;
  draw_pixel(p, first, count, *a.row, a.j, a.s.zs + first * p.Q, a.s.z + first * p.Q, a.s.logits + first * p.K,
             dynamic_shared<double>());
}

// Images per thread block of the draws.
constexpr int kHeadImages = 8;

// The draws at (i, j) for images [kHeadImages · blockIdx.x, + kHeadImages), after
// HeadHidden. Dynamic shared memory: kHeadImages · (K + 1) doubles.
__global__ void head_draw_kernel(PositionArgs a) {
  let_next_kernel_start();
  wait_for_previous_kernel();
  const SamplerPlan& p = a.p;
  const int64_t first = int64_t(blockIdx.x) * kHeadImages;
  draw_images(a, first, min(int64_t(kHeadImages), p.B - first));
}

// The head's hidden layer and the draws in one launch, where one tile of the product
// holds every hidden unit (Q ≤ kGemmCols): each block computes its kGemmRows images'
// zs, then draws them, which saves a launch a position (the draws' own kernel took
// about 7 µs of the 87 a position on an H200). Dynamic shared memory: kGemmRows · (K + 1)
// doubles.
__global__ void __launch_bounds__(kGemmThreads) head_hidden_draw_kernel(HeadHidden head) {
  __shared__ GemmTileShared shared;
  let_next_kernel_start();
  const SamplerPlan& p = head.p;
  const int first = int(blockIdx.x) * kGemmRows;
  gemm_tile(head, int(p.B), int(p.Q), int(p.S), first, 0, shared, [] { wait_for_previous_kernel(); });
  __syncthreads();  // the block's zs, which its threads wrote to global memory
  draw_images(head, first, min(int64_t(kGemmRows), p.B - first));
}

}  // namespace gpcnn
