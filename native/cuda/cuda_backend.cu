// Device memory, the stream, transfers, and the elementwise ops of the CUDA backend.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "../core/errors.h"
#include "../core/relu.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "cudnn_conv.h"
#include "device_sync.h"
#include "launch.cuh"
#include "math_mode.h"
#include "quads.cuh"

namespace gpcnn {

// Idle device memory kept for reuse.
constexpr size_t kMaxCachedDeviceBytes = size_t{8} << 30;

void* device_allocate(size_t bytes) {
  void* data = nullptr;
  const cudaError_t error = cudaMalloc(&data, bytes);
  if (error == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the (non-sticky) allocation error
    return nullptr;
  }
  if (error != cudaSuccess) cuda_fail(error, "cudaMalloc", __FILE__, __LINE__);
  return data;
}

static int probe_device(std::string& name, int& capability) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    fail(codes::kCuda, "no CUDA device answers (",
         error == cudaSuccess ? "no devices" : cudaGetErrorString(error), ")");
  }
  int device = 0;
  GPCNN_CUDA(cudaGetDevice(&device));
  cudaDeviceProp props{};
  GPCNN_CUDA(cudaGetDeviceProperties(&props, device));
  name = props.name;
  capability = props.major * 10 + props.minor;
  return device;
}

constexpr unsigned char kGuardByte = 0xA5;

// Device guard regions: set with cudaMemset, checked by copying them back (tests only).
// Every memset is followed by a device-wide synchronization: it runs on the legacy
// stream, which does not order itself with the backend's non-blocking one.
static void memset_now(void* at, unsigned char value, size_t n) {
  synchronize_device();
  cudaMemset(at, value, n);
  synchronize_device();
}

static CachingAllocator::Guards device_guards() {
  return {CachingAllocator::guard_bytes_requested(256),
          [](void* at, size_t n) { memset_now(at, kGuardByte, n); },
          [](const void* at, size_t n) {
            std::vector<unsigned char> host(n);
            synchronize_device();
            if (cudaMemcpy(host.data(), at, n, cudaMemcpyDeviceToHost) != cudaSuccess) return false;
            for (unsigned char b : host)
              if (b != kGuardByte) return false;
            return true;
          },
          [](void* at, size_t n) { memset_now(at, kUnwrittenByte, n); }};
}

CudaBackend::CudaBackend()
    // Idle blocks are freed rarely (out of memory, or over the cache's limit): wait for
    // any work still queued on them first.
    : allocator_(device_allocate, [](void* data) { synchronize_and_free(data); }, kMaxCachedDeviceBytes,
                 codes::kCudaOutOfMemory, "device", device_guards()) {
  probe_device(device_name_, compute_capability_);
  try {
    GPCNN_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    GPCNN_CUDA(cudaMalloc(&range_flag_, sizeof(int)));
    convolutions_ = std::make_unique<CudnnConvolutions>(*this, tf32());
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    if (range_flag_) synchronizing([this] { return cudaFree(range_flag_); });
    if (stream_) cudaStreamDestroy(stream_);
    throw;
  }
}

CudaBackend::~CudaBackend() {
  abort_capture();  // one left open (a worker thread terminated mid-capture) holds the device lock
  convolutions_.reset();
  allocator_.release_cached();
  if (range_flag_) synchronizing([this] { return cudaFree(range_flag_); });
  if (stream_) cudaStreamDestroy(stream_);
}

bool CudaBackend::tf32() const { return tf32_allowed(); }

std::shared_ptr<Buffer> CudaBackend::allocate(size_t bytes) {
  ensure_device_usable();
  if (CachingAllocator* captured = capture_allocator()) return captured->allocate(bytes);
  return allocator_.allocate(bytes);
}

namespace {

template <typename T>
Buffer::Range range_of(const void* host, int64_t count) {
  const T* values = static_cast<const T*>(host);
  Buffer::Range range{values[0], values[0]};
  for (int64_t k = 1; k < count; ++k)
    range.min = std::min<int64_t>(range.min, values[k]), range.max = std::max<int64_t>(range.max, values[k]);
  return range;
}

}  // namespace

