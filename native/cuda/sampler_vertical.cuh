// The cached sampler's vertical stacks on the GPU: at each row i, every block's
// vertical convolution for the whole batch reads the kh rows above (SPEC.md §3: rows
// i − dy … i − dy + kh − 1 of the stack below, which are complete). By default (an addon
// with cuBLAS) it is a cuBLAS matrix product: a gather writes the rows' windows as a
// matrix [B·W][cin·kh·kw] (im2col), and the product gives v_conv as [B·W][2P], row by
// column. The 1×1 convolution vh of the result, which the horizontal stack adds at each
// position, is one more product for the whole row, so that the position steps
// (sampler_position.cuh) multiply only their taps. A finishing kernel writes the gated
// row of v_hist and h_base, the horizontal pre-activation but for its taps, in the
// position steps' layout. Layouts as in sampler_layout.h.
//
// Without cuBLAS, or with GATED_PIXELCNN_SAMPLER_VERTICAL=cudnn (measured slower on an
// H200), both are cuDNN convolutions of output height 1 instead: the gather copies the
// rows, zero-padded, into a dense input, and the finishing kernel reads cuDNN's layout.
#pragma once

#include <cudnn.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../core/sampler_layout.h"
#include "cuda_check.h"
#include "cudnn_util.h"
#include "device_sync.h"
#include "launch.cuh"

