#include "cached_sampler.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../core/phase_clock.h"
#include "../core/sampler_plan.h"
#include "../core/sampler_layout.h"
#include "batch_gemm.cuh"
#include "cuda_check.h"
#include "cuda_resources.h"
#include "launch.cuh"
#include "math_mode.h"
#include "sampler_cluster.cuh"
#include "sampler_position.cuh"
#include "sampler_tile.cuh"
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

// A grid's extent along y or z for `blocks` blocks: at most the 65535 the device takes
// (the kernels loop over what that leaves).
unsigned grid_extent(int64_t blocks) { return unsigned(std::min<int64_t>(blocks, 65535)); }

// Each block's convolutions at a row: its vertical one, and vh over that one's output.
struct BlockRowConvolutions {
  std::unique_ptr<RowConvolution> vertical, vh;
};

#if GPCNN_CUBLAS
using VerticalProducts = cublasHandle_t;
constexpr bool kHaveCublas = true;

// This worker thread's cuBLAS handle, on `stream`: kept for the thread's later jobs
// and never destroyed, as thread_cudnn()'s (cuda_resources.h).
cublasHandle_t thread_cublas(cudaStream_t stream) {
  thread_local const cublasHandle_t handle = [] {
    cublasHandle_t created = nullptr;
    GPCNN_CUBLAS_CALL(synchronizing([&created] { return cublasCreate(&created); }));
    return created;
  }();
  GPCNN_CUBLAS_CALL(cublasSetStream(handle, stream));
  return handle;
}
#else
using VerticalProducts = void*;  // an addon built without cuBLAS never has one
constexpr bool kHaveCublas = false;
#endif

// Every block's vertical stack at row *row, and the horizontal pre-activations' h_base,
// for the whole batch (sampler_vertical.cuh): cuDNN's convolutions, or cuBLAS's
// products where `products` is given.
void vertical_row(const SamplerPlan& p, const std::vector<BlockPlan>& blocks,
                  const std::vector<BlockRowConvolutions>& convolutions, VerticalProducts products,
                  float* gathered, void* workspace, const int* row, cudaStream_t stream) {
  for (int l = 0; l < int(p.L); ++l) {
    const BlockPlan& bl = blocks[l];
    const float* in = l == 0 ? p.xt : p.v_hist + (l - 1) * p.B * p.P * p.H * p.W;
    // The rows it reads as they are (cuDNN's input), or their windows (cuBLAS's): a thread
    // a k of the windows (fewer threads a block where k is short: the first block's), or
    // a warp a row.
    const int64_t depth = bl.cin * bl.vkh * bl.vkw, k_threads = std::min<int64_t>(kRowThreads, ceil_div(depth, 32) * 32);
    if (products)
      launch(gather_columns_kernel,
             dim3(unsigned(p.B), grid_extent(ceil_div(depth, k_threads)), grid_extent(ceil_div(p.W, kGatherColumns))),
             unsigned(k_threads), 0, stream, in, gathered, int(bl.cin), int(p.H), int(p.W), int(bl.vkh), int(bl.vkw),
             int(bl.vdy), int(bl.vdx), row);
    else
      launch(gather_rows_kernel, dim3(unsigned(p.B), grid_extent(ceil_div(bl.cin * bl.vkh, kRowThreads / 32))),
             kRowThreads, 0, stream, in, gathered, int(bl.cin), int(p.H), int(p.W), int(bl.vkh), int(bl.vkw),
             int(bl.vdy), int(bl.vdx), row);
#if GPCNN_CUBLAS
    if (products) {
      row_product(products, p.B * p.W, depth, 2 * p.P, gathered, p.w + bl.v_w, p.v_conv);
      row_product(products, p.B * p.W, 2 * p.P, 2 * p.P, p.v_conv, p.w + bl.vh_w, p.vh_conv);
    }
#endif
    if (!products) {
      convolutions[l].vertical->run(gathered, p.w + bl.v_w, p.v_conv, workspace);
      convolutions[l].vh->run(p.v_conv, p.w + bl.vh_w, p.vh_conv, workspace);
    }
    const RowLayout layout{products != nullptr, int(2 * p.P), int(p.W)};
    launch(finish_vertical_kernel, dim3(unsigned(p.B), grid_extent(ceil_div(2 * p.P, kFinishTile))), kRowThreads, 0,
           stream, p, bl, l, row, layout);
  }
}