void CudaBackend::upload(Tensor& dst, const void* host) {
  ensure_device_usable();
  refuse_while_capturing("writing host data into a tensor");
  // Integer data (labels, levels) is copied first, so that the range recorded is the
  // range of exactly what reaches the device, whatever happens to the caller's memory.
  std::vector<char> copy;
  if (dst.dtype != DType::F32) {
    copy.assign(static_cast<const char*>(host), static_cast<const char*>(host) + dst.bytes());
    host = copy.data();
  }
  GPCNN_CUDA(cudaMemcpyAsync(dst.buffer->data(), host, dst.bytes(), cudaMemcpyHostToDevice, stream_));
  // The source is pageable memory that may change or go once this returns.
  GPCNN_CUDA(cudaStreamSynchronize(stream_));
  std::optional<Buffer::Range> range;
  if (dst.dtype == DType::I32) range = range_of<int32_t>(host, dst.numel());
  if (dst.dtype == DType::U8) range = range_of<uint8_t>(host, dst.numel());
  dst.buffer->set_known_range(range);
}

MemoryUsage CudaBackend::memory_usage() const {
  MemoryUsage usage = allocator_.memory()->usage();
  if (convolutions_) usage.cached_plans = convolutions_->plan_count();
  return usage;
}

void CudaBackend::release_cached_memory() {
  refuse_while_capturing("releasing cached memory");
  allocator_.release_cached();
}

void CudaBackend::refuse_while_capturing(const char* what) const {
  if (capture_allocator()) fail(codes::kArg, what, " waits for the device, which a capture cannot record");
}

void CudaBackend::refuse_changing_scalars_while_capturing(const char* what) const {
  if (capture_allocator())
    fail(codes::kArg, what, " takes numbers that change from step to step, which a capture cannot record (a replay would "
                            "repeat the captured ones): run it outside the capture");
}

void CudaBackend::download(const Tensor& src, void* host) {
  ensure_device_usable();
  refuse_while_capturing("reading a tensor back");
  GPCNN_CUDA(cudaMemcpyAsync(host, src.buffer->data(), src.bytes(), cudaMemcpyDeviceToHost, stream_));
  GPCNN_CUDA(cudaStreamSynchronize(stream_));
}

void CudaBackend::download_all(const std::vector<std::pair<const Tensor*, void*>>& copies) {
  ensure_device_usable();
  refuse_while_capturing("reading tensors back");
  for (const auto& [src, host] : copies)
    GPCNN_CUDA(cudaMemcpyAsync(host, src->buffer->data(), src->bytes(), cudaMemcpyDeviceToHost, stream_));
  GPCNN_CUDA(cudaStreamSynchronize(stream_));
}

void CudaBackend::fill_zero(Tensor& t) {
  ensure_device_usable();
  GPCNN_CUDA(cudaMemsetAsync(t.buffer->data(), 0, t.bytes(), stream_));
  // A captured memset runs only at a replay: until then the values are unknown.
  t.buffer->set_known_range(capture_allocator() ? std::nullopt : std::optional<Buffer::Range>(Buffer::Range{0, 0}));
}

bool CudaBackend::known_within(const Tensor& t, int64_t limit) {
  const std::optional<Buffer::Range>& range = t.buffer->known_range();
  return range && range->min >= 0 && range->max < limit;
}

