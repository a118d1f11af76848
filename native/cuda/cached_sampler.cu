#include "cached_sampler.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../core/sampler_plan.h"
#include "../core/sampler_layout.h"
#include "batch_gemm.cuh"
#include "cuda_check.h"
#include "cuda_resources.h"
#include "launch.cuh"
#include "sampler_position.cuh"
#include "sampler_vertical.cuh"

namespace gpcnn {

namespace {

// cond_bias for image blockIdx.x: class embedding + W·vector, per block and stack.
__global__ void conditioning_kernel(SamplerPlan p) {
  const int64_t b = blockIdx.x, P2 = 2 * p.P;
  for (int64_t e = threadIdx.x; e < p.L * 2 * P2; e += blockDim.x) {
    const int64_t l = e / (2 * P2), z = e / P2 % 2, o = e % P2;
    const BlockPlan& bl = p.blocks[l];
    const int64_t table = z == 0 ? bl.class_v : bl.class_h, cond = z == 0 ? bl.cond_vt : bl.cond_ht;
    float sum = 0;
    if (table >= 0) sum += p.w[table + p.labels[b] * P2 + o];
    if (cond >= 0)
      for (int64_t d = 0; d < p.cond_dim; ++d) sum += p.w[cond + d * P2 + o] * p.vectors[b * p.cond_dim + d];
    p.cond_bias[((l * p.B + b) * 2 + z) * P2 + o] = sum;
  }
}

constexpr int kRowThreads = 256;

// Every block's vertical stack at row i, for the whole batch (sampler_vertical.cuh).
void vertical_row(const SamplerPlan& p, const std::vector<BlockPlan>& blocks,
                  const std::vector<std::unique_ptr<VerticalConvolution>>& convolutions, float* gathered,
                  void* workspace, int i, cudaStream_t stream) {
  for (int l = 0; l < int(p.L); ++l) {
    const BlockPlan& bl = blocks[l];
    const float* in = l == 0 ? p.xt : p.v_hist + (l - 1) * p.B * p.P * p.H * p.W;
    launch(gather_rows_kernel, unsigned(p.B), kRowThreads, 0, stream, in, gathered, int(bl.cin), int(p.H), int(p.W),
           int(bl.vkh), int(bl.vkw), int(bl.vdy), int(bl.vdx), i);
    convolutions[l]->run(stream, gathered, p.w + bl.v_w, p.v_conv, workspace);
    launch(finish_vertical_kernel, unsigned(p.B), kRowThreads, 0, stream, p, bl, l, i);
  }
}

// The draws' images per thread block: up to 8, fewer where the head is wide, so that
// their shared memory fits in what any kernel gets; an image that needs more asks the
// device for it, before any launch is captured.
struct DrawShape {
  int images;
  size_t bytes;
};

DrawShape draw_shape(const SamplerPlan& p) {
  constexpr size_t kPlainSharedBytes = 48 * 1024;
  const size_t per_image = draw_bytes_per_image(p.Q, p.K);
  if (per_image <= kPlainSharedBytes) {
    const int images = int(std::min<size_t>(8, kPlainSharedBytes / per_image));
    return {images, images * per_image};
  }
  int device = 0, most = 0;
  GPCNN_CUDA(cudaGetDevice(&device));
  GPCNN_CUDA(cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (per_image > size_t(most))
    fail(codes::kArg, "the CUDA sampler's head needs ", per_image, " bytes of shared memory an image (",
         p.Q, " hidden units, ", p.K, " levels); this GPU gives a kernel at most ", most);
  GPCNN_CUDA(cudaFuncSetAttribute(head_draw_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(per_image)));
  return {1, per_image};
}

// Every block's horizontal stack, the head and the draws at (*row, j), for the whole
// batch (sampler_position.cuh).
void position(const SamplerPlan& p, const PositionScratch& scratch, const std::vector<BlockPlan>& blocks,
              const DrawShape& draw, const int* row, int j, cudaStream_t stream) {
  const int B = int(p.B), P = int(p.P), S = int(p.S);
  for (int l = 0; l < int(p.L); ++l) {
    const BlockPlan& bl = blocks[l];
    const PositionArgs at{p, scratch, bl, row, l, j};
    batch_gemm(stream, B, 2 * P, int(bl.cin * bl.hkw) + 2 * P, PreActivation{at});
    const int outputs = S + (l < p.L - 1 ? P : 0);  // the last block's horizontal output feeds nothing
    batch_gemm(stream, B, outputs, P, SkipResidual{at});
  }
  const PositionArgs head{p, scratch, blocks.back(), row, 0, j};
  batch_gemm(stream, B, int(p.Q), S, HeadHidden{head});
  launch(head_draw_kernel, unsigned((B + draw.images - 1) / draw.images), kRowThreads, draw.bytes, stream, head,
         draw.images);
}

// How many parts a batch of `batch` images is split into, each on its own stream: a
// step's kernels are latency-bound, so several parts' kernels running side by side
// keep the GPU busier than one part's kernels over the whole batch. A part keeps at
// least 64 images (32 tiles a product); GATED_PIXELCNN_SAMPLER_STREAMS overrides.
int64_t part_count(int64_t batch) {
  int64_t parts = std::min<int64_t>(4, (batch + 63) / 64);
  if (const char* setting = std::getenv("GATED_PIXELCNN_SAMPLER_STREAMS"); setting && std::atoi(setting) > 0)
    parts = std::atoi(setting);
  return std::clamp<int64_t>(parts, 1, batch);
}

// Images [first, first + count) of the job on their own stream, with their own state
// and row graph; the weights, inputs, outputs and cuDNN handle are the job's, shared
// (the host queues every part's work from one thread).
class Part {
 public:
  Part(const SamplerPlan& job_plan, const std::vector<BlockPlan>& blocks, cudnnHandle_t cudnn, int64_t first,
       int64_t count, bool keep_logits)
      : p_(part_plan(job_plan, first, count)),
        sizes_(state_sizes(p_, keep_logits)),
        xt_(sizes_.xt), v_hist_(sizes_.v_hist), v_conv_(sizes_.v_conv), u_row_(sizes_.u_row), h_row_(sizes_.h_row),
        cond_bias_(sizes_.cond_bias), gathered_(gathered_size(p_, blocks)),
        pre_(count * 2 * p_.P), skip_(count * p_.S), zs_(count * p_.Q), row_(1), drain_(stream_) {
    size_t workspace_bytes = 0;
    for (const BlockPlan& bl : blocks) {
      convolutions_.push_back(std::make_unique<VerticalConvolution>(cudnn, count, bl, 2 * p_.P, p_.W));
      workspace_bytes = std::max(workspace_bytes, convolutions_.back()->workspace_bytes());
    }
    workspace_ = std::make_unique<DeviceArray<uint8_t>>(int64_t(workspace_bytes));
    for (DeviceArray<float>* state : {&xt_, &v_hist_, &v_conv_, &u_row_, &h_row_, &cond_bias_}) state->zero(stream_);
    row_.zero(stream_);
    p_.xt = xt_.get(), p_.v_hist = v_hist_.get(), p_.v_conv = v_conv_.get(), p_.u_row = u_row_.get();
    p_.h_row = h_row_.get(), p_.cond_bias = cond_bias_.get();
    const PositionScratch scratch{pre_.get(), skip_.get(), zs_.get()};
    const DrawShape draw = draw_shape(p_);
    launch(conditioning_kernel, unsigned(count), kRowThreads, 0, stream_, p_);
    // A row's positions as one graph, launched for every row: the kernels read the row
    // from the device, and the graph's last kernel advances it.
    positions_ = std::make_unique<CapturedGraph>(stream_, [&] {
      for (int j = 0; j < int(p_.W); ++j) position(p_, scratch, blocks, draw, row_.get(), j, stream_);
      launch(advance_row_kernel, 1, 1, 0, stream_, row_.get());
    });
  }
  Part(const Part&) = delete;
  Part& operator=(const Part&) = delete;

  // Queues row i: the vertical stacks, then the graph of its positions.
  void queue_row(const std::vector<BlockPlan>& blocks, int i) {
    vertical_row(p_, blocks, convolutions_, gathered_.get(), workspace_->get(), i, stream_);
    positions_->launch(stream_);
    row_done_[i % 2].record(stream_);
  }
  void wait_row(int i) const { row_done_[i % 2].wait(); }

 private:
  // The job's plan narrowed to the part's images: its inputs and outputs are slices of
  // the job's, and its draws those of its images' place in the whole run.
  static SamplerPlan part_plan(const SamplerPlan& job, int64_t first, int64_t count) {
    SamplerPlan p = job;
    const int64_t image = p.C * p.H * p.W;
    p.B = count, p.first_image = job.first_image + first;
    if (p.labels) p.labels += first;
    if (p.vectors) p.vectors += first * p.cond_dim;
    if (p.spatial) p.spatial += first * p.spatial_cond * p.H * p.W;
    if (p.known) p.known += first * image;
    if (p.known_mask) p.known_mask += first * image;
    if (p.logits_out) p.logits_out += first * image * p.K;
    p.levels += first * image;
    return p;
  }
  static int64_t gathered_size(const SamplerPlan& p, const std::vector<BlockPlan>& blocks) {
    int64_t size = 0;  // the vertical convolutions' input
    for (const BlockPlan& bl : blocks) size = std::max(size, p.B * bl.cin * bl.vkh * (p.W + bl.vkw - 1));
    return size;
  }

  SamplerPlan p_;
  SamplerStateSizes sizes_;
  Stream stream_;
  std::vector<std::unique_ptr<VerticalConvolution>> convolutions_;
  DeviceArray<float> xt_, v_hist_, v_conv_, u_row_, h_row_, cond_bias_, gathered_;
  DeviceArray<float> pre_, skip_, zs_;
  DeviceArray<int> row_;
  std::unique_ptr<DeviceArray<uint8_t>> workspace_;
  std::unique_ptr<CapturedGraph> positions_;
  Event row_done_[2];
  // Last, so first to go: whatever stops the part (an error, even in its constructor,
  // or a cancel), its queued work ends before its memory, graph and events go.
  DrainOnExit drain_;
};

}  // namespace

SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel) {
  ensure_device_usable();
  const ArrangedWeights arranged = arrange_weights(job);
  const SamplerPlan host_plan = plan_for(job, arranged);
  SamplerPlan p = host_plan;  // its pointers are replaced by device ones below
  const int64_t B = p.B;
  const SamplerStateSizes sizes = state_sizes(p, job.keep_logits);

  // The job's weights, inputs and outputs, which every part reads or writes a slice of;
  // the drain guard comes after them, so queued work ends before their memory is freed.
  Stream stream;
  const CudnnHandle cudnn(stream);
  const bool any_known = !job.known_mask.empty();
  DeviceArray<float> weights(int64_t(arranged.flat.size()));
  DeviceArray<BlockPlan> blocks(int64_t(arranged.blocks.size()));
  DeviceArray<int32_t> labels(int64_t(job.labels.size()));
  DeviceArray<float> vectors(int64_t(job.vectors.size())), spatial(int64_t(job.spatial.size()));
  DeviceArray<uint8_t> known(any_known ? int64_t(job.known.size()) : 0), known_mask(int64_t(job.known_mask.size()));
  DeviceArray<float> logits(sizes.logits);
  DeviceArray<uint8_t> levels(sizes.levels);
  const DrainOnExit drain(stream);
  weights.upload(arranged.flat, stream);
  blocks.upload(arranged.blocks, stream), labels.upload(job.labels, stream);
  vectors.upload(job.vectors, stream), spatial.upload(job.spatial, stream), known_mask.upload(job.known_mask, stream);
  if (any_known) known.upload(job.known, stream);
  levels.zero(stream);
  GPCNN_CUDA(cudaStreamSynchronize(stream));  // the parts' streams read these

  p.w = weights.get(), p.blocks = blocks.get(), p.labels = labels.get(), p.vectors = vectors.get();
  p.spatial = spatial.get(), p.known = known.get(), p.known_mask = known_mask.get();
  p.logits_out = logits.get(), p.levels = levels.get();
  allow_batch_gemm<PreActivation>(), allow_batch_gemm<SkipResidual>(), allow_batch_gemm<HeadHidden>();
  // Each part starts its first row as soon as it is built, so that the GPU works while
  // the host builds the next (allocations, descriptors, the row graph's capture).
  if (cancel.load()) fail(codes::kAborted, "sampling was aborted");
  std::vector<std::unique_ptr<Part>> parts;
  const int64_t count = part_count(B);
  for (int64_t k = 0, first = 0; k < count; ++k) {
    const int64_t size = B / count + (k < B % count ? 1 : 0);
    parts.push_back(std::make_unique<Part>(p, arranged.blocks, cudnn, first, size, job.keep_logits));
    parts.back()->queue_row(arranged.blocks, 0);
    first += size;
  }
  // Row i + 1 is queued before row i is waited for, so that the GPU never waits for the
  // host between rows; each row's end is reported as it is reached.
  for (int i = 1; i <= int(p.H); ++i) {
    if (i < int(p.H)) {
      if (cancel.load()) fail(codes::kAborted, "sampling was aborted");
      for (auto& part : parts) part->queue_row(arranged.blocks, i);
    }
    for (auto& part : parts) part->wait_row(i - 1);
    on_row(i);
  }
  SamplerResult result;
  levels.download(result.levels, stream);
  if (job.keep_logits) logits.download(result.logits, stream);
  GPCNN_CUDA(cudaStreamSynchronize(stream));
  return result;
}

}  // namespace gpcnn