// The vertical stage runs as cuBLAS's products where the addon was built with cuBLAS
// (measured faster on an H200: 2726–2911 images/s of mnist-quick at batch 256, against
// 2505–2588), else as cuDNN's convolutions; GATED_PIXELCNN_SAMPLER_VERTICAL=cudnn asks
// for those.
bool vertical_on_cublas() {
  const char* setting = std::getenv("GATED_PIXELCNN_SAMPLER_VERTICAL");
  const std::string stage = setting ? setting : "cublas";
  if (stage != "cudnn" && stage != "cublas")
    fail(codes::kArg, "GATED_PIXELCNN_SAMPLER_VERTICAL must be 'cudnn' or 'cublas', got '" + stage + "'");
  return stage == "cublas" && kHaveCublas;
}

int max_shared_memory_optin() {
  int device = 0, limit = 0;
  GPCNN_CUDA(cudaGetDevice(&device));
  GPCNN_CUDA(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return limit;
}

// The fused head's dynamic shared memory: its draws' doubles.
size_t fused_head_bytes(const SamplerPlan& p) { return size_t(kGemmRows) * size_t(p.K + 1) * sizeof(double); }

// Whether the head's hidden layer and the draws run as one kernel (head_hidden_draw_kernel):
// where a product's tile holds every hidden unit, and the draws' doubles fit beside
// the product's shared memory.
bool fuse_head(const SamplerPlan& p) {
  if (p.Q > kGemmCols) return false;
  const int limit = max_shared_memory_optin();
  if (sizeof(GemmTileShared) + fused_head_bytes(p) > size_t(limit)) return false;
  // All the device allows, whatever this job's plan, as for the tiles' kernel.
  GPCNN_CUDA(cudaFuncSetAttribute(head_hidden_draw_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  limit - int(sizeof(GemmTileShared))));
  return true;
}

// Every block's horizontal stack, the head and the draws at (*row, j), for the whole
// batch (sampler_position.cuh). With `overlap`, each kernel but a row's first may
// start while the one before it ends (launch.cuh): they are a chain of small
// kernels, each waiting for the last, so a launch's latency is much of their time.
void position(const SamplerPlan& p, const PositionScratch& scratch, const std::vector<BlockPlan>& blocks,
              const int* row, int j, bool overlap, bool fused_head, cudaStream_t stream) {
  const int B = int(p.B), P = int(p.P), S = int(p.S);
  for (int l = 0; l < int(p.L); ++l) {
    const BlockPlan& bl = blocks[l];
    const PositionArgs at{p, scratch, bl, row, l, j};
    batch_gemm(stream, B, 2 * P, int(bl.cin * bl.hkw), PreActivation{at}, overlap && (j > 0 || l > 0));
    const int outputs = S + (l < p.L - 1 ? P : 0);  // the last block's horizontal output feeds nothing
    batch_gemm(stream, B, outputs, P, SkipResidual{at}, overlap);
  }
  const PositionArgs head{p, scratch, blocks.back(), row, 0, j};
  if (fused_head) {
    launch_overlapped(overlap, head_hidden_draw_kernel, unsigned(ceil_div(B, kGemmRows)), kGemmThreads,
                      fused_head_bytes(p), stream, HeadHidden{head});
    return;
  }
  batch_gemm(stream, B, int(p.Q), S, HeadHidden{head}, overlap);
  const unsigned draw_blocks = unsigned((B + kHeadImages - 1) / kHeadImages);
  launch_overlapped(overlap, head_draw_kernel, draw_blocks, kRowThreads, kHeadImages * (p.K + 1) * sizeof(double),
                    stream, head);
}

// The graph of a capture, or, where the device refused to capture some of the work,
// no graph and the refusal's message (its error cleared), so that the caller can queue
// that work call by call.
struct Capture {
  std::unique_ptr<CapturedGraph> graph;
  std::string refusal;
};

// Ours are kernels only; cuDNN's and cuBLAS's calls are captured as PyTorch captures
// them, but a version of either that copies from the host, synchronizes or allocates in
// a call must not stop every sample. Such a refusal may come as a library's own status,
// an allocation's among them (ERR_CUDA_OOM): memory that truly runs out shows again
// when the work is queued call by call.
Capture capture_if_possible(cudaStream_t stream, const std::function<void()>& record) {
  try {
    return {std::make_unique<CapturedGraph>(stream, record), {}};
  } catch (const Error& error) {
    if (error.code() != codes::kCuda && error.code() != codes::kCudaOutOfMemory) throw;
    (void)cudaGetLastError();
    ensure_device_usable();  // a fault is no refusal to capture
    return {nullptr, error.what()};
  }
}

int compute_capability_major() {
  int device = 0, major = 0;
  GPCNN_CUDA(cudaGetDevice(&device));
  GPCNN_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major;
}

// Overlapped launches need sm_90; GATED_PIXELCNN_SAMPLER_OVERLAP=0 turns them off (to
// measure what they bring).
bool overlap_launches() {
  const char* setting = std::getenv("GATED_PIXELCNN_SAMPLER_OVERLAP");
  if (setting && std::string(setting) == "0") return false;
  return compute_capability_major() >= 9;
}

// GATED_PIXELCNN_SAMPLER: how a row's positions run (tile, the default, graph or cluster).
// Tiles of 2 images were the fastest on an H200 (mnist-quick at batch 256: 1.88 ms a row
// against 2.16 for the graph, 2.21 for tiles of 4, 3.89 for clusters).
std::string positions_design() {
  const char* setting = std::getenv("GATED_PIXELCNN_SAMPLER");
  const std::string design = setting ? setting : "tile";
  if (design != "graph" && design != "cluster" && design != "tile")
    fail(codes::kArg, "GATED_PIXELCNN_SAMPLER must be 'graph', 'cluster' or 'tile', got '" + design + "'");
  return design;
}

// How a row's positions run: as tiles (below), as a captured graph of a few launches per
// position (sampler_position.cuh), or with GATED_PIXELCNN_SAMPLER=cluster as one launch of thread
// block clusters per row (sampler_cluster.cuh), where the device has clusters (sm_90),
// the addon's kernel was compiled for them (a build for sm_80 alone runs its PTX, in
// which the cluster functions trap) and a block's share of the model fits in its
// shared memory; elsewhere as a graph. Returns the clusters' plan, or nothing for a
// graph.
std::optional<ClusterPlan> cluster_positions(const SamplerPlan& p, const std::vector<BlockPlan>& blocks,
                                             const std::string& design) {
  if (design != "cluster" || compute_capability_major() < 9) return std::nullopt;
  cudaFuncAttributes compiled{};
  GPCNN_CUDA(cudaFuncGetAttributes(&compiled, positions_cluster_kernel));
  if (compiled.ptxVersion < 90) return std::nullopt;
  const int limit = max_shared_memory_optin();
  // The kernel may use all of it, whatever this job's plan: the attribute is the
  // process's, and jobs on other threads may be planning at the same time.
  GPCNN_CUDA(cudaFuncSetAttribute(positions_cluster_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit));
  // A tile of kGemmRows images per cluster, or a few times that where the device runs
  // too few clusters at once for the batch: a second wave of clusters would double
  // the row's time, more images per cluster only lengthen each product. A larger tile
  // takes more shared memory, with which fewer clusters may fit: asked again.
  const int64_t tiles = ceil_div(p.B, kGemmRows);
  for (int64_t images = kGemmRows;;) {
    const ClusterPlan plan = cluster_plan(p, blocks.data(), images);
    if (plan.bytes > limit) return std::nullopt;
    const int active = max_active_clusters(positions_cluster_kernel, kGemmThreads, kClusterRanks, size_t(plan.bytes));
    if (active < 1) return std::nullopt;
    if (ceil_div(p.B, images) <= active) return plan;
    images = kGemmRows * ceil_div(tiles, active);  // more than before, as `active` can only have shrunk
  }
}

using TileKernel = void (*)(SamplerPlan, TilePlan, const int*);

// The kernel for tiles of `images` (2, 4 or 8) images.
TileKernel tile_kernel(int images) {
  return images == 2 ? positions_tile_kernel<2> : images == 4 ? positions_tile_kernel<4> : positions_tile_kernel<8>;
}

// With GATED_PIXELCNN_SAMPLER=tile (the default), a row's positions as one launch in
// which each thread block takes GATED_PIXELCNN_SAMPLER_TILE (2, 4 or 8; 2 by default)
// images through the row alone (sampler_tile.cuh), where the tile's state fits a block's
// shared memory; else (or for another design) nothing: a graph.
std::optional<TilePlan> tile_positions(const SamplerPlan& p, const std::vector<BlockPlan>& blocks,
                                       const std::string& design) {
  const char* setting = std::getenv("GATED_PIXELCNN_SAMPLER_TILE");
  const std::string images = setting ? setting : "2";
  if (images != "2" && images != "4" && images != "8")
    fail(codes::kArg, "GATED_PIXELCNN_SAMPLER_TILE must be 2, 4 or 8, got '" + images + "'");
  if (design != "tile") return std::nullopt;
  // The ring holds a block's last hdx + 1 horizontal outputs (ring_columns), which is
  // every column a window reads while none reaches past j (SPEC.md §4's geometry).
  for (size_t l = 1; l < blocks.size(); ++l)
    if (blocks[l].hkw > blocks[l].hdx + 1) return std::nullopt;
  const TilePlan plan = tile_plan(p, blocks.data(), std::stoi(images));
  const int limit = max_shared_memory_optin();
  if (plan.bytes > limit) return std::nullopt;
  // All of it, whatever this job's plan, as for the clusters' kernel.
  GPCNN_CUDA(cudaFuncSetAttribute(tile_kernel(plan.images), cudaFuncAttributeMaxDynamicSharedMemorySize, limit));
  return plan;
}

}  // namespace

