// Every kernel launch goes through launch(), which checks it at once, and every
// kernel finds its dynamic shared memory through dynamic_shared(). Built with
// GPCNN_CUDA_EMULATOR, both come from the CPU emulator instead (native/cuda_emu), so
// that the same kernels run, and are tested, on machines without a GPU.
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

template <typename T>
__device__ T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char dynamic_shared_bytes[];
  return reinterpret_cast<T*>(dynamic_shared_bytes);
}

}  // namespace gpcnn
#endif
