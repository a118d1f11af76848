// The gate with its additive terms, fused: a = u + extra + bias[b,c] + spatial;
// out = tanh(a[:p]) ⊙ σ(a[p:]); the backward pass recomputes a, and sums the bias
// gradient as it goes.
#include "../core/host_device.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "launch.cuh"

namespace gpcnn {

namespace {

struct GateArgs {
  const float *u, *extra, *bias, *spatial;
  int64_t batch, half, plane;

  __device__ float pre(int64_t n, int64_t c, int64_t i) const {
    const int64_t at = (n * 2 * half + c) * plane + i;
    float a = u[at];
    if (extra) a += extra[at];
    if (spatial) a += spatial[at];
    if (bias) a += bias[n * 2 * half + c];
    return a;
  }
};

GateArgs gate_args(const GateInputs& in) {
  return {in.u->data<float>(), in.extra ? in.extra->data<float>() : nullptr,
          in.bias ? in.bias->data<float>() : nullptr, in.spatial ? in.spatial->data<float>() : nullptr,
          in.u->dim(0), in.u->dim(1) / 2, in.u->dim(2) * in.u->dim(3)};
}

__device__ inline float sigmoid(float a) { return 1.f / (1.f + expf(-a)); }

// One thread block per (image n, channel c) plane, so that the index arithmetic per
// element is 32-bit: a GPU divides 64-bit integers slowly.
__global__ void gate_forward_kernel(GateArgs g, float* out) {
  const int64_t n = blockIdx.x / g.half, c = blockIdx.x % g.half;
  float* to = out + int64_t(blockIdx.x) * g.plane;
  for (int i = threadIdx.x; i < g.plane; i += blockDim.x) to[i] = tanhf(g.pre(n, c, i)) * sigmoid(g.pre(n, c + g.half, i));
}

struct GateGrads {
  float tanh_half, sigmoid_half;
};

// The pre-activation gradients of both halves, from their pre-activations and the
// output's gradient.
__device__ inline GateGrads gate_gradients(float tanh_pre, float sigmoid_pre, float go) {
  const float t = tanhf(tanh_pre), s = sigmoid(sigmoid_pre);
  return {go * (1.f - t * t) * s, go * t * s * (1.f - s)};
}

__global__ void gate_backward_kernel(GateArgs g, const float* grad_out, float* grad_a) {
  const int64_t n = blockIdx.x / g.half, c = blockIdx.x % g.half;
  for (int i = threadIdx.x; i < g.plane; i += blockDim.x) {
    const GateGrads d = gate_gradients(g.pre(n, c, i), g.pre(n, c + g.half, i), grad_out[(n * g.half + c) * g.plane + i]);
    grad_a[(n * 2 * g.half + c) * g.plane + i] = d.tanh_half;
    grad_a[(n * 2 * g.half + c + g.half) * g.plane + i] = d.sigmoid_half;
  }
}

// With the bias gradient: one warp per (image n, channel c), which writes both halves'
// gradients over the plane and sums each, kPlanesPerBlock warps a block. Each lane
// loads the inputs of kPositionsPerLane positions a warp's width apart before it
// computes and stores any, so that enough loads are in flight to keep the memory busy
// (the stores could alias the loads, so the compiler would not move them); then one
// thread per sum adds the lanes' sums in lane order. A warp per plane, rather than a
// block, keeps the reduction to one barrier per block.
constexpr int kPlanesPerBlock = 8;
constexpr int kPositionsPerLane = 4;
__global__ void gate_backward_rows_kernel(GateArgs g, const float* grad_out, float* grad_a, float* grad_bias) {
  __shared__ double lane_sums[2][kPlanesPerBlock][32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, plane = int(g.plane);
  const int64_t planes = g.batch * g.half, first_plane = int64_t(blockIdx.x) * kPlanesPerBlock;
  double sum_tanh = 0, sum_sigmoid = 0;
  if (first_plane + warp < planes) {
    const int64_t n = (first_plane + warp) / g.half, c = (first_plane + warp) % g.half;
    const float* go = grad_out + (n * g.half + c) * g.plane;
    float* ga_tanh = grad_a + (n * 2 * g.half + c) * g.plane;
    float* ga_sigmoid = ga_tanh + g.half * g.plane;
    for (int first = lane; first < plane; first += 32 * kPositionsPerLane) {
      float tanh_pre[kPositionsPerLane], sigmoid_pre[kPositionsPerLane], grad[kPositionsPerLane];
      GPCNN_UNROLL
      for (int k = 0; k < kPositionsPerLane; ++k) {
        const int i = first + 32 * k;
        const bool inside = i < plane;
        tanh_pre[k] = inside ? g.pre(n, c, i) : 0.f;
        sigmoid_pre[k] = inside ? g.pre(n, c + g.half, i) : 0.f;
        grad[k] = inside ? go[i] : 0.f;
      }
      GPCNN_UNROLL
      for (int k = 0; k < kPositionsPerLane; ++k) {
        const int i = first + 32 * k;
        if (i >= plane) break;
        const GateGrads d = gate_gradients(tanh_pre[k], sigmoid_pre[k], grad[k]);
        ga_tanh[i] = d.tanh_half, ga_sigmoid[i] = d.sigmoid_half;
        sum_tanh += d.tanh_half, sum_sigmoid += d.sigmoid_half;
      }
    }
  }
  lane_sums[0][warp][lane] = sum_tanh, lane_sums[1][warp][lane] = sum_sigmoid;
  __syncthreads();
  if (threadIdx.x >= 2 * kPlanesPerBlock) return;
  const int which = threadIdx.x / kPlanesPerBlock, w = threadIdx.x % kPlanesPerBlock;  // which: tanh, sigmoid
  if (first_plane + w >= planes) return;
  double sum = 0;
  for (int l = 0; l < 32; ++l) sum += lane_sums[which][w][l];
  const int64_t n = (first_plane + w) / g.half, c = (first_plane + w) % g.half;
  grad_bias[n * 2 * g.half + c + which * g.half] = float(sum);
}

}  // namespace

void CudaBackend::gate_forward(const GateInputs& in, Tensor& out) {
  ensure_device_usable();
  const GateArgs g = gate_args(in);
  launch(gate_forward_kernel, unsigned(g.batch * g.half), 256, 0, stream_, g, out.data<float>());
}

void CudaBackend::gate_backward(const GateInputs& in, const Tensor& grad_out, Tensor& grad_a, Tensor* grad_bias) {
  ensure_device_usable();
  const GateArgs g = gate_args(in);
  if (grad_bias)
    launch(gate_backward_rows_kernel, unsigned((g.batch * g.half + kPlanesPerBlock - 1) / kPlanesPerBlock),
        32 * kPlanesPerBlock, 0, stream_, g, grad_out.data<float>(), grad_a.data<float>(), grad_bias->data<float>());
  else
    launch(gate_backward_kernel, unsigned(g.batch * g.half), 256, 0, stream_, g, grad_out.data<float>(),
        grad_a.data<float>());
}

}  // namespace gpcnn
