// Host memory for the CPU backend, and the glue from the Backend interface to oneDNN.
#include "cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "onednn_conv.h"

namespace gpcnn {

namespace {

class HostBuffer final : public Buffer {
 public:
  HostBuffer(void* data, size_t bytes) : Buffer(data, bytes) {}
  ~HostBuffer() override { std::free(data()); }
};

}  // namespace

CpuBackend::CpuBackend() : convolutions_(std::make_unique<OneDnnConvolutions>()) {}
CpuBackend::~CpuBackend() = default;

std::shared_ptr<Buffer> CpuBackend::allocate(size_t bytes) {
  // 64-byte alignment suits AVX-512 loads; aligned_alloc wants a multiple of the alignment.
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* data = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!data) throw std::bad_alloc();
  return std::make_shared<HostBuffer>(data, bytes);
}

void CpuBackend::upload(Tensor& dst, const void* host) { std::memcpy(dst.buffer->data(), host, dst.bytes()); }
void CpuBackend::download(const Tensor& src, void* host) { std::memcpy(host, src.buffer->data(), src.bytes()); }
void CpuBackend::fill_zero(Tensor& t) { std::memset(t.buffer->data(), 0, t.bytes()); }

void CpuBackend::conv_forward(const Tensor& x, const Tensor& w, const Tensor* b,
                              const ConvParams& p, Tensor& y) {
  convolutions_->forward(x, w, b, p, y);
}

void CpuBackend::conv_backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p,
                                    Tensor& grad_x) {
  convolutions_->backward_data(grad_y, w, p, grad_x);
}

void CpuBackend::conv_backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p,
                                       Tensor& grad_w, Tensor* grad_b) {
  convolutions_->backward_weights(x, grad_y, p, grad_w, grad_b);
}

}  // namespace gpcnn
