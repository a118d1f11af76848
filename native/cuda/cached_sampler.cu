#include "cached_sampler.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../core/sampler_plan.h"
#include "../core/sampler_layout.h"
#include "cuda_check.h"
#include "cuda_resources.h"
#include "launch.cuh"
#include "sampler_row.cuh"
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

// Each block's convolutions at a row: its vertical one, and vh over that one's output.
struct BlockRowConvolutions {
  std::unique_ptr<RowConvolution> vertical, vh;
};

// Every block's vertical stack at row i, and the horizontal pre-activations' h_base,
// for the whole batch (sampler_vertical.cuh).
void vertical_row(const SamplerPlan& p, const std::vector<BlockPlan>& blocks,
                  const std::vector<BlockRowConvolutions>& convolutions, float* gathered, void* workspace, int i,
                  cudaStream_t stream) {
  for (int l = 0; l < int(p.L); ++l) {
    const BlockPlan& bl = blocks[l];
    const float* in = l == 0 ? p.xt : p.v_hist + (l - 1) * p.B * p.P * p.H * p.W;
    launch(gather_rows_kernel, unsigned(p.B), kRowThreads, 0, stream, in, gathered, int(bl.cin), int(p.H), int(p.W),
           int(bl.vkh), int(bl.vkw), int(bl.vdy), int(bl.vdx), i);
    convolutions[l].vertical->run(gathered, p.w + bl.v_w, p.v_conv, workspace);
    convolutions[l].vh->run(p.v_conv, p.w + bl.vh_w, p.vh_conv, workspace);
    launch(finish_vertical_kernel, unsigned(p.B), kRowThreads, 0, stream, p, bl, l, i);
  }
}

// The row kernel for tiles of kImages images (sampler_row.cuh), and its shared memory.
struct RowLaunch {
  void (*kernel)(SamplerPlan, RowTile, int);
  int images;
  RowTile tile;
};

template <int kImages>
RowLaunch row_launch(const SamplerPlan& p, int64_t depth) {
  return {sample_row_kernel<kImages>, kImages, RowTile::layout(p, depth, kImages)};
}

// The largest tile whose shared memory the device holds: 8 images share each weight
// read, unless the model is too wide for that. GATED_PIXELCNN_SAMPLER_TILE=1|2|4|8 sets
// it (to measure).
RowLaunch choose_row_launch(const SamplerPlan& p, int64_t depth) {
  int device = 0, limit = 0;
  GPCNN_CUDA(cudaGetDevice(&device));
  GPCNN_CUDA(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const char* setting = std::getenv("GATED_PIXELCNN_SAMPLER_TILE");
  const int wanted = setting ? std::atoi(setting) : 8;
  for (const RowLaunch& candidate : {row_launch<8>(p, depth), row_launch<4>(p, depth), row_launch<2>(p, depth),
                                     row_launch<1>(p, depth)}) {
    if (candidate.images > wanted || candidate.tile.bytes > limit) continue;
    GPCNN_CUDA(cudaFuncSetAttribute(candidate.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    int(candidate.tile.bytes)));
    return candidate;
  }
  fail(codes::kArg, "the model is too wide for the GPU sampler: one image's activations need ",
       row_launch<1>(p, depth).tile.bytes, " bytes of shared memory, the GPU has ", limit);
}

}  // namespace

SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel) {
  ensure_device_usable();
  const ArrangedWeights arranged = arrange_weights(job);
  const SamplerPlan host_plan = plan_for(job, arranged);
  SamplerPlan p = host_plan;  // its pointers are replaced by device ones below
  const int64_t B = p.B, P = p.P;
  const SamplerStateSizes sizes = state_sizes(p, job.keep_logits);
  int64_t gathered_size = 0;  // the vertical convolutions' input
  for (const BlockPlan& bl : arranged.blocks)
    gathered_size = std::max(gathered_size, B * bl.cin * bl.vkh * (p.W + bl.vkw - 1));

  // Everything is allocated before anything is queued, and the drain guard comes after
  // the buffers: whatever stops the job, queued work ends before its memory is freed.
  Stream stream;
  const CudnnHandle cudnn(stream);
  std::vector<BlockRowConvolutions> convolutions;
  size_t workspace_bytes = 0;
  for (const BlockPlan& bl : arranged.blocks) {
    BlockRowConvolutions row_convolutions;
    row_convolutions.vertical = std::make_unique<RowConvolution>(
        cudnn, RowConvolutionShape{B, bl.cin, bl.vkh, bl.vkw, 2 * P, p.W});
    row_convolutions.vh = std::make_unique<RowConvolution>(cudnn, RowConvolutionShape{B, 2 * P, 1, 1, 2 * P, p.W});
    workspace_bytes = std::max({workspace_bytes, row_convolutions.vertical->workspace_bytes(),
                                row_convolutions.vh->workspace_bytes()});
    convolutions.push_back(std::move(row_convolutions));
  }
  const bool any_known = !job.known_mask.empty();
  DeviceArray<float> weights(int64_t(arranged.flat.size()));
  DeviceArray<BlockPlan> blocks(int64_t(arranged.blocks.size()));
  DeviceArray<int32_t> labels(int64_t(job.labels.size()));
  DeviceArray<float> vectors(int64_t(job.vectors.size())), spatial(int64_t(job.spatial.size()));
  DeviceArray<uint8_t> known(any_known ? int64_t(job.known.size()) : 0), known_mask(int64_t(job.known_mask.size()));
  DeviceArray<float> xt(sizes.xt), v_hist(sizes.v_hist), v_conv(sizes.v_conv), vh_conv(sizes.vh_conv);
  DeviceArray<float> h_base(sizes.h_base), h_row(sizes.h_row);
  DeviceArray<float> cond_bias(sizes.cond_bias), logits(sizes.logits), gathered(gathered_size);
  DeviceArray<uint8_t> levels(sizes.levels), workspace{int64_t(workspace_bytes)};
  const DrainOnExit drain(stream);
  weights.upload(arranged.flat, stream);
  blocks.upload(arranged.blocks, stream), labels.upload(job.labels, stream);
  vectors.upload(job.vectors, stream), spatial.upload(job.spatial, stream), known_mask.upload(job.known_mask, stream);
  if (any_known) known.upload(job.known, stream);
  for (DeviceArray<float>* state : {&xt, &v_hist, &v_conv, &vh_conv, &h_base, &h_row, &cond_bias}) state->zero(stream);
  levels.zero(stream);

  p.w = weights.get(), p.blocks = blocks.get(), p.labels = labels.get(), p.vectors = vectors.get();
  p.spatial = spatial.get(), p.known = known.get(), p.known_mask = known_mask.get();
  p.xt = xt.get(), p.v_hist = v_hist.get(), p.v_conv = v_conv.get(), p.vh_conv = vh_conv.get();
  p.h_base = h_base.get(), p.h_row = h_row.get();
  p.cond_bias = cond_bias.get(), p.logits_out = logits.get(), p.levels = levels.get();
  const RowLaunch rows = choose_row_launch(p, row_tile_depth(host_plan, arranged.blocks.data()));
  const unsigned tiles = unsigned((B + rows.images - 1) / rows.images);

  launch(conditioning_kernel, unsigned(B), kRowThreads, 0, stream, p);
  // Row i + 1 is queued before row i is waited for, so that the GPU never waits for the
  // host between rows; each row's end is reported as it is reached.
  Event row_done[2];
  const DrainOnExit drain_rows(stream);  // before the events go, if a row fails
  for (int i = 0; i < int(p.H); ++i) {
    if (cancel.load()) fail(codes::kAborted, "sampling was aborted");
    vertical_row(p, arranged.blocks, convolutions, gathered.get(), workspace.get(), i, stream);
    launch(rows.kernel, tiles, kTileThreads, size_t(rows.tile.bytes), stream, p, rows.tile, i);
    row_done[i % 2].record(stream);
    if (i > 0) row_done[(i - 1) % 2].wait(), on_row(i);
  }
  row_done[(p.H - 1) % 2].wait();
  on_row(p.H);
  SamplerResult result;
  levels.download(result.levels, stream);
  if (job.keep_logits) logits.download(result.logits, stream);
  GPCNN_CUDA(cudaStreamSynchronize(stream));
  return result;
}

}  // namespace gpcnn
