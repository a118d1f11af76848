// GPCNN_HD marks code that compiles for both the host and the device: the CUDA
// sampler's kernels and the CPU's run of the same steps (native/core/sampler_steps.h).
#pragma once

#ifdef __CUDACC__
#define GPCNN_HD __host__ __device__
#else
#define GPCNN_HD
#endif
