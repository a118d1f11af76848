// A row's positions in one launch, each thread block taking a tile of kImages images
// through every position of the row alone (GATED_PIXELCNN_SAMPLER=tile): no image
// reads another, so a block never waits for another block, and a product costs a
// barrier instead of a launch.
//
// The graph design (sampler_position.cuh) spends about 7 µs a product on an H200, most
// of it launch and L2 latency; an earlier kernel of this shape, which loaded one weight
// at a time for a few images, was issue-bound instead (ncu: 136 µs a position). Here a
// thread owns four neighbouring outputs and reads their weights as one 16-byte load,
// which serves 4 · kImages multiply-adds, with the tile's operand broadcast from shared
// memory; the next few weight rows load while the current ones are used. The
// weights stream from L2 for every tile: the tile's size trades that traffic (fewer,
// larger tiles) against the multiprocessors used (more, smaller ones).
//
// Per position j, for each block l: the window of the horizontal stack (the image for
// block 0, the block below's horizontal output from a ring of the last columns for the
// others) · h + h_base; the gate; skip and residual (the residual, plus the block's
// input, into the ring at column j). Then the head's hidden layer over relu(skip), and
// the draws (draw_pixel), which write the levels into xt, where the next position's
// window reads them. All state but the image stays in shared memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../core/relu.h"
#include "../core/sampler_layout.h"
#include "launch.cuh"
#include "sampler_position.cuh"

namespace gpcnn {

constexpr int kTileThreads = 512;
constexpr int kTileSplits = 8;                              // threads summing parts of one output's k
constexpr int kTileQuads = kTileThreads / kTileSplits;      // groups of four outputs a pass
// Weight rows a thread loads at once: twice that many rows of four in registers (the
// batch in use and the next), beside 4 · images sums: the most that fit 128 registers
// without spilling for both sm_80 and sm_90 (ptxas -v).
template <int kImages>
constexpr int kTileBatch = kImages == 2 ? 6 : kImages == 4 ? 5 : 4;

// A thread's sums in `partial`: 4 · images floats and one more, so that the threads of a
// warp, storing theirs at once, start on different banks (at 4 · images floats apart,
// 16 of them would share two).
GPCNN_HD constexpr int tile_sums_stride(int images) { return 4 * images + 1; }

// Where a block's shared memory holds what (offsets in floats, 16-byte aligned).
// 32-bit, as the kernel's index arithmetic is.
struct TilePlan {
  int images;        // per block
  int ring_columns;  // the residual columns a block's window reads: hdx + 1
  int window, pre, gates, ring, skip, relu_skip, partial, zs, z, logits;
  int64_t bytes;
};

inline TilePlan tile_plan(const SamplerPlan& p, const BlockPlan* blocks, int images) {
  TilePlan t{};
  t.images = images;
  t.ring_columns = ring_columns(p, blocks);
  int64_t window = 0;
  for (int64_t l = 0; l < p.L; ++l) window = std::max(window, blocks[l].cin * blocks[l].hkw);
  SharedLayout shared(images * (p.K + 1));
  t.window = shared.take(window * images);
  t.pre = shared.take(images * 2 * p.P);
  t.gates = shared.take(p.P * images);
  t.ring = shared.take((p.L - 1) * t.ring_columns * images * p.P);
  t.skip = shared.take(images * p.S);
  t.relu_skip = shared.take(p.S * images);
  t.partial = shared.take(int64_t(kTileThreads) * tile_sums_stride(images));
  t.zs = shared.take(images * p.Q), t.z = shared.take(images * p.Q), t.logits = shared.take(images * p.K);
  t.bytes = shared.bytes();
  return t;
}

// Four weights in one 16-byte load, through L2 only: they stream past once a position,
// and would push the biases and h_base, which the products' ends read, out of L1. `at`
// is 16-byte aligned. The emulator copies the bytes instead, trapping where a GPU would
// fault: its host compiler, told by the type that `at` is aligned, once merged the
// four-load path below into an aligned load at an address that was not.
__device__ inline float4 load_weights4(const float* at) {
#ifdef GPCNN_CUDA_EMULATOR
  if (reinterpret_cast<uintptr_t>(at) % 16 != 0) __trap();
  float4 v;
  std::memcpy(&v, at, sizeof v);
  return v;
#else
  return __ldcg(reinterpret_cast<const float4*>(at));
#endif
}

// Columns [0, cols) of a [depth][stride] weight matrix, four at a time: one 16-byte load
// where the row stride keeps them aligned (the flat weights start each matrix on 64
// bytes) and all four exist, else four loads, zero past the last column.
struct WeightQuads {
  const float* w;
  int stride, cols;

