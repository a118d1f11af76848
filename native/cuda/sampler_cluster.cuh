// A row's positions in one launch of thread block clusters (sm_90): the cached
// sampler's position steps (sampler_position.cuh) without a launch per product.
// Each cluster of kClusterRanks blocks takes a tile of images (kGemmRows, or a few
// times that where the device runs too few clusters at once for the batch) through
// every position of the row alone, since no image reads another. Within it, each
// block (rank) computes its slice of every product's outputs (its own channels of
// each block's pre-activation and residual, its own skip outputs) in tiles of
// batch_gemm.cuh, and the ranks read the slices they need from each other's shared
// memory after the cluster's barrier. So a product costs a barrier and a tile's
// arithmetic on its SM, instead of a launch and a trip through L2.
//
// Per position j, for each block l: the pre-activation (window · h + h_base) of the
// rank's channels, both halves, and their gate; barrier; skip and residual from every
// rank's gated pre-activations, the residual kept in a ring of the last columns (the
// next block's window); barrier (below the last block). Then each rank's part of the
// head's hidden layer (over its skip outputs); barrier; each rank draws its share of
// the tile's images (draw_pixel) from the sum of the parts; barrier (the next
// position's window reads the drawn levels from xt).
//
// Dynamic shared memory per block, laid out by cluster_plan(): the draws' doubles,
// the blocks' plans, the tile's GemmTileShared, then (floats) pre [tile][2pc], gates
// [tile][pc], ring [L−1][ring columns][tile][pc], skip [tile][sc], partial [tile][Q],
// then the draws' zs and z [drawn][Q] and logits [drawn][K].
#pragma once

#include <algorithm>
#include <cstdint>

#include "../core/sampler_layout.h"
#include "batch_gemm.cuh"
#include "launch.cuh"
#include "sampler_position.cuh"

namespace gpcnn {

constexpr int kClusterRanks = 8;  // blocks per cluster, the portable maximum

// How a cluster splits its work, and where its shared memory holds what (offsets in
// floats from the start, 16-byte aligned). 32-bit, as the kernel's index arithmetic is.
struct ClusterPlan {
  int tile;          // images per cluster, a multiple of kGemmRows
  int pc, sc, drawn;  // channels, skip outputs and images to draw per rank
  int ring_columns;  // the residual columns a block's window reads: hdx + 1
  int blocks, gemm, pre, gates, ring, skip, partial, zs, z, logits;
  int64_t bytes;
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline ClusterPlan cluster_plan(const SamplerPlan& p, const BlockPlan* blocks, int64_t tile) {
  ClusterPlan c{};
  c.tile = int(tile);
  c.pc = int(ceil_div(p.P, kClusterRanks)), c.sc = int(ceil_div(p.S, kClusterRanks));
  c.drawn = int(ceil_div(tile, kClusterRanks));
  c.ring_columns = ring_columns(p, blocks);
  SharedLayout shared(c.drawn * (p.K + 1));
  c.blocks = shared.take(p.L * int64_t(sizeof(BlockPlan) / sizeof(float)));
  c.gemm = shared.take(sizeof(GemmTileShared) / sizeof(float));
  c.pre = shared.take(tile * 2 * c.pc);
  c.gates = shared.take(tile * c.pc);
  c.ring = shared.take((p.L - 1) * c.ring_columns * tile * c.pc);
  c.skip = shared.take(tile * c.sc);
  c.partial = shared.take(tile * p.Q);
  c.zs = shared.take(c.drawn * p.Q), c.z = shared.take(c.drawn * p.Q), c.logits = shared.take(c.drawn * p.K);
  c.bytes = shared.bytes();
  return c;
}

// What every product of a cluster's position step reads: the plan, the cluster's
// layout, the position and block. The rest (this block's rank, its tile, its slices)
// is derived where it is used, from the block's coordinates: cheaper than holding it
// in registers that the tile's products need.
struct ClusterStep {
  const SamplerPlan& p;
  const ClusterPlan& c;
  int i, j, l;

