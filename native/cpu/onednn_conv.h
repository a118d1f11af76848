// Offset convolutions (SPEC.md §3) on oneDNN, forward and both backward passes.
//
// An offset (dy, dx) with kernel kh × kw is a convolution padded dy on top and
// kh−1−dy at the bottom (likewise for columns). oneDNN takes asymmetric padding but
// not negative padding, so a negative pad becomes a crop of the input: oneDNN
// reads a dense copy of the window of the input that the kernel can reach.
// Spatial kernels run in oneDNN's own blocked layouts, with reorders from and to the
// NCHW tensors, whose blocked copies come from the backend's pool for each call.
// Primitives and reorders are created once per geometry and cached, since creating a
// primitive JITs code; the cache keeps the kKeptConvolutionPlans most recently used,
// as a process may meet ever new batch sizes.
#pragma once

#include <functional>
#include <memory>

#include "../core/backend.h"

namespace gpcnn {

class OneDnnConvolutions {
 public:
  // Memory for the operands' blocked copies, for the length of a call: the backend's pool.
  using Allocate = std::function<std::shared_ptr<Buffer>(size_t bytes)>;

  explicit OneDnnConvolutions(Allocate allocate);
  ~OneDnnConvolutions();

  void forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p, Tensor& y);
  void backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p, Tensor& grad_x);
  void backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p, Tensor& grad_w,
                        Tensor* grad_b);
  // How many plans are kept.
  size_t plan_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gpcnn
