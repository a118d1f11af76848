// GPCNN_HD marks code that compiles for both the host and the device: the pieces of
// the CUDA sampler's arithmetic that host code shares (native/core/sampler_layout.h).
#pragma once

#ifdef __CUDACC__
#define GPCNN_HD __host__ __device__
#else
#define GPCNN_HD
#endif

// Fully unrolls a loop over a register array in device code (constant indices keep the
// array in registers); the host compiler does as it likes.
#ifdef __CUDA_ARCH__
#define GPCNN_UNROLL _Pragma("unroll")
#else
#define GPCNN_UNROLL
#endif
