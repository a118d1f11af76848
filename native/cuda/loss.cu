// Fused softmax cross-entropy on the device: the targets are range-checked first,
// then one thread per (image, channel, position) walks the K logits (max, sum of
// shifted exponentials, gradient), and one block per image sums the per-position
// NLL in a fixed order.
#include "../core/errors.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace gpcnn {

namespace {

// Flags the lowest index of a target outside [0, levels), before anything is written.
template <typename Level>
__global__ void check_targets_kernel(const Level* targets, int64_t count, int64_t levels, int* flag) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < count; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t target = static_cast<int64_t>(targets[at]);
    if (target < 0 || target >= levels) atomicMin(flag, int(at < 0x7ffffffe ? at : 0x7ffffffe));
  }
}

template <typename Level>
__global__ void cross_entropy_kernel(const float* logits, const Level* targets, float* position_nll, float* grad,
                                     float grad_scale, int64_t slices, int64_t levels, int64_t plane) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < slices * plane; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t slice = at / plane, i = at % plane;
    const float* z = logits + slice * levels * plane + i;
    const int64_t target = static_cast<int64_t>(targets[at]);
    float max = z[0];
    for (int64_t k = 1; k < levels; ++k) max = fmaxf(max, z[k * plane]);
    float sum = 0;
    for (int64_t k = 0; k < levels; ++k) sum += expf(z[k * plane] - max);
    // max − z first: with logits far from 0 (diverged weights) logf(sum) would vanish beside max.
    position_nll[at] = (max - z[target * plane]) + logf(sum);
    if (!grad) continue;
    float* g = grad + slice * levels * plane + i;
    const float inv = grad_scale / sum;
    for (int64_t k = 0; k < levels; ++k) g[k * plane] = expf(z[k * plane] - max) * inv - (k == target ? grad_scale : 0.f);
  }
}

// One block per row: sums[row] = Σ_i values[row, i] (launch with kReduceThreads threads).
__global__ void row_sums_kernel(const float* values, float* sums, int64_t columns) {
  const float* row = values + blockIdx.x * columns;
  double sum = 0;
  for (int64_t i = threadIdx.x; i < columns; i += blockDim.x) sum += row[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) sums[blockIdx.x] = float(sum);
}

}  // namespace

void CudaBackend::softmax_cross_entropy(const Tensor& logits, const Tensor& targets, float grad_scale, Tensor& nll,
                                        Tensor* grad_logits) {
  ensure_device_usable();
  const int64_t batch = logits.dim(0), channels = logits.dim(1), levels = logits.dim(2);
  const int64_t plane = logits.dim(3) * logits.dim(4), slices = batch * channels;
  const unsigned grid = grid_for(slices * plane);
  if (!known_within(targets, levels)) {  // a check that reads back, only for values the host never saw
    reset_range_flag();
    if (targets.dtype == DType::U8)
      launch(check_targets_kernel<uint8_t>, grid, 256, 0, stream_, targets.data<uint8_t>(), slices * plane, levels,
          range_flag_);
    else
      launch(check_targets_kernel<int32_t>, grid, 256, 0, stream_, targets.data<int32_t>(), slices * plane, levels,
          range_flag_);
    check_range_flag("targets", levels);
  }

  std::shared_ptr<Buffer> position_nll = allocate(sizeof(float) * slices * plane);
  float* per_position = static_cast<float*>(position_nll->data());
  float* grad = grad_logits ? grad_logits->data<float>() : nullptr;
  if (targets.dtype == DType::U8)
    launch(cross_entropy_kernel<uint8_t>, grid, 256, 0, stream_, logits.data<float>(), targets.data<uint8_t>(),
        per_position, grad, grad_scale, slices, levels, plane);
  else
    launch(cross_entropy_kernel<int32_t>, grid, 256, 0, stream_, logits.data<float>(), targets.data<int32_t>(),
        per_position, grad, grad_scale, slices, levels, plane);
  // Each image's NLL: the sum of its row of per-position values.
  launch(row_sums_kernel, unsigned(batch), kReduceThreads, 0, stream_, per_position, nll.data<float>(),
      channels * plane);
}

}  // namespace gpcnn