SamplerResult run_cuda_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                      const std::atomic<bool>& cancel) {
  ensure_device_usable();
  PhaseClock clock("cached sampler's setup");
  const ArrangedWeights arranged = arrange_weights(job);
  const SamplerPlan host_plan = plan_for(job, arranged);
  clock.lap("weights arranged");
  SamplerPlan p = host_plan;  // its pointers are replaced by device ones below
  const int64_t B = p.B, P = p.P;
  const SamplerStateSizes sizes = state_sizes(p, job.keep_logits);
  const bool cublas = vertical_on_cublas();
  // The vertical stage's products on TF32 tensor cores where the backend's convolutions
  // may use them (GATED_PIXELCNN_TF32; the positions' products stay fp32).
  const bool tf32 = tf32_allowed();
  int64_t gathered_size = 0;  // the vertical stage's input: the rows it reads, or their windows
  for (const BlockPlan& bl : arranged.blocks)
    gathered_size = std::max(gathered_size, cublas ? B * p.W * bl.cin * bl.vkh * bl.vkw
                                                   : B * bl.cin * bl.vkh * (p.W + bl.vkw - 1));

  // Everything is allocated before anything is queued, and the drain guard comes after
  // the buffers: whatever stops the job, queued work ends before its memory is freed.
  const cudaStream_t stream = thread_stream();
  clock.lap("stream");
  std::vector<BlockRowConvolutions> convolutions;
  size_t workspace_bytes = 0;
  VerticalProducts products = nullptr;
#if GPCNN_CUBLAS
  if (cublas) {
    products = thread_cublas(stream);
    GPCNN_CUBLAS_CALL(cublasSetMathMode(products, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
#endif
  // cuBLAS's products need no convolutions, nor a cuDNN handle: a worker thread's first
  // one took 2 ms to make (an H200's host), and a job may run on a thread new to it.
  const cudnnHandle_t cudnn = products ? nullptr : thread_cudnn(stream);
  for (const BlockPlan& bl : arranged.blocks) {
    if (products) break;
    BlockRowConvolutions row_convolutions;
    row_convolutions.vertical = std::make_unique<RowConvolution>(
        cudnn, RowConvolutionShape{B, bl.cin, bl.vkh, bl.vkw, 2 * P, p.W, tf32});
    row_convolutions.vh =
        std::make_unique<RowConvolution>(cudnn, RowConvolutionShape{B, 2 * P, 1, 1, 2 * P, p.W, tf32});
    workspace_bytes = std::max({workspace_bytes, row_convolutions.vertical->workspace_bytes(),
                                row_convolutions.vh->workspace_bytes()});
    convolutions.push_back(std::move(row_convolutions));
  }
  clock.lap("cuBLAS handle or cuDNN's convolutions");
  const bool any_known = !job.known_mask.empty();
  DeviceArray<float> weights(int64_t(arranged.flat->size()));
  DeviceArray<BlockPlan> blocks(int64_t(arranged.blocks.size()));
  DeviceArray<int32_t> labels(int64_t(job.labels.size()));
  DeviceArray<float> vectors(int64_t(job.vectors.size())), spatial(int64_t(job.spatial.size()));
  DeviceArray<uint8_t> known(any_known ? int64_t(job.known.size()) : 0), known_mask(int64_t(job.known_mask.size()));
  DeviceArray<float> xt(sizes.xt), v_hist(sizes.v_hist), v_conv(sizes.v_conv), vh_conv(sizes.vh_conv);
  DeviceArray<float> h_base(sizes.h_base), h_row(sizes.h_row);
  DeviceArray<float> cond_bias(sizes.cond_bias), logits(sizes.logits), gathered(gathered_size);
  DeviceArray<float> pre(B * 2 * P), skip(B * p.S), zs(B * p.Q), z(B * p.Q), channel_logits(B * p.K);
  DeviceArray<uint8_t> levels(sizes.levels), workspace{int64_t(workspace_bytes)};
  DeviceArray<int> row(1);
  DeviceArray<int32_t> diverged(1);
  // cuBLAS's workspace, the size its documentation recommends: with its own pool, the
  // captured products would allocate and free in the graph at every row.
  const int64_t cublas_workspace_bytes = products ? (compute_capability_major() >= 9 ? 32 : 4) << 20 : 0;
  DeviceArray<uint8_t> cublas_workspace(cublas_workspace_bytes);
  const DrainOnExit drain(stream);
  clock.lap("allocated");
#if GPCNN_CUBLAS
  if (products) GPCNN_CUBLAS_CALL(cublasSetWorkspace(products, cublas_workspace.get(), size_t(cublas_workspace_bytes)));
#endif
  weights.upload(*arranged.flat, stream);
  blocks.upload(arranged.blocks, stream), labels.upload(job.labels, stream);
  vectors.upload(job.vectors, stream), spatial.upload(job.spatial, stream), known_mask.upload(job.known_mask, stream);
  if (any_known) known.upload(job.known, stream);
  for (DeviceArray<float>* state : {&xt, &v_hist, &v_conv, &vh_conv, &h_base, &h_row, &cond_bias}) state->zero(stream);
  levels.zero(stream), row.zero(stream), diverged.zero(stream);
  // Timed, the device's part of a phase counts in it.
  const auto lap = [&](const char* phase) {
    if (clock.enabled()) GPCNN_CUDA(cudaStreamSynchronize(stream));
    clock.lap(phase);
  };
  lap("uploaded and zeroed");

  p.w = weights.get(), p.blocks = blocks.get(), p.labels = labels.get(), p.vectors = vectors.get();
  p.spatial = spatial.get(), p.known = known.get(), p.known_mask = known_mask.get();
  p.xt = xt.get(), p.v_hist = v_hist.get(), p.v_conv = v_conv.get(), p.vh_conv = vh_conv.get();
  p.h_base = h_base.get(), p.h_row = h_row.get();
  p.cond_bias = cond_bias.get(), p.logits_out = logits.get(), p.levels = levels.get(), p.diverged = diverged.get();
  const PositionScratch scratch{pre.get(), skip.get(), zs.get(), z.get(), channel_logits.get()};

  launch(conditioning_kernel, unsigned(B), kRowThreads, 0, stream, p);
  const std::string design = positions_design();
  const std::optional<ClusterPlan> clusters = cluster_positions(p, arranged.blocks, design);
  const std::optional<TilePlan> tiles = tile_positions(p, arranged.blocks, design);
  const bool fused_head = !clusters && !tiles && fuse_head(p);
  lap("conditioning and design");
  // A row is one graph, launched for every row: the vertical stage, then the positions
  // as a few launches each or as one launch of clusters or of tiles, then a kernel that
  // advances the row, which every kernel reads from the device. So a row costs the host one
  // launch, however many kernels and cuDNN or cuBLAS calls it holds: on a slow host
  // those calls took longer than the GPU's work. Where the device refuses to capture
  // the vertical stage's library calls, they are queued call by call before each
  // launch of a graph of the positions (or, refused too, of the positions' launches).
  const auto queue_vertical = [&] {
    vertical_row(p, arranged.blocks, convolutions, products, gathered.get(), workspace.get(), row.get(), stream);
  };
  const auto queue_positions = [&] {
    if (clusters) {
      launch_clustered(positions_cluster_kernel, unsigned(ceil_div(B, clusters->tile) * kClusterRanks), kGemmThreads,
                       kClusterRanks, size_t(clusters->bytes), stream, p, *clusters, row.get());
      launch(advance_row_kernel, 1, 1, 0, stream, row.get());
    } else if (tiles) {
      launch(tile_kernel(tiles->images), unsigned(ceil_div(B, tiles->images)), kTileThreads, size_t(tiles->bytes), stream,
             p, *tiles, row.get());
      launch(advance_row_kernel, 1, 1, 0, stream, row.get());
    } else {
      const bool overlap = overlap_launches();
      for (int j = 0; j < int(p.W); ++j)
        position(p, scratch, arranged.blocks, row.get(), j, overlap, fused_head, stream);
      launch_overlapped(overlap, advance_row_kernel, 1, 1, 0, stream, row.get());
    }
  };
  // Row 0's vertical stage once before the capture, as PyTorch warms up before it
  // captures: cuDNN and cuBLAS may set themselves up at a geometry's first call, in ways
  // a capture cannot record. (The graph computes the same row again.)
  queue_vertical();
  lap("first vertical stage");
  const Capture row_graph = capture_if_possible(stream, [&] {
    queue_vertical();
    queue_positions();
  });
  const Capture positions_graph = row_graph.graph ? Capture{} : capture_if_possible(stream, queue_positions);
  lap("captured");

  // Row i + 1 is queued before row i is waited for, so that the GPU never waits for the
  // host between rows; each row's end is reported as it is reached.
  Event row_done[2];
  const DrainOnExit drain_rows(stream);  // before the graphs and events go, if a row fails
  for (int i = 0; i < int(p.H); ++i) {
    if (cancel.load()) fail(codes::kAborted, "sampling was aborted");
    if (row_graph.graph) {
      row_graph.graph->launch(stream);
    } else {
      queue_vertical();
      if (positions_graph.graph)
        positions_graph.graph->launch(stream);
      else
        queue_positions();
    }
    row_done[i % 2].record(stream);
    if (i > 0) row_done[(i - 1) % 2].wait(), on_row(i);
    if (i == 0) lap("first row");  // the graph's first launch uploads it
  }
  row_done[(p.H - 1) % 2].wait();
  on_row(p.H);
  SamplerResult result;
  result.design = clusters ? "cluster" : tiles ? "tile" : "graph";
  result.vertical = products ? "cublas" : "cudnn";
  result.cluster_images = clusters ? clusters->tile : tiles ? tiles->images : 0;
  result.row_graph = row_graph.graph != nullptr;
  result.capture_refused = row_graph.refusal;
  levels.download(result.levels, stream);
  if (job.keep_logits) logits.download(result.logits, stream);
  std::vector<int32_t> any_diverged;
  diverged.download(any_diverged, stream);
  GPCNN_CUDA(cudaStreamSynchronize(stream));
  if (any_diverged[0])
    fail(codes::kDiverged, "a draw's logits are not finite: the model's weights overflow them, as those of a run that "
                           "diverged do");
  return result;
}

}  // namespace gpcnn
