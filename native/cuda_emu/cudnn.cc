// The emulated cuDNN (see include/cudnn.h): descriptors, cuDNN's shape checks, and
// reference convolutions in double precision. Every tensor a call reads or writes
// must lie inside one device allocation, as its descriptor sizes it, and a workspace
// of the size the library asked for must be passed: the checks that find a wrong
// descriptor or a buffer too small, which real cuDNN would let corrupt memory.
#include <cudnn.h>

#include <cstdint>
#include <vector>

#include "launch.h"

struct cudnnContext {
  cudaStream_t stream = nullptr;
};

struct cudnnTensorStruct {
  int n = 0, c = 0, h = 0, w = 0;
  size_t bytes() const { return sizeof(float) * size_t(n) * c * h * w; }
};

struct cudnnFilterStruct {
  int k = 0, c = 0, h = 0, w = 0;  // c: input channels per group
  size_t bytes() const { return sizeof(float) * size_t(k) * c * h * w; }
};

struct cudnnConvolutionStruct {
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1, groups = 1;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace {

using gpcnn::emulator::device_holds;

enum class Pass { kForward, kBackwardData, kBackwardFilter };
constexpr int kDeterministicAlgo = 1;  // see offer()

// One convolution's geometry, checked against cuDNN's rules.
struct Geometry {
  const cudnnTensorStruct& x;
  const cudnnFilterStruct& f;
  const cudnnConvolutionStruct& conv;
  const cudnnTensorStruct& y;

  int out_size(int in, int pad, int kernel, int stride, int dilation) const {
    return 1 + (in + 2 * pad - ((kernel - 1) * dilation + 1)) / stride;
  }
  bool valid() const {
    return x.n > 0 && x.c > 0 && f.k > 0 && conv.groups > 0 && x.c == f.c * conv.groups && f.k % conv.groups == 0 &&
           y.n == x.n && y.c == f.k && y.h == out_size(x.h, conv.pad_h, f.h, conv.stride_h, conv.dilation_h) &&
           y.w == out_size(x.w, conv.pad_w, f.w, conv.stride_w, conv.dilation_w) && y.h > 0 && y.w > 0;
  }
  // The workspace an emulated algorithm asks for: none for the deterministic forward
  // one, some for every other, so that the caller's handling of both is exercised; it
  // grows with the batch, as real algorithms' do, so that a larger batch after a
  // capture grows the workspace the captured work holds.
  size_t workspace_bytes(Pass pass, int algo) const {
    return pass == Pass::kForward && algo == kDeterministicAlgo ? 0 : f.bytes() * size_t(x.n);
  }

  // Calls visit(x index, filter index, y index) for every product of the convolution.
  template <typename Visit>
  void for_each_product(Visit visit) const {
    const int out_per_group = f.k / conv.groups;
    for (int n = 0; n < x.n; ++n)
      for (int k = 0; k < f.k; ++k) {
        const int group = k / out_per_group;
        for (int i = 0; i < y.h; ++i)
          for (int j = 0; j < y.w; ++j) {
            const int64_t yi = ((int64_t(n) * y.c + k) * y.h + i) * y.w + j;
            for (int c = 0; c < f.c; ++c)
              for (int a = 0; a < f.h; ++a) {
                const int row = i * conv.stride_h - conv.pad_h + a * conv.dilation_h;
                if (row < 0 || row >= x.h) continue;
                for (int b = 0; b < f.w; ++b) {
                  const int col = j * conv.stride_w - conv.pad_w + b * conv.dilation_w;
                  if (col < 0 || col >= x.w) continue;
                  // CUDNN_CONVOLUTION flips the filter; cross-correlation does not.
                  const int fa = conv.mode == CUDNN_CONVOLUTION ? f.h - 1 - a : a;
                  const int fb = conv.mode == CUDNN_CONVOLUTION ? f.w - 1 - b : b;
                  const int64_t xi = ((int64_t(n) * x.c + group * f.c + c) * x.h + row) * x.w + col;
                  const int64_t fi = ((int64_t(k) * f.c + c) * f.h + fa) * f.w + fb;
                  visit(xi, fi, yi);
                }
              }
          }
      }
  }
};

// out = alpha · result + beta · out; out is not read when beta is 0, as in cuDNN.
void blend(const std::vector<double>& result, const void* alpha, const void* beta, void* out) {
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  float* o = static_cast<float*>(out);
  for (size_t i = 0; i < result.size(); ++i) o[i] = float(a * result[i] + (b == 0.f ? 0.0 : double(b) * o[i]));
}

bool usable() { return gpcnn::emulator::sticky_fault() == cudaSuccess; }

bool overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const char *p = static_cast<const char*>(a), *q = static_cast<const char*>(b);
  return a_bytes > 0 && b_bytes > 0 && p < q + b_bytes && q < p + a_bytes;
}

// One convolution pass after cuDNN's checks: the workspace the algorithm asked for, in
// device memory; inputs and output in device memory, the output apart from the rest;
// alpha and beta in host memory. Then out = alpha · sums + beta · out, where add(sums,
// x index, filter index, y index) adds each product to its output's sum.
// On a capturing stream a call is recorded with copies of its descriptors and scalars,
// and runs when the graph is launched, as real cuDNN's kernels would; a failure then
// fails the graph's launch.
template <typename Call>
cudnnStatus_t run_or_record(cudnnHandle_t handle, Call call) {
  if (!gpcnn::emulator::capturing(handle->stream)) return call();
  if (gpcnn::emulator::refuse_uncaptured("cudnn", handle->stream) != cudaSuccess) return CUDNN_STATUS_EXECUTION_FAILED;
  const cudaError_t recorded = gpcnn::emulator::run_or_record(handle->stream, [call] {
    return call() == CUDNN_STATUS_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
  });
  return recorded == cudaSuccess ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}

// alpha and beta must be host memory; a recorded call keeps their values.
bool host_scalars(const void* alpha, const void* beta) {
  return !device_holds(alpha, sizeof(float)) && !device_holds(beta, sizeof(float));
}

template <typename Add>
cudnnStatus_t convolve(const Geometry& g, Pass pass, int algo, const void* workspace, size_t workspace_bytes,
                       const void* in1, size_t in1_bytes, const void* in2, size_t in2_bytes, void* out,
                       size_t out_bytes, const void* alpha, const void* beta, Add add) {
  if (!usable()) return CUDNN_STATUS_EXECUTION_FAILED;
  if (!g.valid() || (algo != 0 && algo != kDeterministicAlgo)) return CUDNN_STATUS_BAD_PARAM;
  const size_t needed = g.workspace_bytes(pass, algo);
  const bool workspace_ok = workspace_bytes >= needed && (needed == 0 || device_holds(workspace, needed));
  const bool memory_ok = device_holds(in1, in1_bytes) && device_holds(in2, in2_bytes) &&
                         device_holds(out, out_bytes) && !device_holds(alpha, sizeof(float)) &&
                         !device_holds(beta, sizeof(float));
  const bool apart = !overlap(out, out_bytes, in1, in1_bytes) && !overlap(out, out_bytes, in2, in2_bytes) &&
                     !overlap(out, out_bytes, workspace, needed);
  if (!workspace_ok || !memory_ok || !apart) return CUDNN_STATUS_BAD_PARAM;
  std::vector<double> sums(out_bytes / sizeof(float), 0.0);
  g.for_each_product([&](int64_t xi, int64_t fi, int64_t yi) { add(sums, xi, fi, yi); });
  blend(sums, alpha, beta, out);
  return CUDNN_STATUS_SUCCESS;
}

// Three algorithms: one this geometry does not support, a fast non-deterministic one,
// and a slower deterministic one (kDeterministicAlgo), so that the caller must check
// both the status and the determinism of what it picks.
template <typename Algo>
cudnnStatus_t offer(Pass pass, int requested, int* returned, cudnnAlgoPerf<Algo>* results, const Geometry& g) {
  if (!g.valid() || requested < 1) return CUDNN_STATUS_BAD_PARAM;
  const cudnnAlgoPerf<Algo> offered[] = {
      {Algo(2), CUDNN_STATUS_NOT_SUPPORTED, -1.f, 0, CUDNN_DETERMINISTIC, g.conv.math},
      {Algo(0), CUDNN_STATUS_SUCCESS, 1.f, g.workspace_bytes(pass, 0), CUDNN_NON_DETERMINISTIC, g.conv.math},
      {Algo(kDeterministicAlgo), CUDNN_STATUS_SUCCESS, 2.f, g.workspace_bytes(pass, kDeterministicAlgo),
       CUDNN_DETERMINISTIC, g.conv.math},
  };
  *returned = requested < 3 ? requested : 3;
  for (int i = 0; i < *returned; ++i) results[i] = offered[i];
  return CUDNN_STATUS_SUCCESS;
}

template <typename T>
cudnnStatus_t create(T** desc) {
  *desc = new T;
  return CUDNN_STATUS_SUCCESS;
}

template <typename T>
cudnnStatus_t destroy(T* desc) {
  delete desc;
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

size_t cudnnGetVersion() { return 90000; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    default: return "CUDNN_STATUS_INTERNAL_ERROR";
  }
}

// Creating and destroying a handle, and the finders' timings, synchronize the device:
// refused while any stream captures, whose captures that invalidates.
static cudnnStatus_t synchronized(cudnnStatus_t status) {
  return gpcnn::emulator::synchronize_whole_device() == cudaSuccess ? status : CUDNN_STATUS_INTERNAL_ERROR;
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (const cudnnStatus_t refused = synchronized(CUDNN_STATUS_SUCCESS); refused != CUDNN_STATUS_SUCCESS) return refused;
  return create(handle);
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) { return synchronized(destroy(handle)); }
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* desc) { return create(desc); }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc) { return destroy(desc); }
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc, cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
  if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT || n <= 0 || c <= 0 || h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *desc = {n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* desc) { return create(desc); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t desc) { return destroy(desc); }
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t desc, cudnnDataType_t type,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
  if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT || k <= 0 || c <= 0 || h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *desc = {k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* desc) { return create(desc); }
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t desc) { return destroy(desc); }
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t desc, int pad_h, int pad_w, int stride_h,
                                              int stride_w, int dilation_h, int dilation_w,
                                              cudnnConvolutionMode_t mode, cudnnDataType_t compute_type) {
  if (pad_h < 0 || pad_w < 0 || stride_h <= 0 || stride_w <= 0 || dilation_h <= 0 || dilation_w <= 0 ||
      compute_type != CUDNN_DATA_FLOAT)
    return CUDNN_STATUS_BAD_PARAM;
  desc->pad_h = pad_h, desc->pad_w = pad_w, desc->stride_h = stride_h, desc->stride_w = stride_w;
  desc->dilation_h = dilation_h, desc->dilation_w = dilation_w, desc->mode = mode;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t desc, int groups) {
  if (groups <= 0) return CUDNN_STATUS_BAD_PARAM;
  desc->groups = groups;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t desc, cudnnMathType_t math) {
  desc->math = math;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                     cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                     cudnnTensorDescriptor_t y, int requested, int* returned,
                                                     cudnnConvolutionFwdAlgoPerf_t* results) {
  return offer(Pass::kForward, requested, returned, results, Geometry{*x, *w, *conv, *y});
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                   cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                   cudnnTensorDescriptor_t y, int requested, int* returned,
                                                   cudnnConvolutionFwdAlgoPerf_t* results) {
  return synchronized(offer(Pass::kForward, requested, returned, results, Geometry{*x, *w, *conv, *y}));
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t, cudnnFilterDescriptor_t w,
                                                          cudnnTensorDescriptor_t dy,
                                                          cudnnConvolutionDescriptor_t conv,
                                                          cudnnTensorDescriptor_t dx, int requested, int* returned,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* results) {
  return offer(Pass::kBackwardData, requested, returned, results, Geometry{*dx, *w, *conv, *dy});
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                            cudnnTensorDescriptor_t dy,
                                                            cudnnConvolutionDescriptor_t conv,
                                                            cudnnFilterDescriptor_t dw, int requested,
                                                            int* returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* results) {
  return offer(Pass::kBackwardFilter, requested, returned, results, Geometry{*x, *dw, *conv, *dy});
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(cudnnHandle_t, cudnnFilterDescriptor_t w,
                                                        cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t conv,
                                                        cudnnTensorDescriptor_t dx, int requested, int* returned,
                                                        cudnnConvolutionBwdDataAlgoPerf_t* results) {
  return synchronized(offer(Pass::kBackwardData, requested, returned, results, Geometry{*dx, *w, *conv, *dy}));
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                          cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t conv,
                                                          cudnnFilterDescriptor_t dw, int requested, int* returned,
                                                          cudnnConvolutionBwdFilterAlgoPerf_t* results) {
  return synchronized(offer(Pass::kBackwardFilter, requested, returned, results, Geometry{*x, *dw, *conv, *dy}));
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                      cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                      cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo,
                                                      size_t* bytes) {
  const Geometry g{*x, *w, *conv, *y};
  if (!g.valid()) return CUDNN_STATUS_BAD_PARAM;
  *bytes = g.workspace_bytes(Pass::kForward, algo);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t, cudnnFilterDescriptor_t w,
                                                           cudnnTensorDescriptor_t dy,
                                                           cudnnConvolutionDescriptor_t conv,
                                                           cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
  const Geometry g{*dx, *w, *conv, *dy};
  if (!g.valid()) return CUDNN_STATUS_BAD_PARAM;
  *bytes = g.workspace_bytes(Pass::kBackwardData, algo);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                             cudnnTensorDescriptor_t dy,
                                                             cudnnConvolutionDescriptor_t conv,
                                                             cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
  const Geometry g{*x, *dw, *conv, *dy};
  if (!g.valid()) return CUDNN_STATUS_BAD_PARAM;
  *bytes = g.workspace_bytes(Pass::kBackwardFilter, algo);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, cudnnTensorDescriptor_t x_desc,
                                      const void* x, cudnnFilterDescriptor_t w_desc, const void* w,
                                      cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo, void* workspace,
                                      size_t workspace_bytes, const void* beta, cudnnTensorDescriptor_t y_desc,
                                      void* y) {
  if (!host_scalars(alpha, beta)) return CUDNN_STATUS_BAD_PARAM;
  const float scalars[2] = {*static_cast<const float*>(alpha), *static_cast<const float*>(beta)};
  return run_or_record(handle, [=, xd = *x_desc, wd = *w_desc, cd = *conv, yd = *y_desc] {
    const float* xs = static_cast<const float*>(x);
    const float* ws = static_cast<const float*>(w);
    return convolve(Geometry{xd, wd, cd, yd}, Pass::kForward, algo, workspace, workspace_bytes, x, xd.bytes(), w,
                    wd.bytes(), y, yd.bytes(), &scalars[0], &scalars[1],
                    [&](std::vector<double>& sums, int64_t xi, int64_t fi, int64_t yi) {
                      sums[yi] += double(xs[xi]) * ws[fi];
                    });
  });
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha, cudnnFilterDescriptor_t w_desc,
                                           const void* w, cudnnTensorDescriptor_t dy_desc, const void* dy,
                                           cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t algo,
                                           void* workspace, size_t workspace_bytes, const void* beta,
                                           cudnnTensorDescriptor_t dx_desc, void* dx) {
  if (!host_scalars(alpha, beta)) return CUDNN_STATUS_BAD_PARAM;
  const float scalars[2] = {*static_cast<const float*>(alpha), *static_cast<const float*>(beta)};
  return run_or_record(handle, [=, wd = *w_desc, dyd = *dy_desc, cd = *conv, dxd = *dx_desc] {
    const float* ws = static_cast<const float*>(w);
    const float* gy = static_cast<const float*>(dy);
    return convolve(Geometry{dxd, wd, cd, dyd}, Pass::kBackwardData, algo, workspace, workspace_bytes, w,
                    wd.bytes(), dy, dyd.bytes(), dx, dxd.bytes(), &scalars[0], &scalars[1],
                    [&](std::vector<double>& sums, int64_t xi, int64_t fi, int64_t yi) {
                      sums[xi] += double(gy[yi]) * ws[fi];
                    });
  });
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha, cudnnTensorDescriptor_t x_desc,
                                             const void* x, cudnnTensorDescriptor_t dy_desc, const void* dy,
                                             cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdFilterAlgo_t algo,
                                             void* workspace, size_t workspace_bytes, const void* beta,
                                             cudnnFilterDescriptor_t dw_desc, void* dw) {
  if (!host_scalars(alpha, beta)) return CUDNN_STATUS_BAD_PARAM;
  const float scalars[2] = {*static_cast<const float*>(alpha), *static_cast<const float*>(beta)};
  return run_or_record(handle, [=, xd = *x_desc, dyd = *dy_desc, cd = *conv, dwd = *dw_desc] {
    const float* xs = static_cast<const float*>(x);
    const float* gy = static_cast<const float*>(dy);
    return convolve(Geometry{xd, dwd, cd, dyd}, Pass::kBackwardFilter, algo, workspace, workspace_bytes, x,
                    xd.bytes(), dy, dyd.bytes(), dw, dwd.bytes(), &scalars[0], &scalars[1],
                    [&](std::vector<double>& sums, int64_t xi, int64_t fi, int64_t yi) {
                      sums[fi] += double(gy[yi]) * xs[xi];
                    });
  });
}
