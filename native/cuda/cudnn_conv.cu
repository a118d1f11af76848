#include "cudnn_conv.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../core/host_device.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "cudnn_util.h"
#include "device_sync.h"
#include "launch.cuh"
#include "quads.cuh"
#include "reduce.cuh"

namespace gpcnn {

namespace {

bool timed_search() {
  const char* setting = std::getenv("GATED_PIXELCNN_CONV_SEARCH");
  return setting && std::string(setting) == "1";
}

// The kernels around the convolutions run one thread block per plane (image n,
// channel c), so that the index arithmetic per element is 32-bit, and 64-bit only once
// per block: a GPU divides 64-bit integers slowly.

// padded[n, c, i, j] = x[n, c, i − dy, j − dx], zero outside x.
__global__ void pad_kernel(const float* x, float* padded, int h, int w, int hp, int wp, int dy, int dx) {
  const float* from = x + int64_t(blockIdx.x) * h * w;
  float* to = padded + int64_t(blockIdx.x) * hp * wp;
  for (int e = threadIdx.x; e < hp * wp; e += blockDim.x) {
    const int i = e / wp, j = e - i * wp, si = i - dy, sj = j - dx;
    to[e] = (si >= 0 && si < h && sj >= 0 && sj < w) ? from[si * w + sj] : 0.f;
  }
}

// grad_x[n, c, i, j] (+)= grad_padded[n, c, i + dy, j + dx] (zero where that lies outside).
__global__ void crop_kernel(const float* padded, float* x, int h, int w, int hp, int wp, int dy, int dx,
                            bool accumulate) {
  const float* from = padded + int64_t(blockIdx.x) * hp * wp;
  float* to = x + int64_t(blockIdx.x) * h * w;
  for (int e = threadIdx.x; e < h * w; e += blockDim.x) {
    const int i = e / w, j = e - i * w, pi = i + dy, pj = j + dx;
    const float value = (pi >= 0 && pi < hp && pj >= 0 && pj < wp) ? from[pi * wp + pj] : 0.f;
    to[e] = accumulate ? to[e] + value : value;
  }
}

// y[n, k, :] += b[k]; four values per access where the planes allow it (quads.cuh).
__global__ void add_bias_kernel(float* y, const float* b, int channels, int plane) {
  const float bias = b[blockIdx.x % channels];
  float* to = y + int64_t(blockIdx.x) * plane;
  if (plane % 4 == 0 && quad_aligned(y)) {
    float4* quads = reinterpret_cast<float4*>(to);
    for (int q = threadIdx.x; q < plane / 4; q += blockDim.x) {
      float4 v = quads[q];
      v.x += bias, v.y += bias, v.z += bias, v.w += bias;
      quads[q] = v;
    }
    return;
  }
  for (int e = threadIdx.x; e < plane; e += blockDim.x) to[e] += bias;
}

// db[k] = Σ_{n, i} dy[n, k, i] in two fixed-order stages, so that a layer of few
// channels still spreads over the GPU: each block sums one channel over one chunk of
// images (launch with kReduceThreads threads), then one thread per channel adds its
// chunks in order. Within a block each warp takes one image's plane at a time, and
// each lane reads kLoadsPerLane elements a warp's width apart before adding them, so
// that enough loads are in flight to keep the memory busy.
constexpr int kLoadsPerLane = 4;
__global__ void bias_partial_kernel(const float* dy, double* partial, int64_t batch, int channels, int plane,
                                    int64_t images_per_chunk) {
  const int channel = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const int64_t first = blockIdx.x * images_per_chunk, last = min(batch, first + images_per_chunk);
  double sum = 0;
  for (int64_t n = first + warp; n < last; n += warps) {
    const float* from = dy + (n * channels + channel) * plane;
    for (int e = lane; e < plane; e += 32 * kLoadsPerLane) {
      float values[kLoadsPerLane];
      GPCNN_UNROLL
      for (int k = 0; k < kLoadsPerLane; ++k) values[k] = e + 32 * k < plane ? from[e + 32 * k] : 0.f;
      GPCNN_UNROLL
      for (int k = 0; k < kLoadsPerLane; ++k) sum += values[k];
    }
  }
  sum = block_sum(sum);
  if (threadIdx.x == 0) partial[int64_t(channel) * gridDim.x + blockIdx.x] = sum;
}

__global__ void bias_total_kernel(const double* partial, float* db, int channels, int chunks) {
  for (int channel = blockIdx.x * blockDim.x + threadIdx.x; channel < channels; channel += gridDim.x * blockDim.x) {
    double sum = 0;
    for (int chunk = 0; chunk < chunks; ++chunk) sum += partial[int64_t(channel) * chunks + chunk];
    db[channel] = float(sum);
  }
}

}  // namespace

struct CudnnConvolutions::Plan {
  int64_t batch, in_channels, height, width, out_channels, kh, kw, dy, dx;
  bool padded;  // false when the kernel is 1×1 at offset 0: x is used as it is
  cudnnTensorDescriptor_t input = nullptr, output = nullptr;
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t forward_algo;
  cudnnConvolutionBwdDataAlgo_t data_algo;
  cudnnConvolutionBwdFilterAlgo_t filter_algo;
  size_t forward_bytes = 0, data_bytes = 0, filter_bytes = 0;

