// Offset convolutions (SPEC.md §3) on oneDNN, forward and both backward passes.
//
// An offset (dy, dx) with kernel kh × kw is a convolution padded dy on top and
// kh−1−dy at the bottom (likewise for columns). oneDNN takes asymmetric padding but
// not negative padding, so a negative pad becomes a crop of the input: oneDNN
// reads a dense copy of the window of the input that the kernel can reach.
// Spatial kernels run in oneDNN's own blocked layouts, with reorders from and to the
// NCHW tensors. Primitives, reorders and their scratch buffers are created once per
// geometry and cached, since creating a primitive JITs code; the cache keeps the
// kKeptConvolutionPlans most recently used, as a process may meet ever new batch sizes.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "../core/backend.h"

namespace gpcnn {

class OneDnnConvolutions {
 public:
  OneDnnConvolutions();
  ~OneDnnConvolutions();

  void forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p, Tensor& y);
  void backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p, Tensor& grad_x);
  void backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p, Tensor& grad_w,
                        Tensor* grad_b);
  // How many plans are kept, and dropping them all (their scratch buffers with them).
  size_t plan_count() const;
  void clear_plans();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gpcnn
