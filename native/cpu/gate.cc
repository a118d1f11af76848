// The gate with its additive terms, fused into one pass over the activations:
// a = u + extra + bias[b,c] + spatial; out = tanh(a[:p]) ⊙ σ(a[p:]).
// The backward pass recomputes a instead of storing it: it is cheap and saves memory.
#include <cmath>

#include "../core/op_checks.h"
#include "cpu_backend.h"

namespace gpcnn {

namespace {

struct GateView {
  int64_t batch, half, plane;  // half = p, plane = H·W
  const float *u, *extra, *bias, *spatial;

  explicit GateView(const GateInputs& in)
      : batch(in.u->dim(0)),
        half(in.u->dim(1) / 2),
        plane(in.u->dim(2) * in.u->dim(3)),
        u(in.u->data<float>()),
        extra(in.extra ? in.extra->data<float>() : nullptr),
        bias(in.bias ? in.bias->data<float>() : nullptr),
        spatial(in.spatial ? in.spatial->data<float>() : nullptr) {}

  // Pre-activation of channel c of image n at plane index i.
  float pre(int64_t n, int64_t c, int64_t i) const {
    const int64_t at = (n * 2 * half + c) * plane + i;
    float a = u[at];
    if (extra) a += extra[at];
    if (spatial) a += spatial[at];
    if (bias) a += bias[n * 2 * half + c];
    return a;
  }
};

inline float sigmoid(float a) { return 1.f / (1.f + std::exp(-a)); }

}  // namespace

void CpuBackend::gate_forward(const GateInputs& in, Tensor& out) {
  const GateView g(in);
  float* y = out.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.half; ++c) {
      float* row = y + (n * g.half + c) * g.plane;
      for (int64_t i = 0; i < g.plane; ++i)
        row[i] = std::tanh(g.pre(n, c, i)) * sigmoid(g.pre(n, c + g.half, i));
    }
}

void CpuBackend::gate_backward(const GateInputs& in, const Tensor& grad_out, Tensor& grad_a,
                               Tensor* grad_bias) {
  const GateView g(in);
  const float* gy = grad_out.data<float>();
  float* ga = grad_a.data<float>();
  float* gb = grad_bias ? grad_bias->data<float>() : nullptr;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.half; ++c) {
      const float* grad_row = gy + (n * g.half + c) * g.plane;
      float* tanh_row = ga + (n * 2 * g.half + c) * g.plane;
      float* sig_row = ga + (n * 2 * g.half + c + g.half) * g.plane;
      double tanh_sum = 0, sig_sum = 0;
      for (int64_t i = 0; i < g.plane; ++i) {
        const float t = std::tanh(g.pre(n, c, i));
        const float s = sigmoid(g.pre(n, c + g.half, i));
        tanh_row[i] = grad_row[i] * (1.f - t * t) * s;
        sig_row[i] = grad_row[i] * t * s * (1.f - s);
        tanh_sum += tanh_row[i];
        sig_sum += sig_row[i];
      }
      if (gb) {
        gb[n * 2 * g.half + c] = static_cast<float>(tanh_sum);
        gb[n * 2 * g.half + c + g.half] = static_cast<float>(sig_sum);
      }
    }
}

}  // namespace gpcnn
