// Four floats per access: where a pointer is 16-byte aligned (as the caching
// allocator's always are), a kernel can move a float4 at a time, so that each thread
// has 16 bytes in flight instead of 4 and memory stays busy.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace gpcnn {

__device__ inline bool quad_aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace gpcnn