namespace gpcnn {

// These kernels are a few loads and stores per thread, spread over many threads: one
// block per image, each thread looping over hundreds of elements, left them waiting
// on one load after another (34 and 24 µs a call for mnist-quick at batch 256 on an
// H200, against about 75 for the product between them).

// gathered[b, c, a, e] = in[b, c, i − dy + a, e − dx] for a < kh, e < W + kw − 1 (zero
// outside in), i = *row; grid (B, ⌈cin·kh / warps⌉ or fewer), a warp per row of the
// window at a time, its lanes along the row.
__global__ void gather_rows_kernel(const float* __restrict__ in, float* __restrict__ gathered, int channels, int H,
                                   int W, int kh, int kw, int dy, int dx, const int* row) {
  const int i = *row, wide = W + kw - 1, warps = blockDim.x / 32, lane = threadIdx.x % 32;
  for (int r = blockIdx.y * warps + threadIdx.x / 32; r < channels * kh; r += gridDim.y * warps) {  // (c, a)
    const int c = r / kh, si = i - dy + r % kh;
    const bool row_in = si >= 0 && si < H;
    const float* from = in + ((int64_t(blockIdx.x) * channels + c) * H + (row_in ? si : 0)) * W;
    float* to = gathered + (int64_t(blockIdx.x) * channels * kh + r) * wide;
    for (int e = lane; e < wide; e += 32) to[e] = row_in && e - dx >= 0 && e - dx < W ? from[e - dx] : 0.f;
  }
}

constexpr int kGatherColumns = 4;  // columns j per thread of gather_columns_kernel

// cols[b·W + j][(c·kh + a)·kw + e] = in[b, c, i − dy + a, j − dx + e] (zero outside in):
// the rows' windows as the left operand of a matrix product with the filters
// [outputs][cin·kh·kw]; i = *row. Grid (B, ⌈cin·kh·kw / threads⌉, ⌈W / kGatherColumns⌉, or
// fewer): a thread per k and kGatherColumns columns at a time, so that stores are coalesced and
// the loads (neighbouring e, then j) come from L1.
__global__ void gather_columns_kernel(const float* __restrict__ in, float* __restrict__ cols, int channels, int H,
                                      int W, int kh, int kw, int dy, int dx, const int* row) {
  const int i = *row, depth = channels * kh * kw;
  for (int t = blockIdx.y * blockDim.x + threadIdx.x; t < depth; t += gridDim.y * blockDim.x) {
    const int c = t / (kh * kw), si = i - dy + t / kw % kh, e = t % kw;
    const bool row_in = si >= 0 && si < H;
    const float* from = in + ((int64_t(blockIdx.x) * channels + c) * H + (row_in ? si : 0)) * W;
    float* to = cols + int64_t(blockIdx.x) * W * depth + t;
    for (int j0 = blockIdx.z * kGatherColumns; j0 < W; j0 += gridDim.z * kGatherColumns) {
      GPCNN_UNROLL
      for (int q = 0; q < kGatherColumns; ++q) {
        const int j = j0 + q, sj = j - dx + e;
        if (j < W) to[int64_t(j) * depth] = row_in && sj >= 0 && sj < W ? from[sj] : 0.f;
      }
    }
  }
}

// Where v_conv and vh_conv hold output o of column j of one image: cuDNN writes them
// [2P][W] (NCHW), the cuBLAS products [W][2P].
struct RowLayout {
  bool columns_first;  // [W][2P]
  int outputs, W;
  __device__ int at(int o, int j) const { return columns_first ? j * outputs + o : o * W + j; }
};

constexpr int kFinishTile = 32;  // outputs and columns of finish_vertical_kernel's tiles: a warp's lanes

// Below the last block, v_hist row i = gate(v_conv + v.bias + the vertical conditioning);
// h_base = vh_conv + the horizontal constant (sampler_layout.h) + its conditioning, per
// image and column, i = *row. Grid (B, ⌈2P / kFinishTile⌉ or fewer): a block per image
// and kFinishTile outputs o of h_base (and channels of v_hist, where there are) at a
// time, for every column, a warp per column at a time, its lanes along the outputs. The
// gated values go through shared memory, so that they are stored along the columns, as
// v_hist holds them.
__global__ void finish_vertical_kernel(SamplerPlan p, BlockPlan bl, int l, const int* row, RowLayout layout) {
  __shared__ float gated[kFinishTile][kFinishTile + 1];  // [column][channel], padded against bank conflicts
  const int b = blockIdx.x, P = int(p.P), W = int(p.W), i = *row;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const float* conv = p.v_conv + int64_t(b) * 2 * P * W;
  const float* vh = p.vh_conv + int64_t(b) * 2 * P * W;
  const float* cond = p.cond_bias + (int64_t(l) * p.B + b) * 2 * 2 * P;  // [2][2P]: vertical, horizontal
  for (int o0 = blockIdx.y * kFinishTile; o0 < 2 * P; o0 += gridDim.y * kFinishTile) {
    if (l < p.L - 1 && o0 < P) {  // the same in every thread: the barriers below are the block's
      for (int j0 = 0; j0 < W; j0 += kFinishTile) {
        for (int jj = warp; jj < kFinishTile; jj += warps) {
          const int j = j0 + jj, c = o0 + lane;
          if (j >= W || c >= P) continue;
          const float a1 =
              conv[layout.at(c, j)] + p.w[bl.v_b + c] + cond[c] + spatial_term(p, bl.spatial_vt, b, c, i, j);
          const float a2 = conv[layout.at(c + P, j)] + p.w[bl.v_b + c + P] + cond[c + P] +
                           spatial_term(p, bl.spatial_vt, b, c + P, i, j);
          gated[jj][lane] = gate_f(a1, a2);
        }
        __syncthreads();
        for (int cc = warp; cc < kFinishTile; cc += warps) {
          const int c = o0 + cc, j = j0 + lane;
          if (c < P && j < W) p.v_hist[(((int64_t(l) * p.B + b) * P + c) * p.H + i) * W + j] = gated[lane][cc];
        }
        __syncthreads();
      }
    }
    const int o = o0 + lane;
    if (o >= 2 * P) continue;
    for (int j = warp; j < W; j += warps)
      p.h_base[((int64_t(l) * p.B + b) * W + j) * 2 * P + o] =
          vh[layout.at(o, j)] + p.w[bl.h_base_b + o] + cond[2 * P + o] + spatial_term(p, bl.spatial_ht, b, o, i, j);
  }
}

#if GPCNN_CUBLAS
// out[rows][outputs] = in[rows][depth] · weights[outputs][depth]ᵀ, row-major, in the
// handle's math (cuBLAS's default, fp32, or TF32 where the job allows it). cuBLAS is
// column-major: there this is outᵀ = weights · inᵀ.
inline void row_product(cublasHandle_t handle, int64_t rows, int64_t depth, int64_t outputs, const float* in,
                        const float* weights, float* out) {
  const float one = 1.f, zero = 0.f;
  GPCNN_CUBLAS_CALL(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(outputs), int(rows), int(depth), &one, weights,
                                int(depth), in, int(depth), &zero, out, int(outputs)));
}
#endif