  int64_t padded_height() const { return height + kh - 1; }
  int64_t padded_width() const { return width + kw - 1; }
  size_t padded_bytes() const { return sizeof(float) * batch * in_channels * padded_height() * padded_width(); }

  ~Plan() {
    if (input) cudnnDestroyTensorDescriptor(input);
    if (output) cudnnDestroyTensorDescriptor(output);
    if (filter) cudnnDestroyFilterDescriptor(filter);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

// Creating and destroying a handle synchronize the device: not during another thread's capture.
CudnnConvolutions::CudnnConvolutions(CudaBackend& backend, bool tf32)
    : backend_(backend), tf32_(tf32), plans_(kKeptConvolutionPlans) {
  GPCNN_CUDNN(synchronizing([this] { return cudnnCreate(&handle_); }));
  GPCNN_CUDNN(cudnnSetStream(handle_, backend_.stream()));
}

CudnnConvolutions::~CudnnConvolutions() {
  plans_.clear();
  workspace_.reset();
  if (handle_) synchronizing([this] { return cudnnDestroy(handle_); });
}

void* CudnnConvolutions::workspace(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (!workspace_ || workspace_->bytes() < bytes) {
    // The stream may still use the old workspace: let it finish before the pool reuses it.
    // Not while this thread captures, which nothing runs during and a synchronization
    // would end: a block freed then stays parked while the graph lives (captured_step.cc).
    if (!backend_.capturing_here()) GPCNN_CUDA(cudaStreamSynchronize(backend_.stream()));
    workspace_.reset();
    workspace_ = backend_.allocate(bytes);
  }
  return workspace_->data();
}

CudnnConvolutions::Plan& CudnnConvolutions::plan(int64_t batch, int64_t in_channels, int64_t height,
                                                 int64_t width, const Shape& w, const ConvParams& p) {
  std::string key;
  for (int64_t v : {batch, in_channels, height, width, w[0], w[2], w[3], p.dy, p.dx, p.groups})
    key += std::to_string(v) + ',';
  return *plans_.get(key, [&] { return make_plan(batch, in_channels, height, width, w, p); });
}

std::unique_ptr<CudnnConvolutions::Plan> CudnnConvolutions::make_plan(int64_t batch, int64_t in_channels,
                                                                     int64_t height, int64_t width, const Shape& w,
                                                                     const ConvParams& p) {
  auto plan = std::make_unique<Plan>();
  Plan& pl = *plan;
  pl.batch = batch, pl.in_channels = in_channels, pl.height = height, pl.width = width;
  pl.out_channels = w[0], pl.kh = w[2], pl.kw = w[3], pl.dy = p.dy, pl.dx = p.dx;
  pl.padded = !(pl.kh == 1 && pl.kw == 1 && pl.dy == 0 && pl.dx == 0);
  pl.input = tensor_desc(batch, in_channels, pl.padded_height(), pl.padded_width());
  pl.output = tensor_desc(batch, pl.out_channels, height, width);
  GPCNN_CUDNN(cudnnCreateFilterDescriptor(&pl.filter));
  GPCNN_CUDNN(cudnnSetFilter4dDescriptor(pl.filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(w[0]),
                                         int(w[1]), int(w[2]), int(w[3])));
  GPCNN_CUDNN(cudnnCreateConvolutionDescriptor(&pl.conv));
  GPCNN_CUDNN(cudnnSetConvolution2dDescriptor(pl.conv, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  GPCNN_CUDNN(cudnnSetConvolutionGroupCount(pl.conv, int(p.groups)));
  GPCNN_CUDNN(cudnnSetConvolutionMathType(pl.conv, tf32_ ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));

  // cuDNN's heuristics rank the algorithms, or, with GATED_PIXELCNN_CONV_SEARCH=1, its
  // finders time them (as torch.backends.cudnn.benchmark): perhaps faster steps, but the
  // choice may differ between processes, so a resumed run is no longer exact to the bit.
  // A search synchronizes the device, so it waits for another thread's capture to end.
  const bool timed = timed_search();
  int count = 0;
  std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  if (timed)
    GPCNN_CUDNN(synchronizing([&] {
      return cudnnFindConvolutionForwardAlgorithm(handle_, pl.input, pl.filter, pl.conv, pl.output, int(fwd.size()),
                                                  &count, fwd.data());
    }));
  else
    GPCNN_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(handle_, pl.input, pl.filter, pl.conv, pl.output,
                                                       int(fwd.size()), &count, fwd.data()));
  pl.forward_algo = pick_deterministic(fwd, count);
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> data(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
  if (timed)
    GPCNN_CUDNN(synchronizing([&] {
      return cudnnFindConvolutionBackwardDataAlgorithm(handle_, pl.filter, pl.output, pl.conv, pl.input,
                                                       int(data.size()), &count, data.data());
    }));
  else
    GPCNN_CUDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle_, pl.filter, pl.output, pl.conv, pl.input,
                                                            int(data.size()), &count, data.data()));
  pl.data_algo = pick_deterministic(data, count);
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> filter(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  if (timed)
    GPCNN_CUDNN(synchronizing([&] {
      return cudnnFindConvolutionBackwardFilterAlgorithm(handle_, pl.input, pl.output, pl.conv, pl.filter,
                                                         int(filter.size()), &count, filter.data());
    }));
  else
    GPCNN_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle_, pl.input, pl.output, pl.conv, pl.filter,
                                                              int(filter.size()), &count, filter.data()));
  pl.filter_algo = pick_deterministic(filter, count);
  GPCNN_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(handle_, pl.input, pl.filter, pl.conv, pl.output,
                                                      pl.forward_algo, &pl.forward_bytes));
  GPCNN_CUDNN(cudnnGetConvolutionBackwardDataWorkspaceSize(handle_, pl.filter, pl.output, pl.conv, pl.input,
                                                           pl.data_algo, &pl.data_bytes));
  GPCNN_CUDNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle_, pl.input, pl.output, pl.conv, pl.filter,
                                                             pl.filter_algo, &pl.filter_bytes));
  return plan;
}

