// The Backend interface: every op the model needs, with one implementation per
// device (cpu/, cuda/). Callers validate shapes with op_checks.h and allocate
// the outputs first; an op only computes. Layouts are NCHW, weights OIHW
// (PyTorch's), and every op has the semantics given in SPEC.md.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "memory_usage.h"
#include "tensor.h"

namespace gpcnn {

// Work recorded once and run again as often as wanted: on CUDA, a graph of a training
// step's kernels, which spares the host a call per op. Each replay reads and writes
// the very memory the recorded ops did.
class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
  virtual void replay() = 0;
};

// Offset convolution (SPEC.md §3): out[o,i,j] = b[o] + Σ W[o,c,a,e]·x[c, i−dy+a, j−dx+e],
// zero outside the image, output the same height and width as the input.
// groups > 1 splits input and output channels into that many independent convolutions.
struct ConvParams {
  int64_t dy = 0, dx = 0, groups = 1;
};

// Convolution plans (primitives, algorithms) a backend keeps, per pass and shape, the
// most recently used: a training step of a model uses a few dozen, and a run a few
// batch sizes (training, evaluation, its last partial batch).
constexpr size_t kKeptConvolutionPlans = 512;

// The gate's pre-activation is a = u + extra + bias[b,:] + spatial; absent terms are null.
struct GateInputs {
  const Tensor* u = nullptr;        // [B, 2p, H, W]
  const Tensor* extra = nullptr;    // [B, 2p, H, W]
  const Tensor* bias = nullptr;     // [B, 2p], broadcast over H×W
  const Tensor* spatial = nullptr;  // [B, 2p, H, W]
};

// Defaults as src/backend/backend.ts's ADAM_DEFAULTS (which the addon is always given).
struct AdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;  // true: AdamW (decay the weights); false: L2 added to the gradient
};

// One parameter's update: its tensors (sharing their buffers) and its own step count.
struct AdamUpdate {
  Tensor param, grad, m, v;
  int64_t step = 1;  // 1-based, for bias correction
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Memory.
  virtual std::shared_ptr<Buffer> allocate(size_t bytes) = 0;
  // Freed blocks whose guard regions were overwritten (only with GATED_PIXELCNN_GUARDS=1).
  virtual size_t guard_violations() const = 0;
  // What the backend's allocators hold (memory_usage.h), and its peaks since the last reset.
  virtual MemoryUsage memory_usage() const = 0;
  virtual void reset_peak_memory() = 0;
  // Gives the idle blocks back to the device or the host.
  virtual void release_cached_memory() = 0;
  virtual void upload(Tensor& dst, const void* host) = 0;
  virtual void download(const Tensor& src, void* host) = 0;
  // Each tensor's contents to its host destination, returning once all have arrived: on
  // a device, one wait for them all (the sampler reads every weight at each call).
  virtual void download_all(const std::vector<std::pair<const Tensor*, void*>>& copies) {
    for (const auto& [src, host] : copies) download(*src, host);
  }
  virtual void fill_zero(Tensor& t) = 0;

  // Offset convolution; bias and grad_bias may be null. With `accumulate`, grad_x is
  // added to instead of replaced: an input gradient with several sources.
  virtual void conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p,
                            Tensor& y) = 0;
  virtual void conv_backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p,
                                  Tensor& grad_x, bool accumulate) = 0;
  virtual void conv_backward_weights(const Tensor& x, const Tensor& grad_y, const ConvParams& p,
                                     Tensor& grad_w, Tensor* grad_b) = 0;

  // out = tanh(a[:, :p]) ⊙ σ(a[:, p:]); grad_a is the gradient for u, extra and spatial alike,
  // grad_bias its sum over H×W.
  virtual void gate_forward(const GateInputs& in, Tensor& out) = 0;
  virtual void gate_backward(const GateInputs& in, const Tensor& grad_out, Tensor& grad_a,
                             Tensor* grad_bias) = 0;

  // Class embedding: out[b,:] = table[labels[b],:]; backward scatter-adds into grad_table.
  virtual void embedding_forward(const Tensor& table, const Tensor& labels, Tensor& out) = 0;
  virtual void embedding_backward(const Tensor& grad_out, const Tensor& labels,
                                  Tensor& grad_table) = 0;

  // Global-vector term without bias: out[b,o] = Σ_d w[o,d]·x[b,d].
  virtual void linear_forward(const Tensor& x, const Tensor& w, Tensor& out) = 0;
  virtual void linear_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w,
                               Tensor* grad_x, Tensor& grad_w) = 0;

  // Elementwise.
  virtual void add(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  virtual void accumulate(Tensor& dst, const Tensor& src) = 0;  // dst += src
  // out[c] = Σ over every other dimension of x[n, c, ...]: a bias's gradient.
  virtual void channel_sums(const Tensor& x, Tensor& out) = 0;
  virtual void relu_forward(const Tensor& x, Tensor& out) = 0;
  virtual void relu_backward(const Tensor& grad_out, const Tensor& x, Tensor& grad_x) = 0;

  // Head, per output channel c (SPEC.md §4): out[b, c·q + k] =
  // relu(zs[b,k] + Σ_{c'<c} prev[k,c,c']·xt[b,c']); prev is null when C = 1.
  virtual void head_channels_forward(const Tensor& zs, const Tensor* prev, const Tensor& xt,
                                     Tensor& out) = 0;
  virtual void head_channels_backward(const Tensor& grad_out, const Tensor& out, const Tensor& xt,
                                      Tensor& grad_zs, Tensor* grad_prev) = 0;

  // logits [B,C,K,H,W], targets [B,C,H,W] (int32 or uint8 levels). nll[b] is image b's
  // negative log-likelihood in nats; grad_logits (optional) is grad_scale·(softmax − onehot).
  virtual void softmax_cross_entropy(const Tensor& logits, const Tensor& targets, float grad_scale,
                                     Tensor& nll, Tensor* grad_logits) = 0;

  // One Adam / AdamW update of every listed parameter, in place on param, m and v; one
  // call for all of them, so that a device backend launches once, not once per tensor.
  virtual void adam_step(const std::vector<AdamUpdate>& updates, const AdamParams& p) = 0;
  // Exponential moving averages, in place: averages[k] = decay·averages[k] + (1 − decay)·values[k].
  virtual void moving_average(const std::vector<Tensor>& averages, const std::vector<Tensor>& values, float decay) = 0;

  // Σ x² over every element of every tensor (a global gradient norm), in a fixed order;
  // one call for all of them, so that a device backend reads back once.
  virtual double sum_of_squares(const std::vector<Tensor>& tensors) = 0;
  virtual void scale(Tensor& t, float factor) = 0;

  // Capture: the ops between begin_capture() and end_capture() are recorded, not run,
  // and the CapturedWork runs them. Ops that read back to the host cannot be recorded
  // (they fail, and abort_capture() then drops what was recorded). The memory the
  // recorded ops allocate is the captured work's own for as long as it lives.
  virtual bool can_capture() const { return false; }
  virtual void begin_capture() { fail(codes::kBackend, "the ", name(), " backend cannot capture work"); }
  virtual std::unique_ptr<CapturedWork> end_capture() {
    fail(codes::kBackend, "the ", name(), " backend cannot capture work");
  }
  virtual void abort_capture() {}
  // Every tensor an op is given while this thread captures: the captured work keeps its
  // memory, which its replays use, however long the tensor itself lives.
  virtual void retain_for_capture(const std::shared_ptr<Buffer>& buffer) {}
};

}  // namespace gpcnn
