// The CPU backend: oneDNN runs the convolutions, plain OpenMP loops (fused where
// the model allows) run everything else. Tensors live in 64-byte-aligned host
// memory from a caching allocator: reused blocks are already mapped, fresh ones
// cost a page fault per 4 KiB on first touch.
#pragma once

#include <memory>

#include "../core/backend.h"
#include "../core/caching_allocator.h"

namespace gpcnn {

class OneDnnConvolutions;

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  ~CpuBackend() override;
  std::string name() const override { return "cpu"; }

  std::shared_ptr<Buffer> allocate(size_t bytes) override;
  size_t guard_violations() const override { return allocator_.guard_violations(); }
  MemoryUsage memory_usage() const override;
  void reset_peak_memory() override { allocator_.memory()->reset_peaks(); }
  void release_cached_memory() override { allocator_.release_cached(); }
  void upload(Tensor& dst, const void* host) override;
  void download(const Tensor& src, void* host) override;
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

 private:
  Tensor scratch_like(const Tensor& t);

  CachingAllocator allocator_;
  std::unique_ptr<OneDnnConvolutions> convolutions_;
};

}  // namespace gpcnn
