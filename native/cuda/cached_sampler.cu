#include "cached_sampler.h"

#include <algorithm>

#include "../core/errors.h"
#include "../core/sampler_plan.h"
#include "../core/sampler_steps.h"
#include "cuda_check.h"
#include "launch.cuh"

namespace gpcnn {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kDefaultSharedBytes = 48 * 1024;  // without opting in to more

// Device memory owned for the length of one job.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(int64_t count) : count_(count) {
    if (count > 0) GPCNN_CUDA(cudaMalloc(&data_, count * sizeof(T)));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (data_) cudaFree(data_);  // nothing to report from a destructor; a fault already threw
  }
  T* get() const { return data_; }
  // `host` must hold count() values and stay alive until the stream is synchronized.
  void upload(const std::vector<T>& host, cudaStream_t stream) {
    if (count_ > 0) GPCNN_CUDA(cudaMemcpyAsync(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void zero(cudaStream_t stream) {
    if (count_ > 0) GPCNN_CUDA(cudaMemsetAsync(data_, 0, count_ * sizeof(T), stream));
  }
  void download(std::vector<T>& host, cudaStream_t stream) const {
    host.resize(count_);
    if (count_ > 0) GPCNN_CUDA(cudaMemcpyAsync(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }

 private:
  T* data_ = nullptr;
  int64_t count_;
};

class Stream {
 public:
  Stream() { GPCNN_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { cudaStreamDestroy(stream_); }
  operator cudaStream_t() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// Declared after the buffers, so destroyed before them: when a job stops early (an
// error, a cancel), the queued kernels finish before their memory is freed.
class DrainOnExit {
 public:
  explicit DrainOnExit(cudaStream_t stream) : stream_(stream) {}
  DrainOnExit(const DrainOnExit&) = delete;
  DrainOnExit& operator=(const DrainOnExit&) = delete;
  ~DrainOnExit() { cudaStreamSynchronize(stream_); }

 private:
  cudaStream_t stream_;
};

__global__ void conditioning_kernel(SamplerPlan p) { conditioning_step(p, DeviceTeam{}, blockIdx.x); }

// One row for one group of images per thread block: no block reads another's images,
// so a whole row is one launch.
__global__ void __launch_bounds__(kThreads) row_kernel(SamplerPlan p, int64_t group, int64_t i) {
  const int64_t first = blockIdx.x * group;
  row_step(p, DeviceTeam{}, dynamic_shared<double>(), first, min(group, p.B - first), i);
}

// Images per thread block and the shared memory they need. One image per block while
// there are more multiprocessors than images; beyond that, up to kImagesPerTeam share
// each weight read, as far as the default 48 KiB of shared memory allow; a model too
// wide for that gets one image per block with more shared memory. `host_plan` must
// point at host copies of the blocks.
std::pair<int64_t, int64_t> row_launch(const SamplerPlan& host_plan) {
  int device = 0, multiprocessors = 1;
  GPCNN_CUDA(cudaGetDevice(&device));
  GPCNN_CUDA(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
  int64_t group = std::clamp<int64_t>((host_plan.B + multiprocessors - 1) / multiprocessors, 1, kImagesPerTeam);
  while (group > 1 && position_scratch_bytes(host_plan, group) > kDefaultSharedBytes) --group;
  const int64_t bytes = position_scratch_bytes(host_plan, group);
  if (bytes > kDefaultSharedBytes) {
    int limit = 0;
    GPCNN_CUDA(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    if (bytes > limit)
      fail(codes::kArg, "the model is too wide for the CUDA cached sampler: one image needs ", bytes,
           " bytes of shared memory, the device has ", limit, " per block");
    // The device's limit, not `bytes`: jobs on other threads may set it concurrently.
    GPCNN_CUDA(cudaFuncSetAttribute(row_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit));
  }
  return {group, bytes};
}

}  // namespace

SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel) {
  ensure_device_usable();
  if (job.portable_steps) fail(codes::kArg, "portableSteps is for the CPU addon");
  const ArrangedWeights arranged = arrange_weights(job);
  const SamplerPlan host_plan = plan_for(job, arranged);
  const auto [group, shared_bytes] = row_launch(host_plan);
  SamplerPlan p = host_plan;  // its pointers are replaced by device ones below
  const int64_t B = p.B, H = p.H;
  const SamplerStateSizes sizes = state_sizes(p, job.keep_logits);

  // Everything is allocated before anything is queued, and the drain guard comes after
  // the buffers: whatever stops the job, queued work ends before its memory is freed.
  Stream stream;
  const bool any_known = !job.known_mask.empty();
  DeviceArray<float> weights(int64_t(arranged.flat.size()));
  DeviceArray<BlockPlan> blocks(int64_t(arranged.blocks.size()));
  DeviceArray<int32_t> labels(int64_t(job.labels.size()));
  DeviceArray<float> vectors(int64_t(job.vectors.size())), spatial(int64_t(job.spatial.size()));
  DeviceArray<uint8_t> known(any_known ? int64_t(job.known.size()) : 0), known_mask(int64_t(job.known_mask.size()));
  DeviceArray<float> xt(sizes.xt), v_hist(sizes.v_hist), u_row(sizes.u_row), h_row(sizes.h_row);
  DeviceArray<float> cond_bias(sizes.cond_bias), logits(sizes.logits);
  DeviceArray<uint8_t> levels(sizes.levels);
  const DrainOnExit drain(stream);
  weights.upload(arranged.flat, stream), blocks.upload(arranged.blocks, stream), labels.upload(job.labels, stream);
  vectors.upload(job.vectors, stream), spatial.upload(job.spatial, stream), known_mask.upload(job.known_mask, stream);
  if (any_known) known.upload(job.known, stream);
  for (DeviceArray<float>* state : {&xt, &v_hist, &u_row, &h_row, &cond_bias}) state->zero(stream);
  levels.zero(stream);

  p.w = weights.get(), p.blocks = blocks.get(), p.labels = labels.get(), p.vectors = vectors.get();
  p.spatial = spatial.get(), p.known = known.get(), p.known_mask = known_mask.get();
  p.xt = xt.get(), p.v_hist = v_hist.get(), p.u_row = u_row.get(), p.h_row = h_row.get();
  p.cond_bias = cond_bias.get(), p.logits_out = logits.get(), p.levels = levels.get();

  launch(conditioning_kernel, B, kThreads, 0, stream, p);
  const int64_t groups = (B + group - 1) / group;
  for (int64_t i = 0; i < H; ++i) {
    if (cancel.load()) fail(codes::kAborted, "sampling was aborted");
    launch(row_kernel, groups, kThreads, shared_bytes, stream, p, group, i);
    GPCNN_CUDA(cudaStreamSynchronize(stream));  // a row's worth of work per progress report
    on_row(i + 1);
  }
  SamplerResult result;
  levels.download(result.levels, stream);
  if (job.keep_logits) logits.download(result.logits, stream);
  GPCNN_CUDA(cudaStreamSynchronize(stream));
  return result;
}

}  // namespace gpcnn
