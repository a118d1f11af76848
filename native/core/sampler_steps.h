// The cached sampler's steps, written once for the GPU and the host. A "team" is
// a CUDA thread block on the device (rank = threadIdx.x, sync = __syncthreads) and a
// team of OpenMP threads on the host (sync = a barrier); every loop below hands its
// iterations round-robin to the team's ranks, and team.sync() separates phases. The
// CUDA sampler (native/cuda/cached_sampler.cu) launches these steps as kernels; the
// CPU addon can run them on the host (SamplerJob::portable_steps), so the tests check
// their arithmetic, indexing and phase structure without a GPU.
//
// Per batch: conditioning_step once per image; then for each row i, row_step per
// group of images (each image's vertical stacks, then position_step column by column).
// Groups share nothing, so they run in parallel (one thread block each on the GPU).
// Layouts (B = images in the batch):
//   xt [B, C, H, W] the image as network input, levels [B, C, H, W], logits_out
//   [B, C, K, H, W]; v_hist [L−1][B, P, H, W] each block's vertical output; u_row
//   [L][B, 2P, W] each block's vertical pre-activation (with its bias) at the current
//   row; h_row [L−1][B, P, W] each block's horizontal output at the current row;
//   cond_bias [L][B][2][2P] the class + global-vector terms (vertical, horizontal).
// Weights are transposed so that the output index runs fastest (threads that compute
// neighbouring outputs read neighbouring weights), and each weight read serves every
// image of the group (or, in the vertical step, a tile of columns): see sampler_plan.cc.
#pragma once

#include <math.h>

#include <array>
#include <cstdint>

#include "host_device.h"
#include "sample_draw.h"

#if defined(__CUDACC__) || defined(GPCNN_CUDA_EMULATOR)
#include <cuda_runtime.h>
#endif

