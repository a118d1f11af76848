// The emulated cuBLAS (see include/cublas_v2.h): handles bound to a stream, and the
// single-precision GEMM in double precision, with cuBLAS's parameter checks plus the
// emulator's own: every matrix inside one device allocation, the output apart from
// the inputs, the scalars in host memory.
#include <cublas_v2.h>

#include <cstdint>

#include "launch.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;  // null: the library's own pool
};

namespace {

using gpcnn::emulator::device_holds;

// Bytes a column-major matrix of `rows` × `cols` with leading dimension `ld` spans.
size_t span_bytes(int rows, int cols, int ld) {
  return sizeof(float) * (size_t(ld) * (cols - 1) + rows);
}

bool overlaps(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const auto* x = static_cast<const char*>(a);
  const auto* y = static_cast<const char*>(b);
  return x < y + b_bytes && y < x + a_bytes;
}

}  // namespace

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

// Creating and destroying a handle synchronize the device: refused while any stream
// captures, whose captures that invalidates.
cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  if (gpcnn::emulator::sticky_fault() != cudaSuccess) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (gpcnn::emulator::synchronize_whole_device() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return gpcnn::emulator::synchronize_whole_device() == cudaSuccess ? CUBLAS_STATUS_SUCCESS
                                                                     : CUBLAS_STATUS_EXECUTION_FAILED;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  handle->workspace = nullptr;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  return mode == CUBLAS_DEFAULT_MATH || mode == CUBLAS_TF32_TENSOR_OP_MATH ? CUBLAS_STATUS_SUCCESS
                                                                          : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t bytes) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0 || (bytes > 0 && !device_holds(workspace, bytes)))
    return CUBLAS_STATUS_INVALID_VALUE;
  handle->workspace = bytes > 0 ? workspace : nullptr;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* C, int ldc) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  // cuBLAS's own checks: sizes, and leading dimensions at least the stored rows.
  const int a_rows = transa == CUBLAS_OP_N ? m : k, a_cols = transa == CUBLAS_OP_N ? k : m;
  const int b_rows = transb == CUBLAS_OP_N ? k : n, b_cols = transb == CUBLAS_OP_N ? n : k;
  if (m < 0 || n < 0 || k < 0 || lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) ||
      ldc < (m > 1 ? m : 1) || !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  // The emulator's: scalars in host memory, matrices in device memory, output apart.
  const size_t a_bytes = k > 0 ? span_bytes(a_rows, a_cols, lda) : 0, b_bytes = k > 0 ? span_bytes(b_rows, b_cols, ldb) : 0;
  const size_t c_bytes = span_bytes(m, n, ldc);
  if (device_holds(alpha, sizeof(float)) || device_holds(beta, sizeof(float)) ||
      (k > 0 && (!device_holds(A, a_bytes) || !device_holds(B, b_bytes))) || !device_holds(C, c_bytes) ||
      (k > 0 && (overlaps(C, c_bytes, A, a_bytes) || overlaps(C, c_bytes, B, b_bytes))))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (gpcnn::emulator::refuse_uncaptured("cublas", handle->stream) != cudaSuccess)
    return CUBLAS_STATUS_EXECUTION_FAILED;
  if (gpcnn::emulator::capturing(handle->stream) && !handle->workspace) return CUBLAS_STATUS_NOT_SUPPORTED;
  const double scale = *alpha, keep = *beta;
  const cudaError_t error = gpcnn::emulator::run_or_record(handle->stream, [=]() {
    for (int col = 0; col < n; ++col)
      for (int row = 0; row < m; ++row) {
        double sum = 0;
        for (int e = 0; e < k; ++e) {
          const float a = transa == CUBLAS_OP_N ? A[row + size_t(e) * lda] : A[e + size_t(row) * lda];
          const float b = transb == CUBLAS_OP_N ? B[e + size_t(col) * ldb] : B[col + size_t(e) * ldb];
          sum += double(a) * b;
        }
        float& c = C[row + size_t(col) * ldc];
        c = float(scale * sum + (keep == 0 ? 0.0 : keep * c));  // beta 0: C is not read, as in cuBLAS
      }
    return cudaSuccess;
  });
  return error == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
