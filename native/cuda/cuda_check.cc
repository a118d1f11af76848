#include "cuda_check.h"

#include <atomic>
#include <mutex>

#include "../core/errors.h"

namespace gpcnn {

namespace {

std::mutex sticky_mutex;
std::string sticky_reason;  // empty while the device is usable
std::atomic<bool> sticky{false};

// Errors after which the context is corrupt and every later call fails.
bool is_sticky(cudaError_t error) {
  switch (error) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
      return true;
    default:
      return false;
  }
}

void record_if_sticky(cudaError_t error, const std::string& what) {
  if (!is_sticky(error)) return;
  std::lock_guard<std::mutex> lock(sticky_mutex);
  if (sticky_reason.empty()) sticky_reason = what;
  sticky.store(true);
}

}  // namespace

void ensure_device_usable() {
  if (!sticky.load()) return;
  std::lock_guard<std::mutex> lock(sticky_mutex);
  fail(codes::kCuda, "the CUDA backend is unusable after an earlier fault (", sticky_reason,
       "); restart the process");
}

void cuda_fail(cudaError_t error, const char* call, const char* file, int line) {
  // Clear the thread's last error (it is sticky per thread until read), so that a later,
  // unrelated launch check on this thread does not report it again.
  cudaGetLastError();
  const std::string what = std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error) +
                           " in " + call + " (" + file + ":" + std::to_string(line) + ")";
  if (error == cudaErrorMemoryAllocation) fail(codes::kCudaOutOfMemory, "out of device memory: ", what);
  record_if_sticky(error, what);
  fail(codes::kCuda, what);
}

void cudnn_fail(cudnnStatus_t status, const char* call, const char* file, int line) {
  const std::string what = std::string("cuDNN: ") + cudnnGetErrorString(status) + " in " + call + " (" + file +
                           ":" + std::to_string(line) + ")";
  // cuDNN reports a sticky CUDA fault as a status of its own; the runtime still holds the cause.
  record_if_sticky(cudaPeekAtLastError(), what);
  const bool out_of_memory = status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                             status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
  fail(out_of_memory ? codes::kCudaOutOfMemory : codes::kCuda, what);
}

#if GPCNN_CUBLAS
void cublas_fail(cublasStatus_t status, const char* call, const char* file, int line) {
  const std::string what = std::string("cuBLAS: ") + cublasGetStatusString(status) + " in " + call + " (" + file +
                           ":" + std::to_string(line) + ")";
  record_if_sticky(cudaPeekAtLastError(), what);
  fail(status == CUBLAS_STATUS_ALLOC_FAILED ? codes::kCudaOutOfMemory : codes::kCuda, what);
}
#endif

}  // namespace gpcnn