namespace gpcnn {

// One block's geometry and the offsets of its weights in the flat array (−1: absent).
struct BlockPlan {
  int64_t cin, vkh, vkw, vdy, vdx, hkw, hdx;
  int64_t v_wt, v_b, h_wt, h_b, vh_wt, vh_b, res_wt, res_b, skip_wt, skip_b;
  int64_t class_v, class_h, cond_vt, cond_ht, spatial_vt, spatial_ht;
};

struct SamplerPlan {
  int64_t B, C, H, W, K, P, S, Q, L, cond_dim, spatial_cond;
  const BlockPlan* blocks;  // [L]
  const float* w;           // the flat weights
  int64_t hidden_wt, hidden_b, out_wt, out_b, prev;  // head offsets (prev −1 when C = 1)
  double temperature;
  int64_t seed, first_image;
  // Inputs (null when absent).
  const int32_t* labels;
  const float* vectors;
  const float* spatial;
  const uint8_t* known;
  const uint8_t* known_mask;
  // State and outputs.
  float *xt, *v_hist, *u_row, *h_row, *cond_bias, *logits_out;  // logits_out may be null
  uint8_t* levels;
};

// Every pointer a plan holds; on the GPU all must be device memory, which the CUDA
// emulator checks at each launch (native/cuda_emu/launch.h).
inline std::array<const void*, 14> device_pointers(const SamplerPlan& p) {
  return {p.blocks, p.w, p.labels, p.vectors, p.spatial, p.known, p.known_mask,
          p.xt, p.v_hist, p.u_row, p.h_row, p.cond_bias, p.logits_out, p.levels};
}

// The most images per group (each weight read serves them all); the host always takes
// this many, the GPU as many as keep its multiprocessors busy.
constexpr int64_t kImagesPerTeam = 4;
// Output columns per thread in the vertical step (each weight read serves them all).
constexpr int64_t kColumnsPerThread = 8;

// A thread block; the CPU emulator of CUDA (native/cuda_emu) runs it too.
#if defined(__CUDACC__) || defined(GPCNN_CUDA_EMULATOR)
struct DeviceTeam {
  __device__ int64_t rank() const { return threadIdx.x; }
  __device__ int64_t size() const { return blockDim.x; }
  __device__ void sync() const { __syncthreads(); }
};
#endif

GPCNN_HD inline float sigmoid_f(float a) { return 1.f / (1.f + ::expf(-a)); }
GPCNN_HD inline float gate_f(float a, float b) { return ::tanhf(a) * sigmoid_f(b); }

// Per-image scratch of position_step, in floats: skip S, pre-activation 2P, gated P,
// window taps, u_v column 2P, z_s Q, z Q, logits K; then K + 1 doubles per image
// (level weights, max) after all images' floats.
GPCNN_HD inline int64_t window_taps(const SamplerPlan& p) {
  const int64_t first = p.C * p.blocks[0].hkw, later = p.P * (p.L > 1 ? p.blocks[p.L - 1].hkw : 0);
  return first > later ? first : later;
}
GPCNN_HD inline int64_t scratch_floats_per_image(const SamplerPlan& p) {
  return p.S + 5 * p.P + window_taps(p) + 2 * p.Q + p.K;
}
GPCNN_HD inline int64_t position_scratch_bytes(const SamplerPlan& p, int64_t group) {
  const int64_t floats = group * scratch_floats_per_image(p);
  return (floats + (floats & 1)) * 4 + group * (p.K + 1) * 8;  // doubles 8-byte aligned
}

// Kernels up to this wide read their input row into registers once (vertical_step).
constexpr int64_t kMaxRegisterKernel = 9;

// acc[k] += Σ_e w[e·stride]·row[j0 + k − dx + e], zero outside the row's W columns. For
// kernels up to kMaxRegisterKernel wide the row's values are read once into registers,
// each then serving up to kw products; a term outside the row adds w·0 (the same sums).
GPCNN_HD inline void accumulate_row(float (&acc)[kColumnsPerThread], const float* row, const float* w,
                                    int64_t stride, int64_t j0, int64_t dx, int64_t kw, int64_t W) {
  if (kw > kMaxRegisterKernel) {
    for (int64_t e = 0; e < kw; ++e)
      for (int64_t k = 0; k < kColumnsPerThread; ++k) {
        const int64_t sj = j0 + k - dx + e;
        if (sj >= 0 && sj < W) acc[k] += w[e * stride] * row[sj];
      }
    return;
  }
  constexpr int64_t kWindow = kColumnsPerThread + kMaxRegisterKernel - 1;
  float window[kWindow];
  GPCNN_UNROLL
  for (int64_t t = 0; t < kWindow; ++t) {
    const int64_t sj = j0 - dx + t;
    window[t] = t < kColumnsPerThread + kw - 1 && sj >= 0 && sj < W ? row[sj] : 0.f;
  }
  GPCNN_UNROLL
  for (int64_t e = 0; e < kMaxRegisterKernel; ++e) {
    if (e < kw) {
      const float we = w[e * stride];
      GPCNN_UNROLL
      for (int64_t k = 0; k < kColumnsPerThread; ++k) acc[k] += we * window[k + e];
    }
  }
}

// cond_bias for image b: class embedding + W·vector, per block and stack.
template <typename Team>
GPCNN_HD void conditioning_step(const SamplerPlan& p, const Team& team, int64_t b) {
  const int64_t P2 = 2 * p.P;
  for (int64_t idx = team.rank(); idx < p.L * 2 * P2; idx += team.size()) {
    const int64_t l = idx / (2 * P2), z = idx / P2 % 2, o = idx % P2;
    const BlockPlan& bl = p.blocks[l];
    const int64_t table = z == 0 ? bl.class_v : bl.class_h, cond = z == 0 ? bl.cond_vt : bl.cond_ht;
    float sum = 0;
    if (table >= 0) sum += p.w[table + p.labels[b] * P2 + o];
    if (cond >= 0)
      for (int64_t d = 0; d < p.cond_dim; ++d) sum += p.w[cond + d * P2 + o] * p.vectors[b * p.cond_dim + d];
    p.cond_bias[((l * p.B + b) * 2 + z) * P2 + o] = sum;
  }
  team.sync();
}

// The spatial term Σ_k W[k, o]·S[b, k, i, j].
GPCNN_HD inline float spatial_term(const SamplerPlan& p, int64_t weights, int64_t b, int64_t o, int64_t i, int64_t j) {
  if (weights < 0) return 0.f;
  float sum = 0;
  for (int64_t k = 0; k < p.spatial_cond; ++k)
    sum += p.w[weights + k * 2 * p.P + o] * p.spatial[((b * p.spatial_cond + k) * p.H + i) * p.W + j];
  return sum;
}

// Every block's vertical stack at row i of image b: u_row, and v_hist's row i.
template <typename Team>
GPCNN_HD void vertical_step(const SamplerPlan& p, const Team& team, int64_t b, int64_t i) {
  const int64_t P = p.P, P2 = 2 * P, H = p.H, W = p.W;
  const int64_t tiles = (W + kColumnsPerThread - 1) / kColumnsPerThread;
  for (int64_t l = 0; l < p.L; ++l) {
    const BlockPlan bl = p.blocks[l];
    const float* in = l == 0 ? p.xt + b * p.C * H * W : p.v_hist + ((l - 1) * p.B + b) * P * H * W;
    const float* weights = p.w + bl.v_wt;
    float* u = p.u_row + (l * p.B + b) * P2 * W;
    // A thread owns output o over a tile of columns; consecutive ranks take consecutive o,
    // so their weight reads are contiguous and their input reads the same.
    for (int64_t idx = team.rank(); idx < tiles * P2; idx += team.size()) {
      const int64_t j0 = idx / P2 * kColumnsPerThread, o = idx % P2;
      float acc[kColumnsPerThread];
      for (int64_t k = 0; k < kColumnsPerThread; ++k) acc[k] = p.w[bl.v_b + o];
      for (int64_t c = 0; c < bl.cin; ++c)
        for (int64_t a = 0; a < bl.vkh; ++a) {
          const int64_t si = i - bl.vdy + a;
          if (si < 0 || si >= H) continue;
          accumulate_row(acc, in + (c * H + si) * W, weights + (c * bl.vkh + a) * bl.vkw * P2 + o, P2, j0, bl.vdx,
                         bl.vkw, W);
        }
      for (int64_t k = 0; k < kColumnsPerThread && j0 + k < W; ++k) u[o * W + j0 + k] = acc[k];
    }
    team.sync();
    if (l == p.L - 1) break;  // the last block's vertical output feeds nothing
    const float* bias = p.cond_bias + ((l * p.B + b) * 2 + 0) * P2;
    float* out = p.v_hist + (l * p.B + b) * P * H * W;
    for (int64_t idx = team.rank(); idx < P * W; idx += team.size()) {
      const int64_t c = idx / W, j = idx % W;
      const float a1 = u[c * W + j] + bias[c] + spatial_term(p, bl.spatial_vt, b, c, i, j);
      const float a2 = u[(c + P) * W + j] + bias[c + P] + spatial_term(p, bl.spatial_vt, b, c + P, i, j);
      out[(c * H + i) * W + j] = gate_f(a1, a2);
    }
    team.sync();
  }
}

// acc[g] += Σ_t w[t·stride]·x(g, t) over t < length, for the group's first `count`
// images: each weight read serves every image.
template <typename Input>
GPCNN_HD void accumulate_images(float (&acc)[kImagesPerTeam], int64_t count, const float* w, int64_t stride,
                                int64_t length, const Input& x) {
  GPCNN_UNROLL_8
  for (int64_t t = 0; t < length; ++t) {
    const float wt = w[t * stride];
    GPCNN_UNROLL
    for (int64_t g = 0; g < kImagesPerTeam; ++g)
      if (g < count) acc[g] += wt * x(g, t);
  }
}

// Horizontal stacks, skip sum, head and draws at (i, j) for images [first, first + count),
// count ≤ kImagesPerTeam; `scratch` holds position_scratch_bytes(p, count) bytes. Each
// thread owns an output and keeps one sum per image, so a weight read serves them all.
template <typename Team>
GPCNN_HD void position_step(const SamplerPlan& p, const Team& team, void* scratch, int64_t first, int64_t count,
                            int64_t i, int64_t j) {
  constexpr int64_t G = kImagesPerTeam;
  const int64_t P = p.P, P2 = 2 * P, S = p.S, Q = p.Q, K = p.K, C = p.C, H = p.H, W = p.W;
  const int64_t taps_max = window_taps(p), per_image = scratch_floats_per_image(p);
  float* floats = static_cast<float*>(scratch);
  const int64_t float_count = count * per_image;
  double* weights = reinterpret_cast<double*>(floats + float_count + (float_count & 1));  // [count][K]
  double* maxima = weights + count * K;                                                   // [count]
  auto skip = [&](int64_t g) { return floats + g * per_image; };
  auto pre = [&](int64_t g) { return skip(g) + S; };           // 2P
  auto gated = [&](int64_t g) { return pre(g) + P2; };         // P
  auto window = [&](int64_t g) { return gated(g) + P; };       // taps_max
  auto ucol = [&](int64_t g) { return window(g) + taps_max; }; // 2P
  auto zs = [&](int64_t g) { return ucol(g) + P2; };           // Q
  auto z = [&](int64_t g) { return zs(g) + Q; };               // Q
  auto logits = [&](int64_t g) { return z(g) + Q; };           // K
  auto xt = [&](int64_t g, int64_t c) -> float& { return p.xt[(((first + g) * C + c) * H + i) * W + j]; };

  for (int64_t idx = team.rank(); idx < count * S; idx += team.size()) skip(idx / S)[idx % S] = 0.f;
  for (int64_t l = 0; l < p.L; ++l) {
    const BlockPlan bl = p.blocks[l];
    const int64_t taps = bl.cin * bl.hkw;
    // The horizontal input window at (i, j − hdx … j − hdx + hkw − 1): the image for block 0,
    // else the block below's horizontal output, zero outside the row; and u_v at (i, j).
    for (int64_t idx = team.rank(); idx < count * (taps + P2); idx += team.size()) {
      const int64_t g = idx / (taps + P2), t = idx % (taps + P2), b = first + g;
      if (t >= taps) {
        ucol(g)[t - taps] = p.u_row[((l * p.B + b) * P2 + t - taps) * W + j];
        continue;
      }
      const int64_t c = t / bl.hkw, sj = j - bl.hdx + t % bl.hkw;
      float value = 0.f;
      if (sj >= 0 && sj < W)
        value = l == 0 ? p.xt[((b * C + c) * H + i) * W + sj] : p.h_row[((l - 1) * p.B + b) * P * W + c * W + sj];
      window(g)[t] = value;
    }
    team.sync();
    // Pre-activation: h conv + vh(u_v) + both biases + conditioning.
    for (int64_t o = team.rank(); o < P2; o += team.size()) {
      float acc[G] = {};
      for (int64_t g = 0; g < G; ++g)
        if (g < count)
          acc[g] = p.w[bl.h_b + o] + p.w[bl.vh_b + o] + p.cond_bias[((l * p.B + first + g) * 2 + 1) * P2 + o] +
                   spatial_term(p, bl.spatial_ht, first + g, o, i, j);
      accumulate_images(acc, count, p.w + bl.h_wt + o, P2, taps, [&](int64_t g, int64_t t) { return window(g)[t]; });
      accumulate_images(acc, count, p.w + bl.vh_wt + o, P2, P2, [&](int64_t g, int64_t t) { return ucol(g)[t]; });
      for (int64_t g = 0; g < G; ++g)
        if (g < count) pre(g)[o] = acc[g];
    }
    team.sync();
    for (int64_t idx = team.rank(); idx < count * P; idx += team.size()) {
      const int64_t g = idx / P, c = idx % P;
      gated(g)[c] = gate_f(pre(g)[c], pre(g)[c + P]);
    }
    team.sync();
    for (int64_t s = team.rank(); s < S; s += team.size()) {
      float acc[G] = {};
      for (int64_t g = 0; g < G; ++g) acc[g] = p.w[bl.skip_b + s];
      accumulate_images(acc, count, p.w + bl.skip_wt + s, S, P, [&](int64_t g, int64_t c) { return gated(g)[c]; });
      for (int64_t g = 0; g < G; ++g)
        if (g < count) skip(g)[s] += acc[g];
    }
    if (l < p.L - 1) {  // the last block's horizontal output feeds nothing
      for (int64_t o = team.rank(); o < P; o += team.size()) {
        float acc[G] = {};
        // Block 0 has no residual: its horizontal input is the image itself.
        for (int64_t g = 0; g < G; ++g)
          if (g < count) acc[g] = p.w[bl.res_b + o] + (l == 0 ? 0.f : p.h_row[((l - 1) * p.B + first + g) * P * W + o * W + j]);
        accumulate_images(acc, count, p.w + bl.res_wt + o, P, P, [&](int64_t g, int64_t c) { return gated(g)[c]; });
        for (int64_t g = 0; g < G; ++g)
          if (g < count) p.h_row[(l * p.B + first + g) * P * W + o * W + j] = acc[g];
      }
    }
    team.sync();
  }

  // Head: z_s = hidden(relu(skip)); then channel by channel, z = relu(z_s + prev·x_{<c}),
  // logits = out_c·z, and a draw that later channels read back through xt.
  for (int64_t q = team.rank(); q < Q; q += team.size()) {
    float acc[G] = {};
    for (int64_t g = 0; g < G; ++g) acc[g] = p.w[p.hidden_b + q];
    accumulate_images(acc, count, p.w + p.hidden_wt + q, Q, S, [&](int64_t g, int64_t s) { return fmaxf(skip(g)[s], 0.f); });
    for (int64_t g = 0; g < G; ++g)
      if (g < count) zs(g)[q] = acc[g];
  }
  team.sync();
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t idx = team.rank(); idx < count * Q; idx += team.size()) {
      const int64_t g = idx / Q, q = idx % Q;
      float acc = zs(g)[q];
      for (int64_t cp = 0; cp < c; ++cp) acc += p.w[p.prev + (q * C + c) * C + cp] * xt(g, cp);
      z(g)[q] = fmaxf(acc, 0.f);
    }
    team.sync();
    for (int64_t k = team.rank(); k < K; k += team.size()) {
      float acc[G] = {};
      for (int64_t g = 0; g < G; ++g) acc[g] = p.w[p.out_b + c * K + k];
      accumulate_images(acc, count, p.w + p.out_wt + c * Q * K + k, K, Q, [&](int64_t g, int64_t q) { return z(g)[q]; });
      for (int64_t g = 0; g < G; ++g) {
        if (g >= count) continue;
        logits(g)[k] = acc[g];
        if (p.logits_out) p.logits_out[((((first + g) * C + c) * K + k) * H + i) * W + j] = acc[g];
      }
    }
    team.sync();
    for (int64_t g = team.rank(); g < count; g += team.size()) {
      double max = -INFINITY;
      for (int64_t k = 0; k < K; ++k) max = ::fmax(max, double(logits(g)[k]));
      maxima[g] = max;
    }
    team.sync();
    for (int64_t idx = team.rank(); idx < count * K; idx += team.size()) {
      const int64_t g = idx / K, k = idx % K;
      weights[g * K + k] = level_weight(logits(g)[k], maxima[g], p.temperature);
    }
    team.sync();
    for (int64_t g = team.rank(); g < count; g += team.size()) {
      const int64_t b = first + g, at = ((b * C + c) * H + i) * W + j;
      int level;
      if (p.known_mask && p.known_mask[at]) {
        level = p.known[at];
      } else {
        const int64_t position = (i * W + j) * C + c;  // generation order, as the naive sampler counts
        level = level_from_weights(weights + g * K, K, sample_uniform(p.seed, p.first_image + b, position));
      }
      p.levels[at] = uint8_t(level);
      xt(g, c) = float(2.0 * level / double(K - 1) - 1.0);  // as toUnit() rounds it
    }
    team.sync();
  }
}

// Row i for the images [first, first + count): their vertical stacks, then every column.
template <typename Team>
GPCNN_HD void row_step(const SamplerPlan& p, const Team& team, void* scratch, int64_t first, int64_t count, int64_t i) {
  for (int64_t b = first; b < first + count; ++b) vertical_step(p, team, b, i);
  for (int64_t j = 0; j < p.W; ++j) position_step(p, team, scratch, first, count, i, j);
}

}  // namespace gpcnn
