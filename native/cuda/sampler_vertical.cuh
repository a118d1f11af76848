// The cached sampler's vertical stacks on the GPU: at each row i, every block's
// vertical convolution for the whole batch is one cuDNN convolution of output height
// 1 over the kh rows it reads (SPEC.md §3: rows i − dy … i − dy + kh − 1 of the stack
// below, which are complete). A gather copies those rows, zero-padded, into a dense
// input; a finishing kernel adds the bias, writes u_row in the position steps' layout
// and the gated row of v_hist. Layouts as in sampler_layout.h.
#pragma once

#include <cudnn.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../core/sampler_layout.h"
#include "cuda_check.h"
#include "cudnn_util.h"
#include "launch.cuh"

namespace gpcnn {

// gathered[b, c, a, e] = in[b, c, i − dy + a, e − dx] for a < kh, e < W + kw − 1 (zero
// outside in); one thread block per image.
__global__ void gather_rows_kernel(const float* in, float* gathered, int channels, int H, int W, int kh, int kw, int dy,
                                   int dx, int i) {
  const float* from = in + int64_t(blockIdx.x) * channels * H * W;
  const int wide = W + kw - 1, plane = kh * wide;
  float* to = gathered + int64_t(blockIdx.x) * channels * plane;
  for (int e = threadIdx.x; e < channels * plane; e += blockDim.x) {
    const int c = e / plane, si = i - dy + e % plane / wide, sj = e % wide - dx;
    to[e] = si >= 0 && si < H && sj >= 0 && sj < W ? from[(c * H + si) * W + sj] : 0.f;
  }
}

// Block l's u_row = v_conv + v bias, per image and column, and, below the last block,
// v_hist row i = gate(u_row + the vertical conditioning); one thread block per image.
__global__ void finish_vertical_kernel(SamplerPlan p, BlockPlan bl, int l, int i) {
  const int b = blockIdx.x, P = int(p.P), W = int(p.W);
  const float* conv = p.v_conv + int64_t(b) * 2 * P * W;
  float* u = p.u_row + (int64_t(l) * p.B + b) * W * 2 * P;
  const float* bias = p.cond_bias + ((int64_t(l) * p.B + b) * 2 + 0) * 2 * P;
  float* out = l < p.L - 1 ? p.v_hist + (int64_t(l) * p.B + b) * P * p.H * W : nullptr;
  for (int e = threadIdx.x; e < P * W; e += blockDim.x) {
    const int c = e / W, j = e % W;
    const float a1 = conv[c * W + j] + p.w[bl.v_b + c], a2 = conv[(c + P) * W + j] + p.w[bl.v_b + c + P];
    u[j * 2 * P + c] = a1, u[j * 2 * P + c + P] = a2;
    if (out)
      out[(c * p.H + i) * W + j] = gate_f(a1 + bias[c] + spatial_term(p, bl.spatial_vt, b, c, i, j),
                                          a2 + bias[c + P] + spatial_term(p, bl.spatial_vt, b, c + P, i, j));
  }
}

// One block's vertical convolution at a row for the whole batch: [B, cin, kh, W + kw − 1]
// → [B, 2P, 1, W], in fp32 (FMA) math whatever the backend's TF32 setting, so that the
// draws are those of the CPU.
class VerticalConvolution {
 public:
  VerticalConvolution(cudnnHandle_t handle, int64_t batch, const BlockPlan& bl, int64_t outputs, int64_t width)
      : handle_(handle) {
    try {
      input_ = tensor_desc(batch, bl.cin, bl.vkh, width + bl.vkw - 1);
      output_ = tensor_desc(batch, outputs, 1, width);
      GPCNN_CUDNN(cudnnCreateFilterDescriptor(&filter_));
      GPCNN_CUDNN(cudnnSetFilter4dDescriptor(filter_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(outputs),
                                             int(bl.cin), int(bl.vkh), int(bl.vkw)));
      GPCNN_CUDNN(cudnnCreateConvolutionDescriptor(&conv_));
      GPCNN_CUDNN(
          cudnnSetConvolution2dDescriptor(conv_, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      GPCNN_CUDNN(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH));
      algo_ = fastest_algorithm(batch, bl, outputs, width);
      GPCNN_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(handle_, input_, filter_, conv_, output_, algo_,
                                                          &workspace_bytes_));
    } catch (...) {
      release();  // a failing cuDNN call leaves no descriptor behind
      throw;
    }
  }
  VerticalConvolution(const VerticalConvolution&) = delete;
  VerticalConvolution& operator=(const VerticalConvolution&) = delete;
  ~VerticalConvolution() { release(); }

  size_t workspace_bytes() const { return workspace_bytes_; }

  // `workspace` holds at least workspace_bytes().
  void run(const float* gathered, const float* weights, float* out, void* workspace) const {
    const float one = 1.f, zero = 0.f;
    GPCNN_CUDNN(cudnnConvolutionForward(handle_, &one, input_, gathered, filter_, weights, conv_, algo_,
                                        workspace_bytes_ ? workspace : nullptr, workspace_bytes_, &zero, output_,
                                        out));
  }

 private:
  void release() {
    if (input_) cudnnDestroyTensorDescriptor(input_);
    if (output_) cudnnDestroyTensorDescriptor(output_);
    if (filter_) cudnnDestroyFilterDescriptor(filter_);
    if (conv_) cudnnDestroyConvolutionDescriptor(conv_);
  }

  // cuDNN's fastest deterministic algorithm for this geometry, timed once per process
  // and device: its heuristics pick an FFT for an output of height 1, which on an H200
  // took 0.95 ms a call for mnist-quick at batch 256 against 0.12 ms for the GEMM that
  // the timing picks.
  cudnnConvolutionFwdAlgo_t fastest_algorithm(int64_t batch, const BlockPlan& bl, int64_t outputs, int64_t width) {
    int device = 0;
    GPCNN_CUDA(cudaGetDevice(&device));
    std::string key;
    for (int64_t v : {int64_t(device), batch, bl.cin, bl.vkh, bl.vkw, outputs, width}) key += std::to_string(v) + ',';
    static std::mutex mutex;
    static std::map<std::string, cudnnConvolutionFwdAlgo_t> chosen;
    const std::lock_guard<std::mutex> lock(mutex);
    auto found = chosen.find(key);
    if (found != chosen.end()) return found->second;
    int count = 0;
    std::vector<cudnnConvolutionFwdAlgoPerf_t> timed(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    GPCNN_CUDNN(cudnnFindConvolutionForwardAlgorithm(handle_, input_, filter_, conv_, output_, int(timed.size()),
                                                     &count, timed.data()));
    return chosen[key] = pick_deterministic(timed, count);
  }

  cudnnHandle_t handle_;
  cudnnTensorDescriptor_t input_ = nullptr, output_ = nullptr;
  cudnnFilterDescriptor_t filter_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnConvolutionFwdAlgo_t algo_{};
  size_t workspace_bytes_ = 0;
};

}  // namespace gpcnn
