// Offset convolutions (SPEC.md §3) on cuDNN. cuDNN pads symmetrically only, so the
// input is first copied into a buffer of (H + kh − 1) × (W + kw − 1) holding
// x[i − dy, j − dx] (zero outside; a negative pad is just rows never copied), and a
// valid convolution runs on that. The backward-data pass crops the padded gradient
// back. Descriptors and the chosen (deterministic) algorithms are cached per
// geometry (the kKeptConvolutionPlans most recently used); the workspace grows on demand. Biases are added and their gradients summed
// by our own kernels (on an H200, cuDNN's cudnnConvolutionBackwardBias averaged 61 µs
// a call over mnist-quick's layers at batch 64, by ncu).
#pragma once

#include <cudnn.h>

#include <memory>
#include <string>

#include "../core/backend.h"
#include "../core/lru_cache.h"

namespace gpcnn {

class CudaBackend;

class CudnnConvolutions {
 public:
  CudnnConvolutions(CudaBackend& backend, bool tf32);
  ~CudnnConvolutions();

  void forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p, Tensor& y);
  // With `accumulate`, grad_x is added to instead of replaced.
  void backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p, Tensor& grad_x, bool accumulate);
  void backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p, Tensor& grad_w,
                        Tensor* grad_b);
  // How many plans are kept (the kKeptConvolutionPlans most recently used).
  size_t plan_count() const { return plans_.size(); }
  // The workspace as it is now: a captured graph that uses it keeps it alive.
  std::shared_ptr<Buffer> workspace_buffer() const { return workspace_; }
  // out[c] = Σ x[n, c, ...]: bias gradients (see bias_partial_kernel).
  void channel_sums(const Tensor& x, Tensor& out);

 private:
  struct Plan;
  Plan& plan(int64_t batch, int64_t in_channels, int64_t height, int64_t width,
             const Shape& weight_shape, const ConvParams& p);
  std::unique_ptr<Plan> make_plan(int64_t batch, int64_t in_channels, int64_t height, int64_t width,
                                  const Shape& weight_shape, const ConvParams& p);
  void* workspace(size_t bytes);
  void channel_sums(const float* x, int64_t batch, int64_t channels, int64_t plane, float* out);

  CudaBackend& backend_;
  bool tf32_;
  cudnnHandle_t handle_ = nullptr;
  std::shared_ptr<Buffer> workspace_;
  LruCache<std::unique_ptr<Plan>> plans_;  // made where Plan is complete (cudnn_conv.cu)
};

}  // namespace gpcnn
