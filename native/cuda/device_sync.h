// A device-wide synchronization is invalid while any stream of the device captures a
// graph, and invalidates that capture: a sampler job records its row graph on a worker
// thread while the main thread may free idle memory or drop a training step's graph.
// So the two exclude each other through one lock: device-wide synchronizations go
// through synchronize_device(), and a capture on a worker thread holds the lock from
// its beginning to its end.
#pragma once

#include <cuda_runtime.h>

#include <mutex>

namespace gpcnn {

inline std::mutex& device_sync_mutex() {
  static std::mutex mutex;
  return mutex;
}

// cudaDeviceSynchronize(), never during a worker thread's capture.
inline cudaError_t synchronize_device() {
  std::lock_guard<std::mutex> lock(device_sync_mutex());
  return cudaDeviceSynchronize();
}

// Held while a worker thread captures.
inline std::unique_lock<std::mutex> exclude_device_synchronization() {
  return std::unique_lock<std::mutex>(device_sync_mutex());
}

}  // namespace gpcnn
