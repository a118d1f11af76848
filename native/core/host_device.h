// GPCNN_HD marks code that compiles for both the host and the device: the CUDA
// sampler's kernels and the CPU's run of the same steps (native/core/sampler_steps.h).
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
// Unrolls a loop over weights 8 times, so that 8 loads are in flight at once instead
// of one at a time (the sums keep their order). Only from sm_90: for sm_80 the cached
// sampler's kernel then spills registers.
#if __CUDA_ARCH__ >= 900
#define GPCNN_UNROLL_8 _Pragma("unroll 8")
#else
#define GPCNN_UNROLL_8
#endif
#else
#define GPCNN_UNROLL
#define GPCNN_UNROLL_8
#endif
