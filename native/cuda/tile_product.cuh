// out(m, n, Σ_k a[k][m] · b(k, n)) for the images m of a tile and the outputs n < cols,
// computed by every thread of a block: the cached sampler's products (sampler_row.cuh),
// each for the few images of one thread block. The tile's operand a is in shared
// memory, k-major with the tile's images contiguous ([k][kImages]), so that the threads
// of a warp, which share k, read it as one broadcast; b comes through a function (the
// weights, [k][n] in global memory, which consecutive threads read at consecutive n).
//
// Each output gets `split` threads, a power of two, each of which sums its own
// contiguous part of k; the parts are added in order through `partial`, so that a sum's
// bits do not depend on the launch. Weights are loaded kUnroll at a time, the next
// kUnroll while the current ones are used: a block is alone on its SM, and only loads
// in flight hide the latency of L2, where the weights live.
#pragma once

#include "../core/host_device.h"

namespace gpcnn {

constexpr int kTileThreads = 512;
constexpr int kTileUnroll = 16;
constexpr int kTileMaxSplit = 16;

// Threads per output: as many as fill the block, at most kTileMaxSplit.
GPCNN_HD inline int tile_split(int cols) {
  int split = 1;
  while (split < kTileMaxSplit && 2 * split * cols <= kTileThreads) split *= 2;
  return split;
}

// The tile's operand at k: kImages values, read with vector loads (a row is 16-byte
// aligned for kImages ≥ 4).
template <int kImages>
__device__ inline void load_row(const float* row, float (&a)[kImages]) {
  if constexpr (kImages % 4 == 0) {
    GPCNN_UNROLL
    for (int q = 0; q < kImages / 4; ++q) {
      const float4 v = reinterpret_cast<const float4*>(row)[q];
      a[4 * q] = v.x, a[4 * q + 1] = v.y, a[4 * q + 2] = v.z, a[4 * q + 3] = v.w;
    }
  } else {
    GPCNN_UNROLL
    for (int m = 0; m < kImages; ++m) a[m] = row[m];
  }
}

// `partial` holds kTileThreads · kImages floats of shared memory. Every thread of the
// block must call this (it synchronizes the block when split > 1); out() is called for
// m < images only.
template <int kImages, typename B, typename Out>
__device__ void tile_product(const float* a, int depth, int cols, int images, float* partial, B b, Out out) {
  const int split = tile_split(cols), lanes = kTileThreads / split;
  const int part = threadIdx.x / lanes, lane = threadIdx.x % lanes;
  const int chunk = (depth + split - 1) / split;
  const int k_begin = min(depth, part * chunk), k_end = min(depth, k_begin + chunk);
  for (int n0 = 0; n0 < cols; n0 += lanes) {  // the same trip count in every thread
    const int n = n0 + lane;
    float sum[kImages] = {};
    if (n < cols) {
      float next[kTileUnroll];
      auto load = [&](int k0) {
        GPCNN_UNROLL
        for (int u = 0; u < kTileUnroll; ++u) next[u] = k0 + u < k_end ? b(k0 + u, n) : 0.f;
      };
      load(k_begin);
      for (int k0 = k_begin; k0 < k_end; k0 += kTileUnroll) {
        float w[kTileUnroll];
        GPCNN_UNROLL
        for (int u = 0; u < kTileUnroll; ++u) w[u] = next[u];
        if (k0 + kTileUnroll < k_end) load(k0 + kTileUnroll);
        GPCNN_UNROLL
        for (int u = 0; u < kTileUnroll; ++u) {
          if (k0 + u >= k_end) break;  // the same k in every lane of a warp
          float row[kImages];
          load_row<kImages>(a + (k0 + u) * kImages, row);
          GPCNN_UNROLL
          for (int m = 0; m < kImages; ++m) sum[m] += row[m] * w[u];
        }
      }
    }
    if (split == 1) {
      if (n < cols)
        for (int m = 0; m < images; ++m) out(m, n, sum[m]);
      continue;
    }
    GPCNN_UNROLL
    for (int m = 0; m < kImages; ++m) partial[threadIdx.x * kImages + m] = sum[m];
    __syncthreads();
    if (part == 0 && n < cols)
      for (int m = 0; m < images; ++m) {
        float total = 0;
        for (int q = 0; q < split; ++q) total += partial[(q * lanes + lane) * kImages + m];
        out(m, n, total);
      }
    __syncthreads();
  }
}

}  // namespace gpcnn
