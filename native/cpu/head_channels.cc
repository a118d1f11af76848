// The head's per-channel inputs (SPEC.md §4): channel c of the output sees the
// shared hidden map plus a linear term in the input levels of channels c' < c
// of the same pixel, then a ReLU. The result is laid out [B, C·q, H, W] so that
// head.out runs on it as one grouped 1×1 convolution with C groups.
#include "../core/op_checks.h"
#include "../core/relu.h"
#include "cpu_backend.h"

namespace gpcnn {

void CpuBackend::head_channels_forward(const Tensor& zs, const Tensor* prev, const Tensor& xt,
                                       Tensor& out) {
  const int64_t batch = zs.dim(0), q = zs.dim(1), plane = zs.dim(2) * zs.dim(3);
  const int64_t channels = xt.dim(1);
  const float *hidden = zs.data<float>(), *x = xt.data<float>();
  const float* weights = prev ? prev->data<float>() : nullptr;
  float* y = out.data<float>();
#pragma omp parallel for collapse(3) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < q; ++k) {
        const float* h = hidden + (n * q + k) * plane;
        float* row = y + ((n * channels + c) * q + k) * plane;
        for (int64_t i = 0; i < plane; ++i) row[i] = h[i];
        for (int64_t cp = 0; cp < c; ++cp) {
          const float weight = weights[(k * channels + c) * channels + cp];
          const float* xc = x + (n * channels + cp) * plane;
          for (int64_t i = 0; i < plane; ++i) row[i] += weight * xc[i];
        }
        for (int64_t i = 0; i < plane; ++i) row[i] = relu(row[i]);
      }
}

void CpuBackend::head_channels_backward(const Tensor& grad_out, const Tensor& out,
                                        const Tensor& xt, Tensor& grad_zs, Tensor* grad_prev) {
  const int64_t batch = xt.dim(0), channels = xt.dim(1), plane = xt.dim(2) * xt.dim(3);
  const int64_t q = out.dim(1) / channels;
  const float *gy = grad_out.data<float>(), *y = out.data<float>(), *x = xt.data<float>();
  // The ReLU passes gradient where its output is positive.
  auto grad_pre = [&](int64_t n, int64_t c, int64_t k, int64_t i) {
    const int64_t at = ((n * channels + c) * q + k) * plane + i;
    return y[at] <= 0.f ? 0.f : gy[at];
  };
  float* gz = grad_zs.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t k = 0; k < q; ++k) {
      float* row = gz + (n * q + k) * plane;
      for (int64_t i = 0; i < plane; ++i) {
        float sum = 0;
        for (int64_t c = 0; c < channels; ++c) sum += grad_pre(n, c, k, i);
        row[i] = sum;
      }
    }
  if (!grad_prev) return;
  float* gp = grad_prev->data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < q; ++k)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t cp = 0; cp < channels; ++cp) {
        double sum = 0;
        if (cp < c)  // entries with c' >= c are unused by the model: their gradient is zero
          for (int64_t n = 0; n < batch; ++n) {
            const float* xc = x + (n * channels + cp) * plane;
            for (int64_t i = 0; i < plane; ++i) sum += double(grad_pre(n, c, k, i)) * xc[i];
          }
        gp[(k * channels + c) * channels + cp] = static_cast<float>(sum);
      }
}

}  // namespace gpcnn