void CudaBackend::reset_range_flag() {
  refuse_while_capturing("checking the range of values not known on the host");
  const int none = kNoneFlagged;
  GPCNN_CUDA(cudaMemcpyAsync(range_flag_, &none, sizeof(int), cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::check_range_flag(const char* what, int64_t limit) {
  int flagged = kNoneFlagged;
  GPCNN_CUDA(cudaMemcpyAsync(&flagged, range_flag_, sizeof(int), cudaMemcpyDeviceToHost, stream_));
  GPCNN_CUDA(cudaStreamSynchronize(stream_));
  if (flagged != kNoneFlagged) fail(codes::kRange, what, "[", flagged, "] is outside [0, ", limit, ")");
}

void CudaBackend::conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p,
                               Tensor& y) {
  ensure_device_usable();
  convolutions_->forward(x, w, b, p, y);
}

void CudaBackend::conv_backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p,
                                     Tensor& grad_x, bool accumulate) {
  ensure_device_usable();
  convolutions_->backward_data(grad_y, w, p, grad_x, accumulate);
}

void CudaBackend::channel_sums(const Tensor& x, Tensor& out) {
  ensure_device_usable();
  convolutions_->channel_sums(x, out);
}

void CudaBackend::conv_backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p,
                                        Tensor& grad_w, Tensor* grad_b) {
  ensure_device_usable();
  convolutions_->backward_weights(x, grad_y, p, grad_w, grad_b);
}

// ---- elementwise ----

namespace {

// The elementwise kernels move four floats per access where every pointer allows it
// (quads.cuh); the last n mod 4 elements, or all of them for an unaligned pointer, go
// one at a time.
// Calls quad(q) for each quad q < n / 4 (elements 4q … 4q + 3) and single(i) for each
// element after them; with `aligned` false, single(i) for every element.
template <typename Quad, typename Single>
__device__ void for_each_element(int64_t n, bool aligned, Quad quad, Single single) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t quads = aligned ? n / 4 : 0;
  for (int64_t q = first; q < quads; q += stride) quad(q);
  for (int64_t i = quads * 4 + first; i < n; i += stride) single(i);
}

__device__ inline float4 add4(float4 a, float4 b) { return {a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w}; }

__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
  for_each_element(
      n, quad_aligned(a) && quad_aligned(b) && quad_aligned(out),
      [&](int64_t q) {
        reinterpret_cast<float4*>(out)[q] = add4(reinterpret_cast<const float4*>(a)[q], reinterpret_cast<const float4*>(b)[q]);
      },
      [&](int64_t i) { out[i] = a[i] + b[i]; });
}

__global__ void accumulate_kernel(float* dst, const float* src, int64_t n) {
  for_each_element(
      n, quad_aligned(dst) && quad_aligned(src),
      [&](int64_t q) {
        float4* to = reinterpret_cast<float4*>(dst) + q;
        *to = add4(*to, reinterpret_cast<const float4*>(src)[q]);
      },
      [&](int64_t i) { dst[i] += src[i]; });
}

__global__ void relu_kernel(const float* x, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = relu(x[i]);
}

__global__ void relu_backward_kernel(const float* grad, const float* x, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = x[i] <= 0.f ? 0.f : grad[i];  // NaN passes, as in PyTorch
}

__global__ void scale_kernel(float* x, float factor, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= factor;
}

}  // namespace

void CudaBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  ensure_device_usable();
  const int64_t n = a.numel();
  launch(add_kernel, grid_for((n + 3) / 4), 256, 0, stream_, a.data<float>(), b.data<float>(), out.data<float>(), n);
}

void CudaBackend::accumulate(Tensor& dst, const Tensor& src) {
  ensure_device_usable();
  const int64_t n = dst.numel();
  launch(accumulate_kernel, grid_for((n + 3) / 4), 256, 0, stream_, dst.data<float>(), src.data<float>(), n);
}

void CudaBackend::relu_forward(const Tensor& x, Tensor& out) {
  ensure_device_usable();
  const int64_t n = x.numel();
  launch(relu_kernel, grid_for(n), 256, 0, stream_, x.data<float>(), out.data<float>(), n);
}

void CudaBackend::relu_backward(const Tensor& grad_out, const Tensor& x, Tensor& grad_x) {
  ensure_device_usable();
  const int64_t n = x.numel();
  launch(relu_backward_kernel, grid_for(n), 256, 0, stream_, grad_out.data<float>(), x.data<float>(),
      grad_x.data<float>(), n);
}

void CudaBackend::scale(Tensor& t, float factor) {
  ensure_device_usable();
  const int64_t n = t.numel();
  launch(scale_kernel, grid_for(n), 256, 0, stream_, t.data<float>(), factor, n);
}

}  // namespace gpcnn
