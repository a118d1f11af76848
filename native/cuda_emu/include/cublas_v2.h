// cuBLAS as the CPU emulator provides it: the single-precision GEMM that the cached
// sampler's vertical stage calls (native/cuda/sampler_vertical.cuh), with cuBLAS's
// column-major semantics and parameter checks, computed by plain loops in double
// precision. It tests our use of cuBLAS (shapes, leading dimensions, transposes,
// streams), not cuBLAS itself.
#pragma once

#include "cuda_runtime.h"

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };

struct cublasContext;
using cublasHandle_t = cublasContext*;

const char* cublasGetStatusString(cublasStatus_t status);
cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
// Binds the handle to a stream and, as in cuBLAS, resets its workspace to the library's
// own pool.
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
// The handle's math: either mode computes in double here (TF32's rounding is not emulated).
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
// The handle's workspace: device memory of at least that many bytes, 256-byte aligned.
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t bytes);
// C = alpha · op(A) · op(B) + beta · C, column-major, C m × n; alpha and beta in host
// memory (cuBLAS's default pointer mode); A, B and C must lie inside device
// allocations as their leading dimensions size them, and C must not overlap A or B.
// On a capturing stream the handle must have a workspace of ours (the emulator's rule:
// with its own pool, cuBLAS adds allocations to the graph that run at every launch).
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* C, int ldc);
