// A device-wide synchronization is invalid while any stream of the device captures a
// graph, and invalidates that capture: a sampler job records its row graph on a worker
// thread while the main thread may free idle memory or drop a training step's graph,
// and other jobs end. So the two exclude each other through one lock: a call that
// synchronizes the device, explicitly or within (cudaFree, cuDNN's handle creation
// and destruction and its timed searches, cuBLAS's handle creation), goes through
// synchronizing(), and a capture holds the lock from its beginning to its end. The lock
// is recursive, so that a call made by the capturing thread itself fails as a capture's
// error would, instead of waiting forever.
#pragma once

#include <cuda_runtime.h>

#include <mutex>

namespace gpcnn {

inline std::recursive_mutex& device_sync_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

// call(), which may synchronize the device, never during another thread's capture.
template <typename Call>
auto synchronizing(Call&& call) {
  std::lock_guard<std::recursive_mutex> lock(device_sync_mutex());
  return call();
}

// cudaDeviceSynchronize(), never during another thread's capture.
inline cudaError_t synchronize_device() { return synchronizing(cudaDeviceSynchronize); }

// Waits for all queued work, then cudaFree(data), never during another thread's capture.
inline cudaError_t synchronize_and_free(void* data) {
  return synchronizing([data] {
    const cudaError_t synchronized = cudaDeviceSynchronize();
    const cudaError_t freed = cudaFree(data);
    return synchronized != cudaSuccess ? synchronized : freed;
  });
}

// Held while a stream captures.
inline std::unique_lock<std::recursive_mutex> exclude_device_synchronization() {
  return std::unique_lock<std::recursive_mutex>(device_sync_mutex());
}

}  // namespace gpcnn
