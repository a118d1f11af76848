// Class embeddings and the global-vector term on the device. Labels are checked on
// the device: a kernel flags the first one out of range, and the op then throws.
#include "cuda_backend.h"
#include "cuda_check.h"
#include "launch.cuh"

namespace gpcnn {

namespace {

__global__ void check_labels_kernel(const int32_t* labels, int64_t count, int64_t classes, int* flag) {
  for (int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; n < count; n += int64_t(gridDim.x) * blockDim.x)
    if (labels[n] < 0 || labels[n] >= classes) atomicMin(flag, int(n < 0x7ffffffe ? n : 0x7ffffffe));
}

__global__ void embedding_kernel(const float* table, const int32_t* labels, float* out, int64_t batch, int64_t width) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < batch * width; at += int64_t(gridDim.x) * blockDim.x)
    out[at] = table[labels[at / width] * width + at % width];
}

// grad_table[k, d] = Σ_{n: labels[n] = k} grad_out[n, d]; one thread per entry, so no atomics.
__global__ void embedding_backward_kernel(const float* grad_out, const int32_t* labels, float* grad_table,
                                          int64_t batch, int64_t classes, int64_t width) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < classes * width; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = at / width, d = at % width;
    float sum = 0;
    for (int64_t n = 0; n < batch; ++n)
      if (labels[n] == k) sum += grad_out[n * width + d];
    grad_table[at] = sum;
  }
}

// out[n, o] = Σ_d w[o, d] x[n, d]
__global__ void linear_kernel(const float* x, const float* w, float* out, int64_t batch, int64_t features, int64_t outputs) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < batch * outputs; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = at / outputs, o = at % outputs;
    double sum = 0;
    for (int64_t d = 0; d < features; ++d) sum += double(w[o * features + d]) * x[n * features + d];
    out[at] = float(sum);
  }
}

__global__ void linear_weight_grad_kernel(const float* grad, const float* x, float* grad_w, int64_t batch,
                                          int64_t features, int64_t outputs) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < outputs * features; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = at / features, d = at % features;
    double sum = 0;
    for (int64_t n = 0; n < batch; ++n) sum += double(grad[n * outputs + o]) * x[n * features + d];
    grad_w[at] = float(sum);
  }
}

__global__ void linear_input_grad_kernel(const float* grad, const float* w, float* grad_x, int64_t batch,
                                         int64_t features, int64_t outputs) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < batch * features; at += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = at / features, d = at % features;
    double sum = 0;
    for (int64_t o = 0; o < outputs; ++o) sum += double(grad[n * outputs + o]) * w[o * features + d];
    grad_x[at] = float(sum);
  }
}

}  // namespace

static void check_labels(CudaBackend& be, const Tensor& labels, int64_t classes) {
  if (CudaBackend::known_within(labels, classes)) return;
  be.reset_range_flag();
  launch(check_labels_kernel, grid_for(labels.dim(0)), 256, 0, be.stream(), labels.data<int32_t>(), labels.dim(0),
      classes, be.range_flag());
  be.check_range_flag("labels", classes);
}

void CudaBackend::embedding_forward(const Tensor& table, const Tensor& labels, Tensor& out) {
  ensure_device_usable();
  check_labels(*this, labels, table.dim(0));
  const int64_t batch = labels.dim(0), width = table.dim(1);
  launch(embedding_kernel, grid_for(batch * width), 256, 0, stream_, table.data<float>(), labels.data<int32_t>(),
      out.data<float>(), batch, width);
}

void CudaBackend::embedding_backward(const Tensor& grad_out, const Tensor& labels, Tensor& grad_table) {
  ensure_device_usable();
  const int64_t classes = grad_table.dim(0), width = grad_table.dim(1);
  check_labels(*this, labels, classes);
  launch(embedding_backward_kernel, grid_for(classes * width), 256, 0, stream_, grad_out.data<float>(),
      labels.data<int32_t>(), grad_table.data<float>(), labels.dim(0), classes, width);
}

void CudaBackend::linear_forward(const Tensor& x, const Tensor& w, Tensor& out) {
  ensure_device_usable();
  const int64_t batch = x.dim(0), features = x.dim(1), outputs = w.dim(0);
  launch(linear_kernel, grid_for(batch * outputs), 256, 0, stream_, x.data<float>(), w.data<float>(),
      out.data<float>(), batch, features, outputs);
}

void CudaBackend::linear_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w, Tensor* grad_x,
                                  Tensor& grad_w) {
  ensure_device_usable();
  const int64_t batch = x.dim(0), features = x.dim(1), outputs = w.dim(0);
  launch(linear_weight_grad_kernel, grid_for(outputs * features), 256, 0, stream_, grad_out.data<float>(),
      x.data<float>(), grad_w.data<float>(), batch, features, outputs);
  if (!grad_x) return;
  launch(linear_input_grad_kernel, grid_for(batch * features), 256, 0, stream_, grad_out.data<float>(),
      w.data<float>(), grad_x->data<float>(), batch, features, outputs);
}

}  // namespace gpcnn