// The input as cuDNN reads it: x itself, or a padded copy (kept alive by `holder`).
static const float* padded_input(CudaBackend& backend, const Tensor& x,
                                 int64_t hp, int64_t wp, int64_t dy, int64_t dx, bool padded,
                                 std::shared_ptr<Buffer>& holder) {
  if (!padded) return x.data<float>();
  const int64_t planes = x.dim(0) * x.dim(1);
  holder = backend.allocate(sizeof(float) * planes * hp * wp);
  launch(pad_kernel, unsigned(planes), 256, 0, backend.stream(), x.data<float>(), static_cast<float*>(holder->data()),
      int(x.dim(2)), int(x.dim(3)), int(hp), int(wp), int(dy), int(dx));
  return static_cast<const float*>(holder->data());
}

void CudnnConvolutions::forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p,
                                Tensor& y) {
  Plan& pl = plan(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.shape, p);
  std::shared_ptr<Buffer> padded;
  const float* input = padded_input(backend_, x, pl.padded_height(), pl.padded_width(), pl.dy, pl.dx,
                                    pl.padded, padded);
  const float one = 1.f, zero = 0.f;
  GPCNN_CUDNN(cudnnConvolutionForward(handle_, &one, pl.input, input, pl.filter, w.data<float>(), pl.conv,
                                      pl.forward_algo, workspace(pl.forward_bytes), pl.forward_bytes, &zero,
                                      pl.output, y.data<float>()));
  if (b)
    launch(add_bias_kernel, unsigned(pl.batch * pl.out_channels), 256, 0, backend_.stream(), y.data<float>(),
        b->data<float>(), int(pl.out_channels), int(pl.height * pl.width));
}

