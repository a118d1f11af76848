// Checks for every CUDA, cuDNN and cuBLAS call and kernel launch. A failure becomes an
// Error with ERR_CUDA (ERR_CUDA_OOM for memory); a sticky fault (one that leaves the
// CUDA context unusable, e.g. an illegal address) also marks the backend dead, so
// that every later call refuses with the original reason instead of crashing.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>
#if GPCNN_CUBLAS
#include <cublas_v2.h>
#endif

#include <string>

namespace gpcnn {

[[noreturn]] void cuda_fail(cudaError_t error, const char* call, const char* file, int line);
[[noreturn]] void cudnn_fail(cudnnStatus_t status, const char* call, const char* file, int line);
#if GPCNN_CUBLAS
[[noreturn]] void cublas_fail(cublasStatus_t status, const char* call, const char* file, int line);
#endif
// Throws if an earlier sticky fault made the device unusable.
void ensure_device_usable();

}  // namespace gpcnn

#define GPCNN_CUDA(call)                                                          \
  do {                                                                            \
    const cudaError_t gpcnn_error_ = (call);                                      \
    if (gpcnn_error_ != cudaSuccess) ::gpcnn::cuda_fail(gpcnn_error_, #call, __FILE__, __LINE__); \
  } while (0)

#define GPCNN_CUDNN(call)                                                         \
  do {                                                                            \
    const cudnnStatus_t gpcnn_status_ = (call);                                   \
    if (gpcnn_status_ != CUDNN_STATUS_SUCCESS)                                    \
      ::gpcnn::cudnn_fail(gpcnn_status_, #call, __FILE__, __LINE__);              \
  } while (0)

#define GPCNN_CUBLAS_CALL(call)                                                   \
  do {                                                                            \
    const cublasStatus_t gpcnn_status_ = (call);                                  \
    if (gpcnn_status_ != CUBLAS_STATUS_SUCCESS)                                   \
      ::gpcnn::cublas_fail(gpcnn_status_, #call, __FILE__, __LINE__);             \
  } while (0)

// After every kernel launch: launch-configuration errors surface here.
#define GPCNN_LAUNCHED() GPCNN_CUDA(cudaGetLastError())