// A convolution of output height 1 at a row for the whole batch: [B, cin, kh, W + kw − 1]
// → [B, outputs, 1, W] (a block's vertical convolution, or vh: 1×1 over [B, 2P, 1, W]),
// in fp32 (FMA) math, or with TF32 tensor cores allowed where `tf32`.
struct RowConvolutionShape {
  int64_t batch, cin, kh, kw, outputs, width;
  bool tf32;
};

class RowConvolution {
 public:
  RowConvolution(cudnnHandle_t handle, const RowConvolutionShape& shape) : handle_(handle) {
    try {
      input_ = tensor_desc(shape.batch, shape.cin, shape.kh, shape.width + shape.kw - 1);
      output_ = tensor_desc(shape.batch, shape.outputs, 1, shape.width);
      GPCNN_CUDNN(cudnnCreateFilterDescriptor(&filter_));
      GPCNN_CUDNN(cudnnSetFilter4dDescriptor(filter_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(shape.outputs),
                                             int(shape.cin), int(shape.kh), int(shape.kw)));
      GPCNN_CUDNN(cudnnCreateConvolutionDescriptor(&conv_));
      GPCNN_CUDNN(
          cudnnSetConvolution2dDescriptor(conv_, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      GPCNN_CUDNN(cudnnSetConvolutionMathType(conv_, shape.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
      algo_ = fastest_algorithm(shape);
      GPCNN_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(handle_, input_, filter_, conv_, output_, algo_,
                                                          &workspace_bytes_));
    } catch (...) {
      release();  // a failing cuDNN call leaves no descriptor behind
      throw;
    }
  }
  RowConvolution(const RowConvolution&) = delete;
  RowConvolution& operator=(const RowConvolution&) = delete;
  ~RowConvolution() { release(); }

  size_t workspace_bytes() const { return workspace_bytes_; }

  // `workspace` holds at least workspace_bytes().
  void run(const float* in, const float* weights, float* out, void* workspace) const {
    const float one = 1.f, zero = 0.f;
    GPCNN_CUDNN(cudnnConvolutionForward(handle_, &one, input_, in, filter_, weights, conv_, algo_,
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
  cudnnConvolutionFwdAlgo_t fastest_algorithm(const RowConvolutionShape& s) {
    int device = 0;
    GPCNN_CUDA(cudaGetDevice(&device));
    std::string key;
    for (int64_t v : {int64_t(device), s.batch, s.cin, s.kh, s.kw, s.outputs, s.width, int64_t(s.tf32)})
      key += std::to_string(v) + ',';
    static std::mutex mutex;
    static std::map<std::string, cudnnConvolutionFwdAlgo_t> chosen;
    const std::lock_guard<std::mutex> lock(mutex);
    auto found = chosen.find(key);
    if (found != chosen.end()) return found->second;
    int count = 0;
    std::vector<cudnnConvolutionFwdAlgoPerf_t> timed(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    GPCNN_CUDNN(synchronizing([&] {  // the search allocates, and waits for its timings
      return cudnnFindConvolutionForwardAlgorithm(handle_, input_, filter_, conv_, output_, int(timed.size()), &count,
                                                  timed.data());
    }));
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
