// Every kernel launch goes through launch(), which checks it at once, and every
// kernel finds its dynamic shared memory through dynamic_shared(). Built with
// GPCNN_CUDA_EMULATOR, both come from the CPU emulator instead (native/cuda_emu), so
// that the same kernels run, and are tested, on machines without a GPU.
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
