// Small pieces of cuDNN's legacy API shared by the backend's convolutions
// (cudnn_conv.cu) and the cached sampler's (sampler_vertical.cuh).
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <vector>

#include "../core/errors.h"
#include "cuda_check.h"

namespace gpcnn {

inline cudnnTensorDescriptor_t tensor_desc(int64_t n, int64_t c, int64_t h, int64_t w) {
  cudnnTensorDescriptor_t desc;
  GPCNN_CUDNN(cudnnCreateTensorDescriptor(&desc));
  GPCNN_CUDNN(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(n), int(c), int(h), int(w)));
  return desc;
}

// The first algorithm of cuDNN's ranking that is deterministic, else the first that
// works: deterministic algorithms keep a resumed run bit-identical to an
// uninterrupted one, and a sampler's draws the same from run to run.
template <typename Perf>
auto pick_deterministic(const std::vector<Perf>& results, int count) -> decltype(results[0].algo) {
  for (int i = 0; i < count; ++i)
    if (results[i].status == CUDNN_STATUS_SUCCESS && results[i].determinism == CUDNN_DETERMINISTIC)
      return results[i].algo;
  for (int i = 0; i < count; ++i)
    if (results[i].status == CUDNN_STATUS_SUCCESS) return results[i].algo;
  fail(codes::kCuda, "cuDNN offers no algorithm for this convolution");
}

}  // namespace gpcnn
