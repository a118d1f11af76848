// Adam / AdamW (as torch.optim), the sum of squares behind the global gradient norm,
// on the device.
#include <cmath>
#include <vector>

#include "cuda_backend.h"
#include "cuda_check.h"
#include "reduce.cuh"

namespace gpcnn {

namespace {

struct AdamArgs {
  float beta1, beta2, eps, step_size, inv_sqrt_correction2, l2, shrink;
};

__global__ void adam_kernel(float* w, const float* g, float* m1, float* m2, AdamArgs a, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i] + a.l2 * w[i];
    m1[i] = a.beta1 * m1[i] + (1 - a.beta1) * gi;
    m2[i] = a.beta2 * m2[i] + (1 - a.beta2) * gi * gi;
    w[i] = w[i] * a.shrink - a.step_size * m1[i] / (sqrtf(m2[i]) * a.inv_sqrt_correction2 + a.eps);
  }
}

constexpr unsigned kSumBlocks = 256;

// Each block sums a fixed, strided share of the values; the host adds the partial sums in order.
__global__ void sum_of_squares_kernel(const float* x, int64_t n, double* partial) {
  double sum = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    sum += double(x[i]) * x[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

}  // namespace

void CudaBackend::adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamParams& p) {
  ensure_device_usable();
  const double correction1 = 1 - std::pow(p.beta1, double(p.step));
  const double correction2 = 1 - std::pow(p.beta2, double(p.step));
  const AdamArgs args{float(p.beta1), float(p.beta2), float(p.eps), float(p.lr / correction1),
                      float(1 / std::sqrt(correction2)), p.decoupled ? 0.f : float(p.weight_decay),
                      p.decoupled ? float(1 - p.lr * p.weight_decay) : 1.f};
  const int64_t n = param.numel();
  adam_kernel<<<grid_for(n), 256, 0, stream_>>>(param.data<float>(), grad.data<float>(), m.data<float>(),
                                                v.data<float>(), args, n);
  GPCNN_LAUNCHED();
}

double CudaBackend::sum_of_squares(const std::vector<Tensor>& tensors) {
  ensure_device_usable();
  if (tensors.empty()) return 0;
  // Every tensor's partial sums into one buffer, then a single read-back.
  const int64_t count = int64_t(tensors.size());
  std::shared_ptr<Buffer> partial = allocate(sizeof(double) * kSumBlocks * count);
  double* partial_sums = static_cast<double*>(partial->data());
  for (int64_t k = 0; k < count; ++k) {
    sum_of_squares_kernel<<<kSumBlocks, kReduceThreads, 0, stream_>>>(tensors[k].data<float>(), tensors[k].numel(),
                                                                      partial_sums + k * kSumBlocks);
    GPCNN_LAUNCHED();
  }
  std::vector<double> sums(kSumBlocks * count);
  GPCNN_CUDA(cudaMemcpyAsync(sums.data(), partial_sums, sizeof(double) * sums.size(), cudaMemcpyDeviceToHost, stream_));
  GPCNN_CUDA(cudaStreamSynchronize(stream_));
  double total = 0;
  for (int64_t k = 0; k < count; ++k) {  // per tensor, then across tensors: a fixed order
    double tensor_total = 0;
    for (int64_t b = 0; b < int64_t(kSumBlocks); ++b) tensor_total += sums[k * kSumBlocks + b];
    total += tensor_total;
  }
  return total;
}

}  // namespace gpcnn
