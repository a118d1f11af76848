// Adam (L2 penalty added to the gradient) and AdamW (decoupled weight decay),
// with bias correction, as in PyTorch's torch.optim.Adam / AdamW; and the moving
// averages of the weights that may follow each step.
#include <cmath>

#include "cpu_backend.h"

namespace gpcnn {

namespace {

void update(const AdamUpdate& u, const AdamParams& p) {
  float* w = u.param.data<float>();
  const float* g = u.grad.data<float>();
  float *m1 = u.m.data<float>(), *m2 = u.v.data<float>();
  const int64_t n = u.param.numel();
  const float beta1 = float(p.beta1), beta2 = float(p.beta2), eps = float(p.eps);
  const double correction1 = 1 - std::pow(p.beta1, double(u.step));
  const double correction2 = 1 - std::pow(p.beta2, double(u.step));
  const float step_size = float(p.lr / correction1);
  const float inv_sqrt_correction2 = float(1 / std::sqrt(correction2));
  const float l2 = p.decoupled ? 0.f : float(p.weight_decay);
  const float shrink = p.decoupled ? float(1 - p.lr * p.weight_decay) : 1.f;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + l2 * w[i];
    m1[i] = beta1 * m1[i] + (1 - beta1) * gi;
    m2[i] = beta2 * m2[i] + (1 - beta2) * gi * gi;
    w[i] = w[i] * shrink - step_size * m1[i] / (std::sqrt(m2[i]) * inv_sqrt_correction2 + eps);
  }
}

}  // namespace

void CpuBackend::adam_step(const std::vector<AdamUpdate>& updates, const AdamParams& p) {
  for (const AdamUpdate& u : updates) update(u, p);
}

void CpuBackend::moving_average(const std::vector<Tensor>& averages, const std::vector<Tensor>& values, float decay) {
  for (size_t k = 0; k < averages.size(); ++k) {
    float* a = averages[k].data<float>();
    const float* v = values[k].data<float>();
    const int64_t n = averages[k].numel();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) a[i] = decay * a[i] + (1 - decay) * v[i];
  }
}

}  // namespace gpcnn
