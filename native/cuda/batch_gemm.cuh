// op.out(m, n, Σ_k op.a(m, k)·op.b(k, n)) for every m < rows, n < cols: the cached
// sampler's products over the whole batch (rows are images), so that each weight read
// from memory serves a tile of images instead of one. The operands come through the
// product's methods, which fuse the gathers, gates and ReLUs around it into its loads,
// and out() takes the sum (biases, residuals, writes). Each k runs in order, so a
// sum's bits do not depend on the launch. One struct carries all three methods, so
// that a launch passes its arguments once.
#pragma once

#include "../core/host_device.h"
#include "launch.cuh"

namespace gpcnn {

constexpr int kGemmThreads = 256;
constexpr int kGemmRows = 16;   // images per tile
constexpr int kGemmCols = 32;   // outputs per tile
constexpr int kGemmDepth = 64;  // k per step through shared memory
constexpr int kGemmRowGroups = kGemmThreads / kGemmCols;  // each thread sums rows r and r + 8

template <typename Product>
__global__ void __launch_bounds__(kGemmThreads, 1) batch_gemm_kernel(int rows, int cols, int depth, Product op) {
  // a_tile is k-major with an odd row length, so that neither its stores (consecutive
  // threads, consecutive k) nor its reads (a warp shares one row) conflict on banks.
  __shared__ float a_tile[kGemmDepth][kGemmRows + 1];
  __shared__ float b_tile[kGemmDepth][kGemmCols];
  const int t = threadIdx.x, col = t % kGemmCols, row = t / kGemmCols;
  const int row0 = blockIdx.y * kGemmRows, col0 = blockIdx.x * kGemmCols;
  constexpr int kLoadsA = kGemmRows * kGemmDepth / kGemmThreads, kLoadsB = kGemmDepth * kGemmCols / kGemmThreads;
  // Each step's operands are loaded into registers while the step before computes, so
  // that the loads' latency hides behind arithmetic. Fixed trip counts keep them in
  // registers and every load of a step in flight at once.
  float next_a[kLoadsA], next_b[kLoadsB];
  auto load = [&](int k0) {
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsA; ++q) {
      const int e = t + q * kGemmThreads, r = e / kGemmDepth, k = e % kGemmDepth;
      next_a[q] = row0 + r < rows && k0 + k < depth ? op.a(row0 + r, k0 + k) : 0.f;
    }
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsB; ++q) {
      const int e = t + q * kGemmThreads, k = e / kGemmCols, c = e % kGemmCols;
      next_b[q] = col0 + c < cols && k0 + k < depth ? op.b(k0 + k, col0 + c) : 0.f;
    }
  };
  float sums[kGemmRows / kGemmRowGroups] = {};
  load(0);
  for (int k0 = 0; k0 < depth; k0 += kGemmDepth) {
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsA; ++q) {
      const int e = t + q * kGemmThreads;
      a_tile[e % kGemmDepth][e / kGemmDepth] = next_a[q];
    }
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsB; ++q) {
      const int e = t + q * kGemmThreads;
      b_tile[e / kGemmCols][e % kGemmCols] = next_b[q];
    }
    __syncthreads();
    if (k0 + kGemmDepth < depth) load(k0 + kGemmDepth);
    for (int k = 0; k < kGemmDepth; ++k) {
      const float w = b_tile[k][col];
      for (int s = 0; s < kGemmRows / kGemmRowGroups; ++s) sums[s] += a_tile[k][row + s * kGemmRowGroups] * w;
    }
    __syncthreads();
  }
  for (int s = 0; s < kGemmRows / kGemmRowGroups; ++s) {
    const int m = row0 + row + s * kGemmRowGroups, n = col0 + col;
    if (m < rows && n < cols) op.out(m, n, sums[s]);
  }
}

// Queues the product on `stream`; rows, cols and depth must be positive.
template <typename Product>
void batch_gemm(cudaStream_t stream, int rows, int cols, int depth, const Product& op) {
  const dim3 grid(unsigned((cols + kGemmCols - 1) / kGemmCols), unsigned((rows + kGemmRows - 1) / kGemmRows));
  launch(batch_gemm_kernel<Product>, grid, kGemmThreads, 0, stream, rows, cols, depth, op);
}

}  // namespace gpcnn
