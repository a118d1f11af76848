// launch(), launch_clustered(), dynamic_shared() and the cluster functions for the CPU
// emulator (see native/cuda/launch.cuh): the kernel runs at once, every thread of
// every block as a fiber on the calling thread, with the runtime's
// launch-configuration checks.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <functional>

#include "../cuda/cuda_check.h"

namespace gpcnn {

namespace emulator {

// Runs `thread` once per thread of the grid of `kernel` (or, on a capturing stream,
// records it to run when the graph is launched); a failure (a bad configuration, a
// trap, a pointer argument outside device memory) becomes the runtime's last error,
// as a failed launch does.
void run_grid(const void* kernel, dim3 grid, dim3 block, unsigned cluster, size_t shared_bytes, cudaStream_t stream,
              bool pointers_on_device, std::function<void()> thread);
// True while `stream` records a graph.
bool capturing(cudaStream_t stream);
// Work other than a kernel (a cuDNN call, a copy, a memset) queued on `stream`: run at
// once, or, while the stream captures, recorded to run when the graph is launched (a
// failure then becomes the launch's error).
cudaError_t run_or_record(cudaStream_t stream, std::function<cudaError_t()> work);
// With GATED_PIXELCNN_EMULATOR_UNCAPTURED naming `library` ("cudnn", "cublas" or
// "kernels", a comma-separated list), that library's calls (or kernel launches) on a
// capturing stream fail and invalidate the capture, as a call that copies from the host
// or synchronizes would on a device, so that tests can check what follows a refused
// capture. Returns the error such a call fails with, or cudaSuccess.
cudaError_t refuse_uncaptured(const char* library, cudaStream_t stream);
// The running block's dynamic shared memory.
void* dynamic_shared_memory();
// The running block's rank in its cluster; the two halves of its cluster's barrier
// (device.cc says where the emulator makes threads wait); what `local` (in the running
// block's dynamic shared memory) is in block `rank` of the cluster.
unsigned cluster_rank();
void cluster_arrive();
void cluster_wait();
void* cluster_shared_memory(const void* local, unsigned rank);
// True when [at, at + bytes) lies inside one live device allocation.
bool device_holds(const void* at, size_t bytes);
// The fault that has made the device unusable, or cudaSuccess.
cudaError_t sticky_fault();
// What a device-wide synchronization meets (cudaDeviceSynchronize's, and the one within
// cudaFree, cuDNN's and cuBLAS's handle creation and destruction, and cuDNN's timed
// searches): while any stream captures, on any thread, it fails and invalidates every
// capture, as on a device.
cudaError_t synchronize_whole_device();

// A pointer passed to a kernel must be null or point into device memory: a device
// cannot read host memory. A struct argument's pointers are checked when it lists them
// through a device_pointers(const T&) that argument-dependent lookup finds.
template <typename T>
bool on_device_or_null(T* pointer, int) {
  return !pointer || device_holds(pointer, 1);
}
template <typename T>
auto on_device_or_null(const T& value, int) -> decltype(device_pointers(value), bool()) {
  for (const void* pointer : device_pointers(value))
    if (!on_device_or_null(pointer, 0)) return false;
  return true;
}
template <typename T>
bool on_device_or_null(const T&, long) {
  return true;
}

}  // namespace emulator

template <typename... Params, typename... Args>
void launch_clustered(void (*kernel)(Params...), dim3 grid, dim3 block, unsigned cluster, size_t shared_bytes,
                      cudaStream_t stream, Args... args) {
  const bool pointers_on_device = (emulator::on_device_or_null(args, 0) && ...);
  emulator::run_grid(reinterpret_cast<const void*>(kernel), grid, block, cluster, shared_bytes, stream,
                     pointers_on_device, [=] { kernel(args...); });  // copies: a captured launch runs later
  GPCNN_LAUNCHED();
}

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args... args) {
  launch_clustered(kernel, grid, block, 1, shared_bytes, stream, args...);
}

// Kernels run one after another here: nothing to overlap.
template <typename... Params, typename... Args>
void launch_overlapped(bool, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                       cudaStream_t stream, Args... args) {
  launch(kernel, grid, block, shared_bytes, stream, args...);
}
inline void wait_for_previous_kernel() {}
inline void let_next_kernel_start() {}

template <typename T>
T* dynamic_shared() {
  return static_cast<T*>(emulator::dynamic_shared_memory());
}

// The emulated device runs two clusters at once, so that larger batches take clusters
// of several tiles of images, as a device with few multiprocessors would.
template <typename... Params>
int max_active_clusters(void (*)(Params...), dim3, unsigned, size_t) {
  return 2;
}

inline unsigned cluster_rank() { return emulator::cluster_rank(); }
inline void cluster_arrive() { emulator::cluster_arrive(); }
inline void cluster_wait() { emulator::cluster_wait(); }
inline void cluster_sync() { cluster_arrive(), cluster_wait(); }
template <typename T>
T* cluster_shared(T* local, unsigned rank) {
  return static_cast<T*>(emulator::cluster_shared_memory(local, rank));
}

}  // namespace gpcnn
