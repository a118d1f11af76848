// The CUDA backend: cuDNN runs the convolutions, our kernels everything else
// (gates, conditioning, head, loss, optimizer, reductions). All work goes to one
// stream; memory comes from a caching allocator over cudaMalloc, so steady-state
// training allocates nothing; data crosses to the host only when asked for.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../core/backend.h"
#include "../core/caching_allocator.h"

namespace gpcnn {

class CudnnConvolutions;

class CudaBackend final : public Backend {
 public:
  // Throws ERR_CUDA when no device answers.
  CudaBackend();
  ~CudaBackend() override;
  std::string name() const override { return "cuda"; }
  std::string device_name() const { return device_name_; }
  int compute_capability() const { return compute_capability_; }
  bool tf32() const;

  std::shared_ptr<Buffer> allocate(size_t bytes) override;
  size_t guard_violations() const override { return allocator_.guard_violations(); }
  MemoryUsage memory_usage() const override;
  void reset_peak_memory() override { allocator_.memory()->reset_peaks(); }
  void release_cached_memory() override;
  void upload(Tensor& dst, const void* host) override;
  void download(const Tensor& src, void* host) override;
  void download_all(const std::vector<std::pair<const Tensor*, void*>>& copies) override;
  void fill_zero(Tensor& t) override;

  void conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p,
                    Tensor& y) override;
  void conv_backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p,
                          Tensor& grad_x, bool accumulate) override;
  void conv_backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p,
                             Tensor& grad_w, Tensor* grad_b) override;

  void gate_forward(const GateInputs& in, Tensor& out) override;
  void gate_backward(const GateInputs& in, const Tensor& grad_out, Tensor& grad_a,
                     Tensor* grad_bias) override;

  void embedding_forward(const Tensor& table, const Tensor& labels, Tensor& out) override;
  void embedding_backward(const Tensor& grad_out, const Tensor& labels,
                          Tensor& grad_table) override;
  void linear_forward(const Tensor& x, const Tensor& w, Tensor& out) override;
  void linear_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w, Tensor* grad_x,
                       Tensor& grad_w) override;

  void add(const Tensor& a, const Tensor& b, Tensor& out) override;
  void accumulate(Tensor& dst, const Tensor& src) override;
  void channel_sums(const Tensor& x, Tensor& out) override;
  void relu_forward(const Tensor& x, Tensor& out) override;
  void relu_backward(const Tensor& grad_out, const Tensor& x, Tensor& grad_x) override;

  void head_channels_forward(const Tensor& zs, const Tensor* prev, const Tensor& xt,
                             Tensor& out) override;
  void head_channels_backward(const Tensor& grad_out, const Tensor& out, const Tensor& xt,
                              Tensor& grad_zs, Tensor* grad_prev) override;

  void softmax_cross_entropy(const Tensor& logits, const Tensor& targets, float grad_scale,
                             Tensor& nll, Tensor* grad_logits) override;

  void adam_step(const std::vector<AdamUpdate>& updates, const AdamParams& p) override;
  void moving_average(const std::vector<Tensor>& averages, const std::vector<Tensor>& values, float decay) override;

  double sum_of_squares(const std::vector<Tensor>& tensors) override;
  void scale(Tensor& t, float factor) override;

  // Training steps as CUDA graphs (captured_step.cc).
  bool can_capture() const override { return true; }
  void begin_capture() override;
  std::unique_ptr<CapturedWork> end_capture() override;
  void abort_capture() override;
  void retain_for_capture(const std::shared_ptr<Buffer>& buffer) override;
  // Whether this thread is capturing the backend's work.
  bool capturing_here() const { return capture_allocator() != nullptr; }

  cudaStream_t stream() const { return stream_; }
  // Range checks on the device: reset the flag, launch a kernel that atomicMin()s
  // the index of any value out of range into it, then check (synchronizes; throws
  // ERR_RANGE naming the lowest such index).
  static constexpr int kNoneFlagged = 0x7fffffff;
  // True when the values of integer tensor t, as seen on the host, all lie in [0, limit):
  // the device check (and its synchronization) can be skipped.
  static bool known_within(const Tensor& t, int64_t limit);
  void reset_range_flag();
  void check_range_flag(const char* what, int64_t limit);
  int* range_flag() const { return range_flag_; }

 private:
  std::string device_name_;
  int compute_capability_ = 0;
  cudaStream_t stream_ = nullptr;
  int* range_flag_ = nullptr;  // device int: the lowest index found out of range, or kNoneFlagged
  CachingAllocator allocator_;
  std::unique_ptr<CudnnConvolutions> convolutions_;
  // While capturing (captured_step.cc): no device-wide synchronization on other threads
  // (device_sync.h; released last), the thread whose ops are recorded, and the captured
  // work's own memory.
  struct Capture {
    std::unique_lock<std::recursive_mutex> no_device_synchronization;
    std::thread::id thread;
    std::unique_ptr<CachingAllocator> allocator;
    std::vector<std::shared_ptr<Buffer>> retained;  // the recorded ops' tensors
  };
  std::unique_ptr<Capture> capture_;
  // The capture's allocator when this thread is capturing, else null.
  CachingAllocator* capture_allocator() const;
  // ERR_ARG when this thread is capturing: `what` waits for the device.
  void refuse_while_capturing(const char* what) const;
  // ERR_ARG when this thread is capturing: `what` takes host numbers that change from
  // call to call, which a replay would repeat as they were at the capture.
  void refuse_changing_scalars_while_capturing(const char* what) const;
};

// cudaMalloc, or nullptr when memory runs out (the caller may free idle blocks and
// retry); any other failure, e.g. an earlier kernel's fault surfacing here, throws.
void* device_allocate(size_t bytes);

// Grid size for a grid-stride loop over n elements.
inline unsigned grid_for(int64_t n, unsigned threads = 256) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

}  // namespace gpcnn