  __device__ static int rank() { return int(cluster_rank()); }
  __device__ static float* shared() { return dynamic_shared<float>(); }
  // Block l's plan, from the copy in shared memory.
  __device__ const BlockPlan& block() const { return reinterpret_cast<const BlockPlan*>(shared() + c.blocks)[l]; }
  __device__ int64_t first() const { return int64_t(blockIdx.x / kClusterRanks) * c.tile; }  // the tile's first image
  __device__ int images() const { return int(min(int64_t(c.tile), p.B - first())); }
  // This rank's first channel and skip output, and how many it computes (0 where P or
  // S run out).
  __device__ int c0() const { return rank() * c.pc; }
  __device__ int s0() const { return rank() * c.sc; }
  __device__ int channels() const { return max(0, min(c.pc, int(p.P) - c0())); }
  __device__ int skips() const { return max(0, min(c.sc, int(p.S) - s0())); }
  __device__ float* ring(int layer, int column) const {
    return shared() + c.ring + (layer * c.ring_columns + column % c.ring_columns) * c.tile * c.pc;
  }
};

// Block l's pre-activation for this rank's channels: outputs [0, channels) are the
// first halves (tanh's inputs), [channels, 2·channels) the second. The window is the
// image for block 0 (drawn levels, which other ranks wrote: read past L1), else the
// block below's residual output, from the ring of the rank that owns each channel.
struct ClusterPreActivation : ClusterStep {
  __device__ float a(int b, int t) const {
    const BlockPlan& bl = block();
    const int cin = int(bl.cin), sj = j - int(bl.hdx) + t / cin, ch = t % cin;
    if (sj < 0 || sj >= p.W) return 0.f;
    if (l == 0) return __ldcg(&p.xt[(((first() + b) * p.C + ch) * p.H + i) * p.W + sj]);
    const float* owner = cluster_shared(ring(l - 1, sj), unsigned(ch / c.pc));
    return owner[b * c.pc + ch % c.pc];
  }
  __device__ int64_t output(int n) const {
    const int own = channels();
    return n < own ? c0() + n : p.P + c0() + n - own;
  }
  __device__ float b(int t, int n) const { return p.w[block().h_wt + int64_t(t) * 2 * p.P + output(n)]; }
  __device__ void out(int b, int n, float sum) const {
    const float base = p.h_base[((l * p.B + first() + b) * p.W + j) * 2 * p.P + output(n)];
    shared()[c.pre + b * 2 * c.pc + n] = sum + base;
  }
};

// The gated pre-activations of this rank's channels, for the other ranks to read.
__device__ inline void gate_own(const ClusterStep& at) {
  const int own = at.channels();
  float* shared = at.shared();
  for (int e = threadIdx.x; e < at.images() * own; e += blockDim.x) {
    const int b = e / own, ch = e % own;
    const float* pre = shared + at.c.pre + b * 2 * at.c.pc;
    shared[at.c.gates + b * at.c.pc + ch] = gate_f(pre[ch], pre[own + ch]);
  }
}

// Every rank's gated pre-activations times [skip | res] for this rank's outputs:
// [0, skips) its skip outputs, summed over the blocks in `skip`, then its residual
// channels (below the last block), which go into the ring at column j.
struct ClusterSkipResidual : ClusterStep {
  __device__ float a(int b, int k) const {
    return cluster_shared(shared() + c.gates, unsigned(k / c.pc))[b * c.pc + k % c.pc];
  }
  __device__ float b(int k, int n) const {
    const int own = skips();
    return n < own ? p.w[block().skip_wt + int64_t(k) * p.S + s0() + n]
                   : p.w[block().res_wt + int64_t(k) * p.P + c0() + n - own];
  }
  __device__ void out(int b, int n, float sum) const {
    const BlockPlan& bl = block();
    const int own = skips();
    if (n < own) {
      float& skip = shared()[c.skip + b * c.sc + n];
      skip = (l == 0 ? 0.f : skip) + sum + p.w[bl.skip_b + s0() + n];
      return;
    }
    const int o = n - own;
    const float below = l == 0 ? 0.f : ring(l - 1, j)[b * c.pc + o];
    ring(l, j)[b * c.pc + o] = sum + p.w[bl.res_b + c0() + o] + below;
  }
};

// This rank's part of the head's hidden layer: hidden · relu(skip) over its skip outputs.
struct ClusterHeadPart : ClusterStep {
  __device__ float a(int b, int k) const { return relu(shared()[c.skip + b * c.sc + k]); }
  __device__ float b(int k, int q) const { return p.w[p.hidden_wt + int64_t(s0() + k) * p.Q + q]; }
  __device__ void out(int b, int q, float sum) const { shared()[c.partial + b * p.Q + q] = sum; }
};

// A product whose rows are the cluster's images, tile by tile. With `wait`, A may be
// other blocks' data: the block waits for the cluster's barrier, whose arrival the
// caller has made, once the first tile's weights are on their way (or at once, where
// it has no outputs).
template <typename Product>
__device__ void cluster_product(const Product& op, int cols, int depth, bool wait) {
  if (cols == 0) {
    if (wait) cluster_wait();
    return;
  }
  GemmTileShared& gemm = *reinterpret_cast<GemmTileShared*>(ClusterStep::shared() + op.c.gemm);
  const int images = op.images();
  for (int row0 = 0; row0 < images; row0 += kGemmRows)
    for (int col0 = 0; col0 < cols; col0 += kGemmCols) {
      const bool first = wait && row0 == 0 && col0 == 0;
      gemm_tile(op, images, cols, depth, row0, col0, gemm, [first] {
        if (first) cluster_wait();
      });
    }
}

// zs of the images this rank draws, [first drawn, + count): the head's parts from every
// rank, in rank order, and its bias.
__device__ inline void gather_head(const ClusterStep& at, int first_drawn, int count, float* zs) {
  const SamplerPlan& p = at.p;
  const int Q = int(p.Q);
  for (int e = threadIdx.x; e < count * Q; e += blockDim.x) {
    const int b = first_drawn + e / Q, q = e % Q;
    float sum = 0;
    for (int r = 0; r < kClusterRanks; ++r) sum += cluster_shared(at.shared() + at.c.partial, unsigned(r))[b * Q + q];
    zs[e] = sum + p.w[p.hidden_b + q];
  }
}

// Row i = *row's positions, one cluster per tile of images. The cluster's barriers are split
// (launch.cuh): each product waits for the last one after its first weights are on
// their way.
__global__ void __launch_bounds__(kGemmThreads) positions_cluster_kernel(SamplerPlan p, ClusterPlan c, const int* row) {
  const int i = *row;
  float* shared = dynamic_shared<float>();
  // The blocks' plans in shared memory: the products read them for every operand.
  const auto* blocks = reinterpret_cast<const float*>(p.blocks);
  for (int e = threadIdx.x; e < int(p.L * sizeof(BlockPlan) / sizeof(float)); e += blockDim.x)
    shared[c.blocks + e] = blocks[e];
  __syncthreads();
  cluster_arrive();  // the first product's wait: every block of the cluster has started
  for (int j = 0; j < int(p.W); ++j) {
    for (int l = 0; l < int(p.L); ++l) {
      const ClusterStep step{p, c, i, j, l};
      const BlockPlan& bl = step.block();
      const int channels = step.channels(), skips = step.skips();
      cluster_product(ClusterPreActivation{step}, 2 * channels, int(bl.cin * bl.hkw), true);
      __syncthreads();
      gate_own(step);
      cluster_arrive();
      const bool last = l == p.L - 1;
      const int residuals = last ? 0 : channels;  // the last block's feeds nothing
      cluster_product(ClusterSkipResidual{step}, skips + residuals, int(p.P), true);
      // Below the last block the next block's window reads the ring of every rank;
      // after it only this rank's threads read its skip outputs.
      if (last)
        __syncthreads();
      else
        cluster_arrive();
    }
    const ClusterStep step{p, c, i, j, 0};
    cluster_product(ClusterHeadPart{step}, int(p.Q), step.skips(), false);
    cluster_sync();
    const int first_drawn = step.rank() * c.drawn;
    const int count = max(0, min(c.drawn, step.images() - first_drawn));
    gather_head(step, first_drawn, count, shared + c.zs);
    __syncthreads();
    draw_pixel(p, step.first() + first_drawn, count, i, j, shared + c.zs, shared + c.z, shared + c.logits,
               reinterpret_cast<double*>(shared));
    cluster_arrive();  // the drawn levels, for the next position's first product
  }
  cluster_wait();  // no block ends while another may still read its shared memory
}

}  // namespace gpcnn