void CudnnConvolutions::backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p,
                                      Tensor& grad_x, bool accumulate) {
  Plan& pl = plan(grad_x.dim(0), grad_x.dim(1), grad_x.dim(2), grad_x.dim(3), w.shape, p);
  const float one = 1.f, zero = 0.f;
  if (!pl.padded) {
    // A sum goes through a scratch tensor and our add: cuDNN's own (beta = 1) measured
    // slower on an H200, on the host as well as on the GPU.
    const Tensor out = accumulate ? Tensor{DType::F32, grad_x.shape, backend_.allocate(grad_x.bytes())} : grad_x;
    GPCNN_CUDNN(cudnnConvolutionBackwardData(handle_, &one, pl.filter, w.data<float>(), pl.output,
                                             grad_y.data<float>(), pl.conv, pl.data_algo, workspace(pl.data_bytes),
                                             pl.data_bytes, &zero, pl.input, out.data<float>()));
    if (accumulate) backend_.accumulate(grad_x, out);
    return;
  }
  std::shared_ptr<Buffer> grad_padded = backend_.allocate(pl.padded_bytes());
  GPCNN_CUDNN(cudnnConvolutionBackwardData(handle_, &one, pl.filter, w.data<float>(), pl.output,
                                           grad_y.data<float>(), pl.conv, pl.data_algo, workspace(pl.data_bytes),
                                           pl.data_bytes, &zero, pl.input, grad_padded->data()));
  const int64_t planes = pl.batch * pl.in_channels;
  launch(crop_kernel, unsigned(planes), 256, 0, backend_.stream(), static_cast<const float*>(grad_padded->data()),
      grad_x.data<float>(), int(pl.height), int(pl.width), int(pl.padded_height()), int(pl.padded_width()),
      int(pl.dy), int(pl.dx), accumulate);
}

// Sums over images and planes (see bias_partial_kernel): enough chunks of images that
// there are about 512 blocks.
void CudnnConvolutions::channel_sums(const float* x, int64_t batch, int64_t channels, int64_t plane, float* out) {
  const int64_t chunks = std::clamp<int64_t>((512 + channels - 1) / channels, 1, batch);
  const int64_t images_per_chunk = (batch + chunks - 1) / chunks;
  std::shared_ptr<Buffer> partial = backend_.allocate(sizeof(double) * channels * chunks);
  double* partial_sums = static_cast<double*>(partial->data());
  launch(bias_partial_kernel, dim3(unsigned(chunks), unsigned(channels)), kReduceThreads, 0, backend_.stream(), x,
      partial_sums, batch, int(channels), int(plane), images_per_chunk);
  launch(bias_total_kernel, grid_for(channels), 256, 0, backend_.stream(), static_cast<const double*>(partial_sums),
      out, int(channels), int(chunks));
}

void CudnnConvolutions::channel_sums(const Tensor& x, Tensor& out) {
  const int64_t batch = x.dim(0), channels = x.dim(1);
  channel_sums(x.data<float>(), batch, channels, x.numel() / (batch * channels), out.data<float>());
}

void CudnnConvolutions::backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p,
                                         Tensor& grad_w, Tensor* grad_b) {
  Plan& pl = plan(x.dim(0), x.dim(1), x.dim(2), x.dim(3), grad_w.shape, p);
  std::shared_ptr<Buffer> padded;
  const float* input = padded_input(backend_, x, pl.padded_height(), pl.padded_width(), pl.dy, pl.dx,
                                    pl.padded, padded);
  const float one = 1.f, zero = 0.f;
  GPCNN_CUDNN(cudnnConvolutionBackwardFilter(handle_, &one, pl.input, input, pl.output, grad_y.data<float>(),
                                             pl.conv, pl.filter_algo, workspace(pl.filter_bytes), pl.filter_bytes,
                                             &zero, pl.filter, grad_w.data<float>()));
  if (grad_b) channel_sums(grad_y.data<float>(), pl.batch, pl.out_channels, pl.height * pl.width, grad_b->data<float>());
}

}  // namespace gpcnn
