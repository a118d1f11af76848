// op.out(m, n, Σ_k op.a(m, k)·op.b(k, n)) for every m < rows, n < cols: the cached
// sampler's products over the whole batch (rows are images), so that each weight read
// from memory serves a tile of images instead of one. The operands come through the
// product's methods, which fuse the gathers, gates and ReLUs around it into its loads,
// and out() takes the sum (biases, residuals, writes). One struct carries all three
// methods, so that a launch passes its arguments once.
//
// These products are small (a few hundred images, outputs and k), so their time is
// latency: a launch has about one tile per SM. To keep enough loads in flight, each
// tile's k range is split between kGemmSplits groups of threads, which sum their
// parts at once and add them in group order at the end; each k within a group runs in
// order, so a sum's bits do not depend on the launch.
#pragma once

#include "../core/host_device.h"
#include "launch.cuh"

namespace gpcnn {

constexpr int kGemmRows = 16;   // images per tile
constexpr int kGemmCols = 32;   // outputs per tile
constexpr int kGemmDepth = 32;  // k per step through shared memory
constexpr int kGemmSplits = 4;  // groups of threads, each summing its own part of k
// Each thread of a group sums a 2 × 2 square of the tile: two images × two outputs, so
// that each k costs it two shared-memory reads (a pair of each operand) for four products.
constexpr int kGemmColPairs = kGemmCols / 2;
constexpr int kGemmGroupThreads = (kGemmRows / 2) * kGemmColPairs;
constexpr int kGemmThreads = kGemmSplits * kGemmGroupThreads;
static_assert(kGemmThreads == kGemmSplits * kGemmRows * kGemmCols / 4, "one thread per 2 × 2 square per group");
static_assert(kGemmThreads == kGemmRows * kGemmCols, "one thread per output of the tile at the end");
// A rows' stride of 18 floats keeps the pairs 8-byte aligned and makes the k-major stores
// of 32 consecutive k hit 16 banks instead of 2.
constexpr int kGemmRowStride = kGemmRows + 2;

// A tile's shared memory. Both operand tiles are k-major, so that a thread reads its
// pair of images and its pair of outputs at one k as one 8-byte word each.
struct GemmTileShared {
  __align__(16) float a[kGemmSplits][kGemmDepth][kGemmRowStride];
  __align__(16) float b[kGemmSplits][kGemmDepth][kGemmCols];
  __align__(16) float part[kGemmSplits][kGemmRows][kGemmCols];
};

// The tile of outputs [row0, + kGemmRows) × [col0, + kGemmCols) of the product, by all
// kGemmThreads threads of the block (it has barriers: every thread calls it).
// `before_a()` runs once the first step's B operand, a constant weight, is loading, and
// before A loads: there a kernel launched overlapped (launch_overlapped) waits for the
// kernel before it, and a cluster's block for the others to finish writing A, while
// the weights are on their way.
template <typename Product, typename BeforeA>
__device__ void gemm_tile(const Product& op, int rows, int cols, int depth, int row0, int col0, GemmTileShared& shared,
                          BeforeA before_a) {
  const int group = threadIdx.x / kGemmGroupThreads, t = threadIdx.x % kGemmGroupThreads;
  const int col = 2 * (t % kGemmColPairs), row = 2 * (t / kGemmColPairs);
  // Every group runs the same number of steps (barriers are block-wide); k past the
  // group's part reads as zero.
  const int steps = (depth + kGemmDepth * kGemmSplits - 1) / (kGemmDepth * kGemmSplits);
  const int k_begin = group * steps * kGemmDepth, k_end = min(depth, k_begin + steps * kGemmDepth);
  constexpr int kLoadsA = kGemmRows * kGemmDepth / kGemmGroupThreads, kLoadsB = kGemmDepth * kGemmCols / kGemmGroupThreads;
  // Each step's operands are loaded into registers while the step before computes, so
  // that the loads' latency hides behind arithmetic. Fixed trip counts keep them in
  // registers and every load of a step in flight at once. The loads run along k for A
  // (an image's operands are contiguous in k) and along outputs for B (the weights are
  // [k][n]).
  float next_a[kLoadsA], next_b[kLoadsB];
  auto load_a = [&](int k0) {
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsA; ++q) {
      const int e = t + q * kGemmGroupThreads, k = e % kGemmDepth, r = e / kGemmDepth;
      next_a[q] = row0 + r < rows && k0 + k < k_end ? op.a(row0 + r, k0 + k) : 0.f;
    }
  };
  auto load_b = [&](int k0) {
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsB; ++q) {
      const int e = t + q * kGemmGroupThreads, c = e % kGemmCols, k = e / kGemmCols;
      next_b[q] = col0 + c < cols && k0 + k < k_end ? op.b(k0 + k, col0 + c) : 0.f;
    }
  };
  float s00 = 0, s01 = 0, s10 = 0, s11 = 0;  // s[image][output] of the thread's square
  load_b(k_begin);
  before_a();
  load_a(k_begin);
  for (int step = 0; step < steps; ++step) {
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsA; ++q) {
      const int e = t + q * kGemmGroupThreads;
      shared.a[group][e % kGemmDepth][e / kGemmDepth] = next_a[q];
    }
    GPCNN_UNROLL
    for (int q = 0; q < kLoadsB; ++q) {
      const int e = t + q * kGemmGroupThreads;
      shared.b[group][e / kGemmCols][e % kGemmCols] = next_b[q];
    }
    __syncthreads();
    if (step + 1 < steps) load_a(k_begin + (step + 1) * kGemmDepth), load_b(k_begin + (step + 1) * kGemmDepth);
    GPCNN_UNROLL
    for (int k = 0; k < kGemmDepth; ++k) {
      const float2 a = *reinterpret_cast<const float2*>(&shared.a[group][k][row]);
      const float2 b = *reinterpret_cast<const float2*>(&shared.b[group][k][col]);
      s00 += a.x * b.x, s01 += a.x * b.y, s10 += a.y * b.x, s11 += a.y * b.y;
    }
    __syncthreads();
  }
  shared.part[group][row][col] = s00, shared.part[group][row][col + 1] = s01;
  shared.part[group][row + 1][col] = s10, shared.part[group][row + 1][col + 1] = s11;
  __syncthreads();
  // One thread per output of the tile, consecutive threads on consecutive outputs.
  const int r = threadIdx.x / kGemmCols, c = threadIdx.x % kGemmCols, m = row0 + r, n = col0 + c;
  if (m >= rows || n >= cols) return;
  float sum = shared.part[0][r][c];
  GPCNN_UNROLL
  for (int g = 1; g < kGemmSplits; ++g) sum += shared.part[g][r][c];
  op.out(m, n, sum);
}

template <typename Product>
__global__ void __launch_bounds__(kGemmThreads) batch_gemm_kernel(int rows, int cols, int depth, Product op) {
  __shared__ GemmTileShared shared;
  let_next_kernel_start();
  gemm_tile(op, rows, cols, depth, blockIdx.y * kGemmRows, blockIdx.x * kGemmCols, shared,
            [] { wait_for_previous_kernel(); });
}

// Queues the product on `stream`; rows, cols and depth must be positive. With
// `overlap`, it may start before the kernel before it ends (launch.cuh): op.b() must
// read only what no kernel writes meanwhile.
template <typename Product>
void batch_gemm(cudaStream_t stream, int rows, int cols, int depth, const Product& op, bool overlap) {
  const dim3 grid(unsigned((cols + kGemmCols - 1) / kGemmCols), unsigned((rows + kGemmRows - 1) / kGemmRows));
  launch_overlapped(overlap, batch_gemm_kernel<Product>, grid, kGemmThreads, 0, stream, rows, cols, depth, op);
}

}  // namespace gpcnn
