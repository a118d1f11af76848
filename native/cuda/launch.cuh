// Every kernel launch goes through launch(), which checks it at once, and every
// kernel finds its dynamic shared memory through dynamic_shared(). Built with
// GPCNN_CUDA_EMULATOR, both come from the CPU emulator instead (native/cuda_emu), so
// that the same kernels run, and are tested, on machines without a GPU.
//
// launch_clustered() launches thread block clusters (sm_90 on) of `cluster` blocks
// along x: a cluster's blocks run at once, wait for each other at cluster_sync() and
// read each other's shared memory through cluster_shared(). Elsewhere the cluster
// functions trap; the host launches clusters only where the device has them.
//
// launch_overlapped() is launch() with programmatic dependent launch (sm_90 on): the
// kernel may start while the one before it on the stream still runs, so that its
// launch and its first loads of constant data (weights) overlap that kernel's end. Such
// a kernel must call wait_for_previous_kernel() before it touches anything the kernel
// before it reads or writes; it may call let_next_kernel_start() at once, to let the
// next one start as early. Both are no-ops where there is no overlap (older GPUs, a
// plain launch, the emulator, which runs kernels one after another).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda_check.h"

#if !defined(GPCNN_CUDA_EMULATOR) && defined(__CUDACC__)
#include <cooperative_groups.h>
#endif

#ifdef GPCNN_CUDA_EMULATOR
#include "../cuda_emu/launch.h"
#else
namespace gpcnn {

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args... args) {
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
  GPCNN_LAUNCHED();
}

template <typename... Params, typename... Args>
void launch_overlapped(bool overlap, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                       cudaStream_t stream, Args... args) {
  if (!overlap) return launch(kernel, grid, block, shared_bytes, stream, args...);
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid, config.blockDim = block, config.dynamicSmemBytes = shared_bytes, config.stream = stream;
  config.attrs = &attribute, config.numAttrs = 1;
  GPCNN_CUDA(cudaLaunchKernelEx(&config, kernel, Params(args)...));
}

// A launch configuration of clusters of `cluster` blocks along x.
struct ClusterConfig {
  cudaLaunchAttribute attribute{};
  cudaLaunchConfig_t config{};
  ClusterConfig(dim3 grid, dim3 block, unsigned cluster, size_t shared_bytes, cudaStream_t stream) {
    attribute.id = cudaLaunchAttributeClusterDimension;
    attribute.val.clusterDim.x = cluster, attribute.val.clusterDim.y = 1, attribute.val.clusterDim.z = 1;
    config.gridDim = grid, config.blockDim = block, config.dynamicSmemBytes = shared_bytes, config.stream = stream;
    config.attrs = &attribute, config.numAttrs = 1;
  }
  ClusterConfig(const ClusterConfig&) = delete;  // config points at attribute
};

template <typename... Params, typename... Args>
void launch_clustered(void (*kernel)(Params...), dim3 grid, dim3 block, unsigned cluster, size_t shared_bytes,
                      cudaStream_t stream, Args... args) {
  const ClusterConfig launch(grid, block, cluster, shared_bytes, stream);
  GPCNN_CUDA(cudaLaunchKernelEx(&launch.config, kernel, Params(args)...));
}

// How many clusters of `cluster` blocks of the kernel the device runs at once (its
// dynamic shared memory limit must be set first).
template <typename... Params>
int max_active_clusters(void (*kernel)(Params...), dim3 block, unsigned cluster, size_t shared_bytes) {
  const ClusterConfig launch(cluster, block, cluster, shared_bytes, nullptr);
  int clusters = 0;
  GPCNN_CUDA(cudaOccupancyMaxActiveClusters(&clusters, kernel, &launch.config));
  return clusters;
}

__device__ inline unsigned cluster_rank() {
#if __CUDA_ARCH__ >= 900
  return cooperative_groups::this_cluster().block_rank();
#else
  __trap();
  return 0;
#endif
}

// The cluster's barrier in two halves, so that work that needs no other block's data
// can run between them: after cluster_arrive() (release: what this thread wrote before
// it is visible to the cluster after its wait), cluster_wait() (acquire) returns once
// every thread of the cluster has arrived. Each thread alternates them.
__device__ inline void cluster_arrive() {
#if __CUDA_ARCH__ >= 900
  __cluster_barrier_arrive();
#else
  __trap();
#endif
}

__device__ inline void cluster_wait() {
#if __CUDA_ARCH__ >= 900
  __cluster_barrier_wait();
#else
  __trap();
#endif
}

// Both halves at once.
__device__ inline void cluster_sync() { cluster_arrive(), cluster_wait(); }

template <typename T>
__device__ T* cluster_shared(T* local, unsigned rank) {
#if __CUDA_ARCH__ >= 900
  return cooperative_groups::this_cluster().map_shared_rank(local, rank);
#else
  __trap();
  return local;
#endif
}

template <typename T>
__device__ T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char dynamic_shared_bytes[];
  return reinterpret_cast<T*>(dynamic_shared_bytes);
}

__device__ inline void wait_for_previous_kernel() {
#if __CUDA_ARCH__ >= 900
  cudaGridDependencySynchronize();
#endif
}

__device__ inline void let_next_kernel_start() {
#if __CUDA_ARCH__ >= 900
  cudaTriggerProgrammaticLaunchCompletion();
#endif
}

}  // namespace gpcnn
#endif
