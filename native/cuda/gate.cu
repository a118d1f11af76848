// The gate with its additive terms, fused: a = u + extra + bias[b,c] + spatial;
// out = tanh(a[:p]) ⊙ σ(a[p:]); the backward pass recomputes a, and sums the bias
// gradient as it goes.
#include "../core/host_device.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "launch.cuh"
#include "reduce.cuh"

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

// With the bias gradient: one block per (image, channel c), which writes both halves'
// gradients over the plane and sums each in the same order as row_sums_kernel (loss.cu) would,
// without reading grad_a back (launch with kReduceThreads threads). Each thread loads
// the inputs of kPositionsPerThread positions before it computes and stores any, so
// that enough loads are in flight to keep the memory busy (the stores could alias the
// loads, so the compiler would not move them).
constexpr int kPositionsPerThread = 4;
__global__ void gate_backward_rows_kernel(GateArgs g, const float* grad_out, float* grad_a, float* grad_bias) {
  const int64_t n = blockIdx.x / g.half, c = blockIdx.x % g.half;
  const int plane = int(g.plane);
  double sum_tanh = 0, sum_sigmoid = 0;
  for (int first = threadIdx.x; first < plane; first += blockDim.x * kPositionsPerThread) {
    float tanh_pre[kPositionsPerThread], sigmoid_pre[kPositionsPerThread], go[kPositionsPerThread];
    GPCNN_UNROLL
    for (int k = 0; k < kPositionsPerThread; ++k) {
      const int i = first + k * int(blockDim.x);
      const bool inside = i < plane;
      tanh_pre[k] = inside ? g.pre(n, c, i) : 0.f;
      sigmoid_pre[k] = inside ? g.pre(n, c + g.half, i) : 0.f;
      go[k] = inside ? grad_out[(n * g.half + c) * g.plane + i] : 0.f;
    }
    GPCNN_UNROLL
    for (int k = 0; k < kPositionsPerThread; ++k) {
      const int i = first + k * int(blockDim.x);
      if (i >= plane) break;
      const GateGrads d = gate_gradients(tanh_pre[k], sigmoid_pre[k], go[k]);
      grad_a[(n * 2 * g.half + c) * g.plane + i] = d.tanh_half;
      grad_a[(n * 2 * g.half + c + g.half) * g.plane + i] = d.sigmoid_half;
      sum_tanh += d.tanh_half, sum_sigmoid += d.sigmoid_half;
    }
  }
  block_sum_pair(sum_tanh, sum_sigmoid);
  if (threadIdx.x == 0) {
    grad_bias[n * 2 * g.half + c] = float(sum_tanh);
    grad_bias[n * 2 * g.half + c + g.half] = float(sum_sigmoid);
  }
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
    launch(gate_backward_rows_kernel, unsigned(g.batch * g.half), kReduceThreads, 0, stream_, g,
        grad_out.data<float>(), grad_a.data<float>(), grad_bias->data<float>());
  else
    launch(gate_backward_kernel, unsigned(g.batch * g.half), 256, 0, stream_, g, grad_out.data<float>(),
        grad_a.data<float>());
}

}  // namespace gpcnn
