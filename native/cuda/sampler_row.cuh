// The cached sampler's positions on the GPU: one kernel per row, in which each thread
// block takes a tile of at most kImages images through every position of the row on
// its own. Images do not depend on each other, so no block waits for another, and a
// position's chain (per block: the pre-activation product, the gate, the skip and
// residual product; then the head's hidden layer and the draws) runs between
// __syncthreads() instead of between kernel launches, whose latency was most of the
// time of the products when they ran as kernels over the whole batch. Each block reads
// every weight from L2 at each position, shared by its tile's images (tile_product.cuh).
//
// Global state as in sampler_layout.h; the tile's activations live in shared memory,
// k-major with the tile's images contiguous (RowTile).
#pragma once

#include <algorithm>

#include "../core/sample_draw.h"
#include "../core/sampler_layout.h"
#include "launch.cuh"
#include "tile_product.cuh"

namespace gpcnn {

// The tile's shared memory, in floats from the start of the dynamic shared memory:
// act [depth][kImages] the product operand (a block's window, its gated output, the
// head's relu(skip), a channel's z); pre [2P][kImages]; skip [S][kImages] the sum of the
// blocks' skip outputs; zs [Q][kImages] the head's hidden layer before the channel
// terms; logits [K][kImages]; partial [kTileThreads][kImages] (tile_product); then
// doubles: weights [kImages][K + 1] (each image's level weights and its maximum logit).
struct RowTile {
  int64_t act, pre, skip, zs, logits, partial, weights, bytes;

