// op.out(m, n, Σ_k A[m, k]·B[k, n] + op.prior(m, n)) for every m < rows, n < cols: the
// cached sampler's products over the whole batch (rows are images), so that each
// weight read from memory serves a tile of images instead of one. The product says
// where its operands are: column k of A starts at op.a_column(k).at, one image every
// .stride floats, and op.a_value() reads an element there (fusing the gates and ReLUs
// around the product into its loads); row k of B is op.b_row(k). prior() gives the
// terms added to the sum (biases, residuals), and out() writes it. One struct carries
// all the methods, so that a launch passes its arguments once.
//
// These products are small (a few hundred images, outputs and k), and one runs after
// another at every position, so what counts is the latency of each: a launch has about
// one tile per SM, and each tile should wait on memory as few times as possible. So a
// tile's k range is split between kGemmGroups warps, each of which loads its whole
// part (up to kGemmDepth k) in one go and sums it; the warps' sums are then added in
// warp order. prior() is loaded first, so that its latency hides behind the product.
// Each k within a warp's part runs in order, so a sum's bits do not depend on the launch.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>

#include "../core/host_device.h"
#include "cuda_check.h"
#include "launch.cuh"

namespace gpcnn {

// Column k of a product's A: element m at `at + m·stride`; a null `at` is a column of zeros.
struct GemmColumn {
  const float* at;
  int64_t stride;
};

constexpr int kGemmRows = 16;    // images per tile
constexpr int kGemmCols = 32;    // outputs per tile
constexpr int kGemmGroups = 16;  // warps, each summing its own part of k
constexpr int kGemmDepth = 32;   // k a warp loads at once (48 loads a lane)
constexpr int kGemmThreads = 32 * kGemmGroups;
static_assert(kGemmThreads == kGemmRows * kGemmCols, "one thread per output of the tile at the end");
// A lane sums a 4 × 4 square of the tile (rows r, r + 4, r + 8, r + 12; four adjacent
// outputs): per four k, eight 16-byte shared-memory reads for 64 products.
static_assert(kGemmRows == 16 && kGemmCols == 32, "a warp's 32 lanes cover the tile in 4 × 4 squares");
// A row of A is k-contiguous, as the loads run; its stride of 36 floats keeps 16-byte
// reads aligned and puts the four rows a warp reads at once in different banks.
constexpr int kGemmAStride = kGemmDepth + 4;

struct GemmWarpTiles {
  float a[kGemmRows][kGemmAStride];  // [row][k]
  float b[kGemmDepth][kGemmCols];    // [k][column]
};
// Dynamic shared memory of a launch: each warp's tiles, reused for the warps' sums.
constexpr size_t kGemmSharedBytes =
    std::max(sizeof(GemmWarpTiles) * kGemmGroups, sizeof(float) * kGemmGroups * kGemmRows * kGemmCols);

template <typename Product>
__global__ void __launch_bounds__(kGemmThreads, 1) batch_gemm_kernel(int rows, int cols, int depth, Product op) {
  GemmWarpTiles* tiles = dynamic_shared<GemmWarpTiles>();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row0 = blockIdx.y * kGemmRows, col0 = blockIdx.x * kGemmCols;
  // The output this thread finishes, one per thread with consecutive threads on
  // consecutive outputs, and the terms added to its sum.
  const int out_row = threadIdx.x / kGemmCols, out_col = threadIdx.x % kGemmCols;
  const int m = row0 + out_row, n = col0 + out_col;
  const bool finishes = m < rows && n < cols;
  const float prior = finishes ? op.prior(m, n) : 0.f;

  // Warp w sums k in [w·part, (w + 1)·part), kGemmDepth at a time; every warp runs the
  // same number of steps (barriers are block-wide), and k past its part reads as zero.
  const int part = (depth + kGemmGroups - 1) / kGemmGroups;
  const int k_begin = min(depth, warp * part), k_end = min(depth, k_begin + part);
  const int steps = (part + kGemmDepth - 1) / kGemmDepth;
  const int r = lane / 8, c = 4 * (lane % 8);  // the lane's rows r + 4i, columns c … c + 3
  GemmWarpTiles& tile = tiles[warp];
  float sum[4][4] = {};
  for (int step = 0; step < steps; ++step) {
    const int k0 = k_begin + step * kGemmDepth;
    // All of the step's loads are in flight at once: A along k (half a warp per row),
    // B along outputs, so that a warp reads consecutive addresses.
    constexpr int kRowsAtOnce = 32 / kGemmDepth;
    const int a_k = lane % kGemmDepth, a_row = lane / kGemmDepth;
    const GemmColumn column = k0 + a_k < k_end ? op.a_column(k0 + a_k) : GemmColumn{nullptr, 0};
    float a[kGemmRows / kRowsAtOnce], b[kGemmDepth];
    GPCNN_UNROLL
    for (int q = 0; q < kGemmRows / kRowsAtOnce; ++q) {
      const int row = row0 + kRowsAtOnce * q + a_row;
      a[q] = column.at && row < rows ? op.a_value(column.at + row * column.stride) : 0.f;
    }
    GPCNN_UNROLL
    for (int q = 0; q < kGemmDepth; ++q) b[q] = col0 + lane < cols && k0 + q < k_end ? op.b_row(k0 + q)[col0 + lane] : 0.f;
    if (step > 0) __syncthreads();  // every lane is done reading the step before
    GPCNN_UNROLL
    for (int q = 0; q < kGemmRows / kRowsAtOnce; ++q) tile.a[kRowsAtOnce * q + a_row][a_k] = a[q];
    GPCNN_UNROLL
    for (int q = 0; q < kGemmDepth; ++q) tile.b[q][lane] = b[q];
    __syncthreads();
    const int span = min(kGemmDepth, max(0, k_end - k0));  // past it, zeros
    for (int k = 0; k < span; k += 4) {
      float4 av[4], bv[4];
      GPCNN_UNROLL
      for (int i = 0; i < 4; ++i) av[i] = *reinterpret_cast<const float4*>(&tile.a[r + 4 * i][k]);
      GPCNN_UNROLL
      for (int kk = 0; kk < 4; ++kk) bv[kk] = *reinterpret_cast<const float4*>(&tile.b[k + kk][c]);
      GPCNN_UNROLL
      for (int i = 0; i < 4; ++i) {
        const float ak[4] = {av[i].x, av[i].y, av[i].z, av[i].w};
        GPCNN_UNROLL
        for (int kk = 0; kk < 4; ++kk) {
          sum[i][0] += ak[kk] * bv[kk].x, sum[i][1] += ak[kk] * bv[kk].y;
          sum[i][2] += ak[kk] * bv[kk].z, sum[i][3] += ak[kk] * bv[kk].w;
        }
      }
    }
  }
  __syncthreads();  // the tiles become the warps' sums
  float* sums = reinterpret_cast<float*>(tiles);  // [warp][row][column]
  GPCNN_UNROLL
  for (int i = 0; i < 4; ++i) {
    const float4 square_row = {sum[i][0], sum[i][1], sum[i][2], sum[i][3]};
    *reinterpret_cast<float4*>(&sums[(warp * kGemmRows + r + 4 * i) * kGemmCols + c]) = square_row;
  }
  __syncthreads();
  if (!finishes) return;
  float total = sums[out_row * kGemmCols + out_col];
  GPCNN_UNROLL
  for (int w = 1; w < kGemmGroups; ++w) total += sums[(w * kGemmRows + out_row) * kGemmCols + out_col];
  op.out(m, n, total + prior);
}

// Lets batch_gemm_kernel<Product> have its kGemmSharedBytes of shared memory, more than a
// kernel gets without asking; call before launching (or capturing a launch of) it.
template <typename Product>
void allow_batch_gemm() {
  GPCNN_CUDA(cudaFuncSetAttribute(batch_gemm_kernel<Product>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  int(kGemmSharedBytes)));
}

// Queues the product on `stream`; rows, cols and depth must be positive.
template <typename Product>
void batch_gemm(cudaStream_t stream, int rows, int cols, int depth, const Product& op) {
  const dim3 grid(unsigned((cols + kGemmCols - 1) / kGemmCols), unsigned((rows + kGemmRows - 1) / kGemmRows));
  launch(batch_gemm_kernel<Product>, grid, kGemmThreads, kGemmSharedBytes, stream, rows, cols, depth, op);
}

}  // namespace gpcnn
