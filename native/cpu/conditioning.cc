// The per-image conditioning terms: class embeddings and the global-vector term.
// Both are tiny ([B, 2p]), so plain loops are enough.
#include <cstring>

#include "../core/errors.h"
#include "cpu_backend.h"

namespace gpcnn {

// Labels are data, so only the backend can check their range; it does so before writing.
static void check_label_range(const Tensor& labels, int64_t classes) {
  const int32_t* y = labels.data<int32_t>();
  for (int64_t n = 0; n < labels.dim(0); ++n)
    if (y[n] < 0 || y[n] >= classes)
      fail(codes::kRange, "label ", y[n], " at index ", n, " is outside [0, ", classes, ")");
}

void CpuBackend::embedding_forward(const Tensor& table, const Tensor& labels, Tensor& out) {
  const int64_t width = table.dim(1);
  check_label_range(labels, table.dim(0));
  const int32_t* y = labels.data<int32_t>();
  for (int64_t n = 0; n < labels.dim(0); ++n)
    std::memcpy(out.data<float>() + n * width, table.data<float>() + y[n] * width,
                width * sizeof(float));
}

void CpuBackend::embedding_backward(const Tensor& grad_out, const Tensor& labels,
                                    Tensor& grad_table) {
  const int64_t width = grad_out.dim(1);
  check_label_range(labels, grad_table.dim(0));
  fill_zero(grad_table);
  const int32_t* y = labels.data<int32_t>();
  for (int64_t n = 0; n < labels.dim(0); ++n) {
    const float* g = grad_out.data<float>() + n * width;
    float* row = grad_table.data<float>() + y[n] * width;
    for (int64_t d = 0; d < width; ++d) row[d] += g[d];
  }
}

void CpuBackend::linear_forward(const Tensor& x, const Tensor& w, Tensor& out) {
  const int64_t batch = x.dim(0), features = x.dim(1), outputs = w.dim(0);
  const float *xs = x.data<float>(), *ws = w.data<float>();
  float* ys = out.data<float>();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < outputs; ++o) {
      double sum = 0;
      for (int64_t d = 0; d < features; ++d) sum += double(ws[o * features + d]) * xs[n * features + d];
      ys[n * outputs + o] = static_cast<float>(sum);
    }
}

void CpuBackend::linear_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w,
                                 Tensor* grad_x, Tensor& grad_w) {
  const int64_t batch = x.dim(0), features = x.dim(1), outputs = w.dim(0);
  const float *gy = grad_out.data<float>(), *xs = x.data<float>(), *ws = w.data<float>();
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t d = 0; d < features; ++d) {
      double sum = 0;
      for (int64_t n = 0; n < batch; ++n) sum += double(gy[n * outputs + o]) * xs[n * features + d];
      grad_w.data<float>()[o * features + d] = static_cast<float>(sum);
    }
  if (!grad_x) return;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t d = 0; d < features; ++d) {
      double sum = 0;
      for (int64_t o = 0; o < outputs; ++o) sum += double(gy[n * outputs + o]) * ws[o * features + d];
      grad_x->data<float>()[n * features + d] = static_cast<float>(sum);
    }
}

}  // namespace gpcnn
