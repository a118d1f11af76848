// Elementwise ops and reductions over whole tensors.
#include "cpu_backend.h"

namespace gpcnn {

void CpuBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  const float *x = a.data<float>(), *y = b.data<float>();
  float* z = out.data<float>();
  const int64_t n = a.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + y[i];
}

void CpuBackend::accumulate(Tensor& dst, const Tensor& src) {
  float* z = dst.data<float>();
  const float* x = src.data<float>();
  const int64_t n = dst.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] += x[i];
}

void CpuBackend::relu_forward(const Tensor& x, Tensor& out) {
  const float* a = x.data<float>();
  float* z = out.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = a[i] > 0.f ? a[i] : 0.f;
}

void CpuBackend::relu_backward(const Tensor& grad_out, const Tensor& x, Tensor& grad_x) {
  const float *g = grad_out.data<float>(), *a = x.data<float>();
  float* z = grad_x.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = a[i] > 0.f ? g[i] : 0.f;
}

double CpuBackend::sum_of_squares(const Tensor& t) {
  const float* a = t.data<float>();
  const int64_t n = t.numel();
  double sum = 0;
#pragma omp parallel for simd reduction(+ : sum) schedule(static)
  for (int64_t i = 0; i < n; ++i) sum += double(a[i]) * a[i];
  return sum;
}

void CpuBackend::scale(Tensor& t, float factor) {
  float* a = t.data<float>();
  const int64_t n = t.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) a[i] *= factor;
}

}  // namespace gpcnn
