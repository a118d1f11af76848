// Adam / AdamW (as torch.optim), the moving averages of the weights, and the sum of
// squares behind the global gradient norm, on the device, each for many tensors per launch.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda_backend.h"
#include "cuda_check.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace gpcnn {

namespace {

// Up to kTensorsPerLaunch parameters per launch, passed by value in the kernel's arguments:
// blockIdx.y picks the parameter, blocks along x stride through its elements.
constexpr int kTensorsPerLaunch = 48;

struct AdamTensor {
  float *w, *m1, *m2;
  const float* g;
  int64_t n;
  float step_size, inv_sqrt_correction2;  // the parameter's own bias corrections
};

struct AdamBatch {
  AdamTensor tensors[kTensorsPerLaunch];
  float beta1, beta2, eps, l2, shrink;
};

__global__ void adam_kernel(AdamBatch a) {
  const AdamTensor& t = a.tensors[blockIdx.y];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < t.n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = t.g[i] + a.l2 * t.w[i];
    t.m1[i] = a.beta1 * t.m1[i] + (1 - a.beta1) * gi;
    t.m2[i] = a.beta2 * t.m2[i] + (1 - a.beta2) * gi * gi;
    t.w[i] = t.w[i] * a.shrink - t.step_size * t.m1[i] / (sqrtf(t.m2[i]) * t.inv_sqrt_correction2 + a.eps);
  }
}

struct AverageBatch {
  float* average[kTensorsPerLaunch];
  const float* value[kTensorsPerLaunch];
  int64_t n[kTensorsPerLaunch];
  float decay;
};

__global__ void moving_average_kernel(AverageBatch a) {
  float* average = a.average[blockIdx.y];
  const float* value = a.value[blockIdx.y];
  const int64_t n = a.n[blockIdx.y];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    average[i] = a.decay * average[i] + (1 - a.decay) * value[i];
}

// The sum of squares of up to kTensorsPerLaunch tensors per launch: blockIdx.y picks the
// tensor, which has blocks_for(n) blocks of its own, each summing a fixed, strided
// share; the host adds the partial sums in order. A tensor's sum so depends only on
// its own size, not on the tensors launched with it.
constexpr unsigned kSumBlocks = 256;

unsigned blocks_for(int64_t n) {
  return unsigned(std::clamp<int64_t>((n + kReduceThreads - 1) / kReduceThreads, 1, kSumBlocks));
}

struct SquareSums {
  const float* x[kTensorsPerLaunch];
  int64_t n[kTensorsPerLaunch];
  unsigned blocks[kTensorsPerLaunch];
  double* partial;  // [tensor][kSumBlocks], the first blocks[tensor] of each written
};

__global__ void sum_of_squares_kernel(SquareSums s) {
  const unsigned blocks = s.blocks[blockIdx.y];
  if (blockIdx.x >= blocks) return;  // the whole block leaves, so no barrier waits for it
  const float* x = s.x[blockIdx.y];
  const int64_t n = s.n[blockIdx.y];
  double sum = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blocks) * blockDim.x)
    sum += double(x[i]) * x[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) s.partial[blockIdx.y * kSumBlocks + blockIdx.x] = sum;
}

}  // namespace

void CudaBackend::adam_step(const std::vector<AdamUpdate>& updates, const AdamParams& p) {
  ensure_device_usable();
  refuse_changing_scalars_while_capturing("an optimizer step (its learning rate and bias corrections)");
  AdamBatch batch{};
  batch.beta1 = float(p.beta1), batch.beta2 = float(p.beta2), batch.eps = float(p.eps);
  batch.l2 = p.decoupled ? 0.f : float(p.weight_decay);
  batch.shrink = p.decoupled ? float(1 - p.lr * p.weight_decay) : 1.f;
  for (size_t first = 0; first < updates.size(); first += kTensorsPerLaunch) {
    const size_t count = std::min<size_t>(kTensorsPerLaunch, updates.size() - first);
    int64_t largest = 1;
    for (size_t k = 0; k < count; ++k) {
      const AdamUpdate& u = updates[first + k];
      const double correction1 = 1 - std::pow(p.beta1, double(u.step));
      const double correction2 = 1 - std::pow(p.beta2, double(u.step));
      batch.tensors[k] = {u.param.data<float>(), u.m.data<float>(), u.v.data<float>(), u.grad.data<float>(),
                          u.param.numel(), float(p.lr / correction1), float(1 / std::sqrt(correction2))};
      largest = std::max(largest, u.param.numel());
    }
    launch(adam_kernel, dim3(grid_for(largest), unsigned(count)), 256, 0, stream_, batch);
  }
}

void CudaBackend::moving_average(const std::vector<Tensor>& averages, const std::vector<Tensor>& values, float decay) {
  ensure_device_usable();
  refuse_changing_scalars_while_capturing("a moving average (its decay)");
  for (size_t first = 0; first < averages.size(); first += kTensorsPerLaunch) {
    AverageBatch batch{};
    batch.decay = decay;
    const size_t count = std::min<size_t>(kTensorsPerLaunch, averages.size() - first);
    int64_t largest = 1;
    for (size_t k = 0; k < count; ++k) {
      batch.average[k] = averages[first + k].data<float>();
      batch.value[k] = values[first + k].data<float>();
      batch.n[k] = averages[first + k].numel();
      largest = std::max(largest, batch.n[k]);
    }
    launch(moving_average_kernel, dim3(grid_for(largest), unsigned(count)), 256, 0, stream_, batch);
  }
}

double CudaBackend::sum_of_squares(const std::vector<Tensor>& tensors) {
  ensure_device_usable();
  refuse_while_capturing("a norm");
  if (tensors.empty()) return 0;
  // Every tensor's partial sums into one buffer, then a single read-back.
  const int64_t count = int64_t(tensors.size());
  std::shared_ptr<Buffer> partial = allocate(sizeof(double) * kSumBlocks * count);
  double* partial_sums = static_cast<double*>(partial->data());
  for (int64_t first = 0; first < count; first += kTensorsPerLaunch) {
    SquareSums batch{};
    const int64_t in_batch = std::min<int64_t>(kTensorsPerLaunch, count - first);
    unsigned most_blocks = 1;
    for (int64_t k = 0; k < in_batch; ++k) {
      const Tensor& t = tensors[first + k];
      batch.x[k] = t.data<float>(), batch.n[k] = t.numel(), batch.blocks[k] = blocks_for(t.numel());
      most_blocks = std::max(most_blocks, batch.blocks[k]);
    }
    batch.partial = partial_sums + first * kSumBlocks;
    launch(sum_of_squares_kernel, dim3(most_blocks, unsigned(in_batch)), kReduceThreads, 0, stream_, batch);
  }
  std::vector<double> sums(kSumBlocks * count);
  GPCNN_CUDA(cudaMemcpyAsync(sums.data(), partial_sums, sizeof(double) * sums.size(), cudaMemcpyDeviceToHost, stream_));
  GPCNN_CUDA(cudaStreamSynchronize(stream_));
  double total = 0;
  for (int64_t k = 0; k < count; ++k) {  // per tensor, then across tensors: a fixed order
    double tensor_total = 0;
    for (int64_t b = 0; b < int64_t(blocks_for(tensors[k].numel())); ++b) tensor_total += sums[k * kSumBlocks + b];
    total += tensor_total;
  }
  return total;
}

}  // namespace gpcnn
