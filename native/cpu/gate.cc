// The gate with its additive terms, fused: a = u + extra + bias[b,c] + spatial;
// out = tanh(a[:p]) ⊙ σ(a[p:]). Each (image, channel) row is built in a small
// buffer with plain vectorizable loops, then gated. The backward pass rebuilds a
// instead of storing it: it is cheap and saves memory.
#include <omp.h>

#include <vector>

#include "../core/op_checks.h"
#include "cpu_backend.h"
#include "fast_math.h"

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

  // Writes the pre-activation of channel c of image n into row[0, plane).
  void pre(int64_t n, int64_t c, float* row) const {
    const int64_t at = (n * 2 * half + c) * plane;
    const float b = bias ? bias[n * 2 * half + c] : 0.f;
    for (int64_t i = 0; i < plane; ++i) row[i] = u[at + i] + b;
    if (extra)
      for (int64_t i = 0; i < plane; ++i) row[i] += extra[at + i];
    if (spatial)
      for (int64_t i = 0; i < plane; ++i) row[i] += spatial[at + i];
  }
};

}  // namespace

// Calls body(n, c, a, b) for every image n and channel c < p, with a and b the
// pre-activations of channel c and of its sigmoid partner c + p. The two rows live
// in per-thread buffers allocated before the parallel region: nothing may throw inside one.
template <typename Body>
static void for_each_gate_row(const GateView& g, Body body) {
  std::vector<float> rows(2 * g.plane * omp_get_max_threads());
#pragma omp parallel
  {
    float* a = rows.data() + 2 * g.plane * omp_get_thread_num();
    float* b = a + g.plane;
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t c = 0; c < g.half; ++c) {
        g.pre(n, c, a);
        g.pre(n, c + g.half, b);
        body(n, c, static_cast<const float*>(a), static_cast<const float*>(b));
      }
  }
}

void CpuBackend::gate_forward(const GateInputs& in, Tensor& out) {
  const GateView g(in);
  float* y = out.data<float>();
  for_each_gate_row(g, [&](int64_t n, int64_t c, const float* ta, const float* sa) {
    float* row = y + (n * g.half + c) * g.plane;
#pragma omp simd
    for (int64_t i = 0; i < g.plane; ++i) row[i] = fast_tanh(ta[i]) * fast_sigmoid(sa[i]);
  });
}

void CpuBackend::gate_backward(const GateInputs& in, const Tensor& grad_out, Tensor& grad_a,
                               Tensor* grad_bias) {
  const GateView g(in);
  const float* gy = grad_out.data<float>();
  float* ga = grad_a.data<float>();
  float* gb = grad_bias ? grad_bias->data<float>() : nullptr;
  for_each_gate_row(g, [&](int64_t n, int64_t c, const float* ta, const float* sa) {
    const float* grad_row = gy + (n * g.half + c) * g.plane;
    float* tanh_row = ga + (n * 2 * g.half + c) * g.plane;
    float* sig_row = ga + (n * 2 * g.half + c + g.half) * g.plane;
#pragma omp simd
    for (int64_t i = 0; i < g.plane; ++i) {
      const float t = fast_tanh(ta[i]);
      const float s = fast_sigmoid(sa[i]);
      tanh_row[i] = grad_row[i] * (1.f - t * t) * s;
      sig_row[i] = grad_row[i] * t * s * (1.f - s);
    }
    if (gb) {
      double tanh_sum = 0, sig_sum = 0;
      for (int64_t i = 0; i < g.plane; ++i) {
        tanh_sum += tanh_row[i];
        sig_sum += sig_row[i];
      }
      gb[n * 2 * g.half + c] = static_cast<float>(tanh_sum);
      gb[n * 2 * g.half + c + g.half] = static_cast<float>(sig_sum);
    }
  });
}

}  // namespace gpcnn
