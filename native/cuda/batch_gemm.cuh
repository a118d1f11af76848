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

constexpr int kGemmThreads = 128;
constexpr int kGemmRows = 16;   // images per tile
constexpr int kGemmCols = 32;   // outputs per tile
constexpr int kGemmDepth = 64;  // k per step through shared memory
// Each thread sums a 2 × 2 square of the tile: two images × two outputs, so that each
// k costs it two shared-memory reads (a pair of each operand) for four products.
constexpr int kGemmColPairs = kGemmCols / 2;
static_assert(kGemmThreads == (kGemmRows / 2) * kGemmColPairs, "one thread per 2 × 2 square of the tile");

template <typename Product>
__global__ void __launch_bounds__(kGemmThreads) batch_gemm_kernel(int rows, int cols, int depth, Product op) {
  // Both tiles are k-major, so that a thread reads its pair of images and its pair of
  // outputs at one k as one 8-byte word each; consecutive threads store consecutive
  // rows (columns) of one k, so stores do not conflict on banks either.
  __align__(16) __shared__ float a_tile[kGemmDepth][kGemmRows];
  __align__(16) __shared__ float b_tile[kGemmDepth][kGemmCols];
  const int t = threadIdx.x, col = 2 * (t % kGemmColPairs), row = 2 * (t / kGemmColPairs);
  const int row0 = blockIdx.y * kGemmRows, col0 = blockIdx.x * kGemmCols;
  constexpr int kLoadsA = kGemmRows * kGemmDepth / kGemmThreads, kLoadsB = kGemmDepth * kGemmCols / kGemmThreads;
  // Each step's operands are loaded into registers while the step before computes, so
  // that the loads' latency hides behind arithmetic. Fixed trip counts keep them in
  // registers and every load of a step in flight at once.
  float next_a[kLoadsA], next_b[kLoadsB];
  auto load = [&](int k0) {
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsA; ++q) {
      const int e = t + q * kGemmThreads, r = e % kGemmRows, k = e / kGemmRows;
      next_a[q] = row0 + r < rows && k0 + k < depth ? op.a(row0 + r, k0 + k) : 0.f;
    }
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsB; ++q) {
      const int e = t + q * kGemmThreads, c = e % kGemmCols, k = e / kGemmCols;
      next_b[q] = col0 + c < cols && k0 + k < depth ? op.b(k0 + k, col0 + c) : 0.f;
    }
  };
  float s00 = 0, s01 = 0, s10 = 0, s11 = 0;  // s[image][output] of the thread's square
  load(0);
  for (int k0 = 0; k0 < depth; k0 += kGemmDepth) {
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsA; ++q) {
      const int e = t + q * kGemmThreads;
      a_tile[e / kGemmRows][e % kGemmRows] = next_a[q];
    }
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsB; ++q) {
      const int e = t + q * kGemmThreads;
      b_tile[e / kGemmCols][e % kGemmCols] = next_b[q];
    }
    __syncthreads();
    if (k0 + kGemmDepth < depth) load(k0 + kGemmDepth);
    for (int k = 0; k < kGemmDepth; ++k) {
      const float2 a = *reinterpret_cast<const float2*>(&a_tile[k][row]);
      const float2 b = *reinterpret_cast<const float2*>(&b_tile[k][col]);
      s00 += a.x * b.x, s01 += a.x * b.y, s10 += a.y * b.x, s11 += a.y * b.y;
    }
    __syncthreads();
  }
  const int m = row0 + row, n = col0 + col;
  if (m < rows && n < cols) op.out(m, n, s00);
  if (m < rows && n + 1 < cols) op.out(m, n + 1, s01);
  if (m + 1 < rows && n < cols) op.out(m + 1, n, s10);
  if (m + 1 < rows && n + 1 < cols) op.out(m + 1, n + 1, s11);
}

// Queues the product on `stream`; rows, cols and depth must be positive.
template <typename Product>
void batch_gemm(cudaStream_t stream, int rows, int cols, int depth, const Product& op) {
  const dim3 grid(unsigned((cols + kGemmCols - 1) / kGemmCols), unsigned((rows + kGemmRows - 1) / kGemmRows));
  launch(batch_gemm_kernel<Product>, grid, kGemmThreads, 0, stream, rows, cols, depth, op);
}

}  // namespace gpcnn
