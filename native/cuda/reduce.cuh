// Deterministic block reductions: each block sums its slice in a fixed order, so the
// same inputs always give the same bits (exact resume depends on it).
#pragma once

#include <cstdint>

namespace gpcnn {

constexpr int kReduceThreads = 256;

// Sum of `value` over the block's threads, in double; valid in thread 0. Every
// kernel that calls it is launched with exactly kReduceThreads threads.
__device__ inline double block_sum(double value) {
  if (blockDim.x != kReduceThreads) __trap();  // a launch bug: fail loudly, never sum wrongly
  __shared__ double partial[kReduceThreads];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  const double total = partial[0];
  __syncthreads();  // the buffer may be reused by a following call
  return total;
}

// Two sums at once, each in block_sum's order, with one tree's barriers; valid in thread 0.
__device__ inline void block_sum_pair(double& first, double& second) {
  if (blockDim.x != kReduceThreads) __trap();
  __shared__ double partial[2][kReduceThreads];
  partial[0][threadIdx.x] = first, partial[1][threadIdx.x] = second;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      partial[0][threadIdx.x] += partial[0][threadIdx.x + stride];
      partial[1][threadIdx.x] += partial[1][threadIdx.x + stride];
    }
    __syncthreads();
  }
  first = partial[0][0], second = partial[1][0];
  __syncthreads();
}

}  // namespace gpcnn
