// Host memory for the CPU backend, and the glue from the Backend interface to oneDNN.
#include "cpu_backend.h"

#include <cstdlib>
#include <cstring>

#include "../core/errors.h"
#include "onednn_conv.h"

namespace gpcnn {

// Idle host memory kept for reuse: enough for the activations of a training step.
constexpr size_t kMaxCachedHostBytes = size_t{2} << 30;

constexpr unsigned char kGuardByte = 0xA5;

static CachingAllocator::Guards host_guards() {
  return {CachingAllocator::guard_bytes_requested(64),
          [](void* at, size_t n) { std::memset(at, kGuardByte, n); },
          [](const void* at, size_t n) {
            const auto* bytes = static_cast<const unsigned char*>(at);
            for (size_t i = 0; i < n; ++i)
              if (bytes[i] != kGuardByte) return false;
            return true;
          },
          [](void* at, size_t n) { std::memset(at, kUnwrittenByte, n); }};
}

CpuBackend::CpuBackend()
    : allocator_(
          // 64-byte alignment suits AVX-512; the allocator's block sizes are multiples of 512.
          [](size_t bytes) { return std::aligned_alloc(64, bytes); },
          [](void* data) { std::free(data); }, kMaxCachedHostBytes, codes::kOutOfMemory, "host",
          host_guards()),
      convolutions_(std::make_unique<OneDnnConvolutions>([this](size_t bytes) { return allocate(bytes); })) {}

MemoryUsage CpuBackend::memory_usage() const {
  MemoryUsage usage = allocator_.memory()->usage();
  usage.cached_plans = convolutions_->plan_count();
  return usage;
}
CpuBackend::~CpuBackend() = default;

std::shared_ptr<Buffer> CpuBackend::allocate(size_t bytes) { return allocator_.allocate(bytes); }

void CpuBackend::upload(Tensor& dst, const void* host) { std::memcpy(dst.buffer->data(), host, dst.bytes()); }
void CpuBackend::download(const Tensor& src, void* host) { std::memcpy(host, src.buffer->data(), src.bytes()); }
void CpuBackend::fill_zero(Tensor& t) { std::memset(t.buffer->data(), 0, t.bytes()); }

// oneDNN writes its outputs; a sum into an existing tensor goes through a scratch one.
Tensor CpuBackend::scratch_like(const Tensor& t) { return Tensor{t.dtype, t.shape, allocate(t.bytes())}; }

void CpuBackend::conv_forward(const Tensor& x, const Tensor& w, const Tensor* b,
                              const ConvParams& p, Tensor& y) {
  convolutions_->forward(x, w, b, p, y);
}

void CpuBackend::conv_backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p,
                                    Tensor& grad_x, bool accumulate) {
  if (!accumulate) return convolutions_->backward_data(grad_y, w, p, grad_x);
  Tensor sum = scratch_like(grad_x);
  convolutions_->backward_data(grad_y, w, p, sum);
  this->accumulate(grad_x, sum);
}

void CpuBackend::conv_backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p,
                                       Tensor& grad_w, Tensor* grad_b) {
  convolutions_->backward_weights(x, grad_y, p, grad_w, grad_b);
}

}  // namespace gpcnn
