// Elementwise ops and reductions over whole tensors.
#include <omp.h>

#include <vector>

#include "../core/relu.h"
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

// In double, one channel per thread, every channel's terms in the same order: the sum
// does not depend on the thread count.
void CpuBackend::channel_sums(const Tensor& x, Tensor& out) {
  const float* a = x.data<float>();
  float* sums = out.data<float>();
  const int64_t batch = x.dim(0), channels = x.dim(1), plane = x.numel() / (batch * channels);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < batch; ++n) {
      const float* from = a + (n * channels + c) * plane;
      for (int64_t e = 0; e < plane; ++e) sum += from[e];
    }
    sums[c] = float(sum);
  }
}

void CpuBackend::relu_forward(const Tensor& x, Tensor& out) {
  const float* a = x.data<float>();
  float* z = out.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = relu(a[i]);
}

void CpuBackend::relu_backward(const Tensor& grad_out, const Tensor& x, Tensor& grad_x) {
  const float *g = grad_out.data<float>(), *a = x.data<float>();
  float* z = grad_x.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = a[i] <= 0.f ? 0.f : g[i];  // NaN passes, as in PyTorch
}

// Each thread sums a fixed share and the shares are added in order: OpenMP's
// reduction clause combines them in whatever order threads finish, and the
// gradient norm must be the same bits on every run for exact resume.
namespace {

double tensor_sum_of_squares(const Tensor& t) {
  const float* a = t.data<float>();
  const int64_t n = t.numel();
  std::vector<double> partial(omp_get_max_threads(), 0.0);
#pragma omp parallel
  {
    const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = n * me / team; i < n * (me + 1) / team; ++i) sum += double(a[i]) * a[i];
    partial[me] = sum;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

double CpuBackend::sum_of_squares(const std::vector<Tensor>& tensors) {
  double total = 0;
  for (const Tensor& t : tensors) total += tensor_sum_of_squares(t);
  return total;
}

void CpuBackend::scale(Tensor& t, float factor) {
  float* a = t.data<float>();
  const int64_t n = t.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) a[i] *= factor;
}

}  // namespace gpcnn
