// The head's per-channel inputs on the device (SPEC.md §4):
// out[b, c·q + k] = relu(zs[b, k] + Σ_{c'<c} prev[k, c, c']·xt[b, c']).
#include "../core/relu.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace gpcnn {

namespace {

__global__ void head_forward_kernel(const float* zs, const float* prev, const float* xt, float* out,
                                    int64_t batch, int64_t channels, int64_t q, int64_t plane) {
  const int64_t total = batch * channels * q * plane;
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < total; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = at % plane, k = (at / plane) % q, c = (at / (plane * q)) % channels;
    const int64_t n = at / (plane * q * channels);
    float sum = zs[(n * q + k) * plane + i];
    for (int64_t cp = 0; cp < c; ++cp) sum += prev[(k * channels + c) * channels + cp] * xt[(n * channels + cp) * plane + i];
    out[at] = relu(sum);
  }
}

__device__ inline float relu_grad(const float* grad_out, const float* out, int64_t at) {
  return out[at] <= 0.f ? 0.f : grad_out[at];
}

__global__ void head_hidden_grad_kernel(const float* grad_out, const float* out, float* grad_zs, int64_t batch,
                                        int64_t channels, int64_t q, int64_t plane) {
  const int64_t total = batch * q * plane;
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < total; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = at % plane, k = (at / plane) % q, n = at / (plane * q);
    float sum = 0;
    for (int64_t c = 0; c < channels; ++c) sum += relu_grad(grad_out, out, ((n * channels + c) * q + k) * plane + i);
    grad_zs[at] = sum;
  }
}

// One block per prev[k, c, c'] entry, reducing over images and positions.
__global__ void head_prev_grad_kernel(const float* grad_out, const float* out, const float* xt, float* grad_prev,
                                      int64_t batch, int64_t channels, int64_t q, int64_t plane) {
  const int64_t entry = blockIdx.x;
  const int64_t cp = entry % channels, c = (entry / channels) % channels, k = entry / (channels * channels);
  double sum = 0;
  if (cp < c)  // entries with c' >= c are unused by the model: zero gradient
    for (int64_t at = threadIdx.x; at < batch * plane; at += blockDim.x) {
      const int64_t n = at / plane, i = at % plane;
      sum += double(relu_grad(grad_out, out, ((n * channels + c) * q + k) * plane + i)) * xt[(n * channels + cp) * plane + i];
    }
  sum = block_sum(sum);
  if (threadIdx.x == 0) grad_prev[entry] = float(sum);
}

}  // namespace

void CudaBackend::head_channels_forward(const Tensor& zs, const Tensor* prev, const Tensor& xt, Tensor& out) {
  ensure_device_usable();
  const int64_t batch = zs.dim(0), q = zs.dim(1), plane = zs.dim(2) * zs.dim(3), channels = xt.dim(1);
  launch(head_forward_kernel, grid_for(batch * channels * q * plane), 256, 0, stream_, zs.data<float>(),
      prev ? prev->data<float>() : nullptr, xt.data<float>(), out.data<float>(), batch, channels, q, plane);
}

void CudaBackend::head_channels_backward(const Tensor& grad_out, const Tensor& out, const Tensor& xt, Tensor& grad_zs,
                                         Tensor* grad_prev) {
  ensure_device_usable();
  const int64_t batch = xt.dim(0), channels = xt.dim(1), plane = xt.dim(2) * xt.dim(3), q = out.dim(1) / channels;
  launch(head_hidden_grad_kernel, grid_for(batch * q * plane), 256, 0, stream_, grad_out.data<float>(),
      out.data<float>(), grad_zs.data<float>(), batch, channels, q, plane);
  if (!grad_prev) return;
  launch(head_prev_grad_kernel, unsigned(q * channels * channels), kReduceThreads, 0, stream_, grad_out.data<float>(),
      out.data<float>(), xt.data<float>(), grad_prev->data<float>(), batch, channels, q, plane);
}

}  // namespace gpcnn
