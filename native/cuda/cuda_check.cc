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

}  // namespace

void ensure_device_usable() {
  if (!sticky.load()) return;
  std::lock_guard<std::mutex> lock(sticky_mutex);
  fail(codes::kCuda, "the CUDA backend is unusable after an earlier fault (", sticky_reason,
       "); restart the process");
}

void cuda_fail(cudaError_t error, const char* call, const char* file, int line) {
  const std::string what = std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error) +
                           " in " + call + " (" + file + ":" + std::to_string(line) + ")";
  if (error == cudaErrorMemoryAllocation) fail(codes::kCudaOutOfMemory, "out of device memory: ", what);
  if (is_sticky(error)) {
    std::lock_guard<std::mutex> lock(sticky_mutex);
    sticky_reason = what;
    sticky.store(true);
  }
  fail(codes::kCuda, what);
}

void cudnn_fail(cudnnStatus_t status, const char* call, const char* file, int line) {
  const char* code = status == CUDNN_STATUS_ALLOC_FAILED ? codes::kCudaOutOfMemory : codes::kCuda;
  fail(code, "cuDNN: ", cudnnGetErrorString(status), " in ", call, " (", file, ":", line, ")");
}

}  // namespace gpcnn