  static RowTile layout(const SamplerPlan& p, int64_t depth, int images) {
    RowTile t{};
    int64_t at = 0;
    auto take = [&](int64_t rows) {
      const int64_t start = at;
      at += (rows * images + 3) / 4 * 4;  // rows stay 16-byte aligned
      return start;
    };
    t.act = take(depth), t.pre = take(2 * p.P), t.skip = take(p.S), t.zs = take(p.Q), t.logits = take(p.K);
    t.partial = take(kTileThreads);
    const int64_t doubles_at = (at + 1) / 2 * 2;  // floats before the doubles, 8-byte aligned
    t.weights = doubles_at / 2;
    t.bytes = sizeof(float) * doubles_at + sizeof(double) * images * (p.K + 1);
    return t;
  }
};

// The deepest product operand: a block's window, P, S or Q.
inline int64_t row_tile_depth(const SamplerPlan& p, const BlockPlan* blocks) {
  int64_t depth = std::max({p.P, p.S, p.Q});
  for (int64_t l = 0; l < p.L; ++l) depth = std::max(depth, blocks[l].cin * blocks[l].hkw);
  return depth;
}

// Positions (i, 0 … W − 1) for images [kImages · blockIdx.x, + kImages); dynamic shared
// memory as `tile` says.
template <int kImages>
__global__ void __launch_bounds__(kTileThreads) sample_row_kernel(SamplerPlan p, RowTile tile, int i) {
  float* shared = dynamic_shared<float>();
  float *act = shared + tile.act, *pre = shared + tile.pre, *skip = shared + tile.skip, *zs = shared + tile.zs;
  float *logits = shared + tile.logits, *partial = shared + tile.partial;
  double* weights = reinterpret_cast<double*>(shared) + tile.weights;
  const int64_t first = int64_t(blockIdx.x) * kImages;
  const int images = int(min(int64_t(kImages), p.B - first));
  const int P = int(p.P), S = int(p.S), Q = int(p.Q), K = int(p.K), C = int(p.C), W = int(p.W), H = int(p.H);
  const int64_t layer = p.B * p.W * p.P;  // one block's h_row
  // Fills act[k][m] = value(m, k) for k < depth, zero for the images the tile lacks;
  // k runs fastest, along the rows of global memory that the values come from.
  auto stage = [&](int depth, auto value) {
    for (int e = threadIdx.x; e < depth * kImages; e += kTileThreads) {
      const int m = e / depth, k = e % depth;
      act[k * kImages + m] = m < images ? value(first + m, k) : 0.f;
    }
    __syncthreads();
  };

  for (int j = 0; j < W; ++j) {
    for (int l = 0; l < int(p.L); ++l) {
      const BlockPlan& bl = p.blocks[l];
      // The window: taps (e, c), tap-major, of row i at columns j − hdx + e, from the
      // image (block 0) or the block below's horizontal output.
      const int cin = int(bl.cin), taps = cin * int(bl.hkw);
      stage(taps, [&](int64_t b, int t) {
        const int c = t % cin, sj = j - int(bl.hdx) + t / cin;
        if (sj < 0 || sj >= W) return 0.f;
        return l == 0 ? p.xt[((b * C + c) * H + i) * W + sj] : p.h_row[(l - 1) * layer + (b * W + sj) * P + c];
      });
      // pre = window · h + h_base (vh(u_v), the biases and the conditioning).
      tile_product<kImages>(act, taps, 2 * P, images, partial,
                            [&](int k, int o) { return p.w[bl.h_wt + int64_t(k) * 2 * P + o]; },
                            [&](int m, int o, float sum) {
                              pre[o * kImages + m] = sum + p.h_base[((l * p.B + first + m) * W + j) * 2 * P + o];
                            });
      __syncthreads();
      stage(P, [&](int64_t b, int c) {
        const int m = int(b - first);
        return gate_f(pre[c * kImages + m], pre[(c + P) * kImages + m]);
      });
      // [skip | res] = g · [skip | res] weights: skip sums over the blocks; res, below the
      // last block, gives the horizontal output (plus the block's input, except in block 0).
      const int outputs = S + (l < p.L - 1 ? P : 0);
      tile_product<kImages>(
          act, P, outputs, images, partial,
          [&](int c, int n) {
            return n < S ? p.w[bl.skip_wt + int64_t(c) * S + n] : p.w[bl.res_wt + int64_t(c) * P + n - S];
          },
          [&](int m, int n, float sum) {
            if (n < S) {
              float& total = skip[n * kImages + m];
              total = (l == 0 ? 0.f : total) + sum + p.w[bl.skip_b + n];
              return;
            }
            const int64_t o = n - S, at = ((first + m) * W + j) * P + o;
            const float below = l == 0 ? 0.f : p.h_row[(l - 1) * layer + at];
            p.h_row[l * layer + at] = sum + p.w[bl.res_b + o] + below;
          });
      __syncthreads();
    }

    // The head's hidden layer: zs = hidden · relu(skip) + bias.
    stage(S, [&](int64_t b, int k) { return fmaxf(skip[k * kImages + int(b - first)], 0.f); });
    tile_product<kImages>(act, S, Q, images, partial, [&](int k, int q) { return p.w[p.hidden_wt + int64_t(k) * Q + q]; },
                          [&](int m, int q, float sum) { zs[q * kImages + m] = sum + p.w[p.hidden_b + q]; });
    __syncthreads();

    // Channel by channel: z = relu(zs + prev · x_{<c}), logits = out_c · z, and a draw
    // (or the known level), written into levels and, as network input, into xt, where
    // the later channels and positions read it.
    for (int c = 0; c < C; ++c) {
      stage(Q, [&](int64_t b, int q) {
        float sum = zs[q * kImages + int(b - first)];
        for (int cp = 0; cp < c; ++cp)
          sum += p.w[p.prev + (int64_t(q) * C + c) * C + cp] * p.xt[((b * C + cp) * H + i) * W + j];
        return fmaxf(sum, 0.f);
      });
      tile_product<kImages>(act, Q, K, images, partial,
                            [&](int q, int k) { return p.w[p.out_wt + (int64_t(c) * Q + q) * K + k]; },
                            [&](int m, int k, float sum) {
                              const float logit = sum + p.w[p.out_b + c * K + k];
                              logits[k * kImages + m] = logit;
                              if (p.logits_out)
                                p.logits_out[((((first + m) * C + c) * K + k) * H + i) * W + j] = logit;
                            });
      __syncthreads();
      for (int m = threadIdx.x; m < images; m += kTileThreads) {
        double max = -INFINITY;
        for (int k = 0; k < K; ++k) max = ::fmax(max, double(logits[k * kImages + m]));
        weights[m * (K + 1) + K] = max;
      }
      __syncthreads();
      for (int e = threadIdx.x; e < images * K; e += kTileThreads) {
        const int m = e / K, k = e % K;
        weights[m * (K + 1) + k] = level_weight(logits[k * kImages + m], weights[m * (K + 1) + K], p.temperature);
      }
      __syncthreads();
      for (int m = threadIdx.x; m < images; m += kTileThreads) {
        const int64_t b = first + m, at = ((b * C + c) * H + i) * W + j;
        int level;
        if (p.known_mask && p.known_mask[at]) {
          level = p.known[at];
        } else {
          const int64_t position = (int64_t(i) * W + j) * C + c;  // generation order, as the naive sampler counts
          level = level_from_weights(weights + m * (K + 1), K, sample_uniform(p.seed, p.first_image + b, position));
        }
        p.levels[at] = uint8_t(level);
        p.xt[at] = float(2.0 * level / double(K - 1) - 1.0);  // as toUnit() rounds it
      }
      __syncthreads();
    }
  }
}

}  // namespace gpcnn