  __device__ int quads() const { return (cols + 3) / 4; }
  __device__ float4 load(int k, int n) const {
    const float* at = w + int64_t(k) * stride + n;
    if (stride % 4 == 0 && n + 3 < cols) return load_weights4(at);
    float4 v{0.f, 0.f, 0.f, 0.f};
    if (n < cols) v.x = __ldcg(at);
    if (n + 1 < cols) v.y = __ldcg(at + 1);
    if (n + 2 < cols) v.z = __ldcg(at + 2);
    if (n + 3 < cols) v.w = __ldcg(at + 3);
    return v;
  }
};

// The operand's kImages values at one k, in 16-byte loads (one 8-byte load for two
// images): the operand's arrays start on 16 bytes, so each k's values start on
// 4 · kImages bytes.
template <int kImages>
__device__ inline void load_operand(const float* row, float (&x)[kImages]) {
  if constexpr (kImages % 4 == 0) {
    GPCNN_UNROLL
    for (int q = 0; q < kImages / 4; ++q) {
      const float4 v = reinterpret_cast<const float4*>(row)[q];
      x[4 * q] = v.x, x[4 * q + 1] = v.y, x[4 * q + 2] = v.z, x[4 * q + 3] = v.w;
    }
  } else {
    static_assert(kImages == 2, "tiles of 2, 4 or 8 images");
    const float2 v = *reinterpret_cast<const float2*>(row);
    x[0] = v.x, x[1] = v.y;
  }
}

// out(m, matrix, n, Σ_k a[k][m] · W_matrix[k][n]) for the tile's images m < kImages and
// every column n of one or two weight matrices that share the operand a ([depth][kImages]
// in shared memory), by every thread of the block (it has barriers). Each output's k is
// split between kTileSplits threads, whose parts go through `partial` and are added in
// order, so that a sum's bits do not depend on the launch.
template <int kImages, typename Out>
__device__ void tile_product(const float* a, int depth, WeightQuads first, WeightQuads second, float* partial,
                             Out out) {
  const int slot = threadIdx.x % kTileQuads, split = threadIdx.x / kTileQuads;
  const int chunk = (depth + kTileSplits - 1) / kTileSplits;
  const int k_begin = min(depth, split * chunk), k_end = min(depth, k_begin + chunk);
  const int quads = first.quads() + second.quads();
  // Quad q's first column in its matrix: the first matrix's quads come first.
  auto column = [&](int q) { return 4 * (q < first.quads() ? q : q - first.quads()); };
  for (int q0 = 0; q0 < quads; q0 += kTileQuads) {  // the same trip count in every thread
    const int q = q0 + slot, n = column(q);
    const WeightQuads w = q < first.quads() ? first : second;  // a copy: a reference to either would live on the stack
    float sum[kImages][4] = {};
    if (q < quads) {
      float4 next[kTileBatch<kImages>];
      auto load = [&](int k0) {
        GPCNN_UNROLL
        for (int u = 0; u < kTileBatch<kImages>; ++u)
          next[u] = k0 + u < k_end ? w.load(k0 + u, n) : float4{0.f, 0.f, 0.f, 0.f};
      };
      load(k_begin);
      for (int k0 = k_begin; k0 < k_end; k0 += kTileBatch<kImages>) {
        float4 rows[kTileBatch<kImages>];
        GPCNN_UNROLL
        for (int u = 0; u < kTileBatch<kImages>; ++u) rows[u] = next[u];
        if (k0 + kTileBatch<kImages> < k_end) load(k0 + kTileBatch<kImages>);
        GPCNN_UNROLL
        for (int u = 0; u < kTileBatch<kImages>; ++u) {
          if (k0 + u >= k_end) break;
          float x[kImages];
          load_operand<kImages>(a + (k0 + u) * kImages, x);
          GPCNN_UNROLL
          for (int m = 0; m < kImages; ++m) {
            sum[m][0] += x[m] * rows[u].x, sum[m][1] += x[m] * rows[u].y;
            sum[m][2] += x[m] * rows[u].z, sum[m][3] += x[m] * rows[u].w;
          }
        }
      }
    }
    constexpr int kStride = tile_sums_stride(kImages);
    float* own = partial + (split * kTileQuads + slot) * kStride;
    GPCNN_UNROLL
    for (int m = 0; m < kImages; ++m)
      GPCNN_UNROLL
      for (int c = 0; c < 4; ++c) own[m * 4 + c] = sum[m][c];
    __syncthreads();
    for (int e = threadIdx.x; e < kTileQuads * kImages * 4; e += kTileThreads) {
      const int s = e / (kImages * 4), m = e / 4 % kImages, c = e % 4, oq = q0 + s;
      if (oq >= quads) continue;
      const bool of_first = oq < first.quads();
      const int on = column(oq) + c;
      if (on >= (of_first ? first.cols : second.cols)) continue;
      float total = 0;
      for (int p = 0; p < kTileSplits; ++p) total += partial[(p * kTileQuads + s) * kStride + m * 4 + c];
      out(m, of_first ? 0 : 1, on, total);
    }
    __syncthreads();
  }
}

// Row i = *row's positions for images [kImages · blockIdx.x, + kImages) of the batch.
// Dynamic shared memory: t.bytes, laid out by tile_plan().
template <int kImages>
__global__ void __launch_bounds__(kTileThreads) positions_tile_kernel(SamplerPlan p, TilePlan t, const int* row) {
  const int i = *row, P = int(p.P), S = int(p.S), Q = int(p.Q), W = int(p.W);
  const int64_t first = int64_t(blockIdx.x) * kImages;
  const int images = int(min(int64_t(kImages), p.B - first));
  float* shared = dynamic_shared<float>();
  float *window = shared + t.window, *pre = shared + t.pre, *gates = shared + t.gates, *ring = shared + t.ring;
  float *skip = shared + t.skip, *relu_skip = shared + t.relu_skip, *partial = shared + t.partial;
  const WeightQuads none{nullptr, 0, 0};  // a product's absent second matrix
  // Block l's horizontal output at column c, [kImages][P].
  auto ring_at = [&](int l, int c) { return ring + (l * t.ring_columns + c % t.ring_columns) * kImages * P; };
  for (int j = 0; j < W; ++j) {
    for (int l = 0; l < int(p.L); ++l) {
      const BlockPlan& bl = p.blocks[l];
      const int cin = int(bl.cin), depth = cin * int(bl.hkw);
      // The window, taps (e, c) tap-major as h's inputs are arranged, images inner.
      for (int e = threadIdx.x; e < depth * kImages; e += kTileThreads) {
        const int tap = e / kImages, m = e % kImages, c = tap % cin, sj = j - int(bl.hdx) + tap / cin;
        float x = 0.f;
        if (m < images && sj >= 0 && sj < W)
          x = l == 0 ? p.xt[(((first + m) * p.C + c) * p.H + i) * W + sj] : ring_at(l - 1, sj)[m * P + c];
        window[e] = x;
      }
      // h_base, read here, beside the window, rather than after the product.
      for (int e = threadIdx.x; e < kImages * 2 * P; e += kTileThreads) {
        const int m = e / (2 * P), o = e % (2 * P);
        pre[e] = m < images ? p.h_base[((l * p.B + first + m) * W + j) * 2 * P + o] : 0.f;
      }
      __syncthreads();
      const WeightQuads h{p.w + bl.h_wt, 2 * P, 2 * P};
      tile_product<kImages>(window, depth, h, none, partial,
                            [&](int m, int, int o, float sum) { pre[m * 2 * P + o] += sum; });
      for (int e = threadIdx.x; e < P * kImages; e += kTileThreads) {
        const int c = e / kImages, m = e % kImages;
        gates[e] = gate_f(pre[m * 2 * P + c], pre[m * 2 * P + P + c]);
      }
      __syncthreads();
      // Skip outputs, summed over the blocks; the residual below the last block (the
      // last one's horizontal output feeds nothing).
      const bool last = l == int(p.L) - 1;
      const WeightQuads skips{p.w + bl.skip_wt, S, S}, residuals{p.w + bl.res_wt, P, last ? 0 : P};
      tile_product<kImages>(gates, P, skips, residuals, partial, [&](int m, int matrix, int n, float sum) {
        if (matrix == 0) {
          float& total = skip[m * S + n];
          total = (l == 0 ? 0.f : total) + sum + p.w[bl.skip_b + n];
        } else {
          const float below = l == 0 ? 0.f : ring_at(l - 1, j)[m * P + n];
          ring_at(l, j)[m * P + n] = sum + p.w[bl.res_b + n] + below;
        }
      });
    }
    // The head's hidden layer over relu(skip), then the draws.
    for (int e = threadIdx.x; e < S * kImages; e += kTileThreads)
      relu_skip[e] = relu(skip[e % kImages * S + e / kImages]);
    __syncthreads();
    const WeightQuads hidden{p.w + p.hidden_wt, Q, Q};
    float* zs = shared + t.zs;
    tile_product<kImages>(relu_skip, S, hidden, none, partial,
                          [&](int m, int, int q, float sum) { zs[m * Q + q] = sum + p.w[p.hidden_b + q]; });
    draw_pixel(p, first, images, i, j, zs, shared + t.z, shared + t.logits, reinterpret_cast<double*>(shared));
  }
}

}  // namespace gpcnn
