// The CUDA runtime as the CPU emulator provides it: the part of the API that the
// CUDA backend uses, with the runtime's semantics, and the device-code vocabulary
// (__global__, threadIdx, __syncthreads, atomics) for kernels compiled by the host
// compiler. One emulated device; its memory is host memory; streams run their work
// at once, in order. See native/cuda_emu/README.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

// ---- device code ----

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// A block's threads run as fibers of one host thread and the blocks one after
// another, so a function-local static is exactly one block's shared variable. Its
// section lets the emulator make it unwritten again before each block.
#define __shared__ static __attribute__((section("gpcnn_emu_shared")))

struct uint3 {
  unsigned x, y, z;
};
// CUDA's vector types, aligned to their size, so that a kernel moves two or four floats
// in one access.
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The running thread's coordinates, set by the emulator before it resumes a thread.
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

// Waits until every thread of the block has reached it; a thread that ends instead
// fails the launch.
void __syncthreads();
// Stops the launch with cudaErrorLaunchFailure, a sticky fault, as on a device.
[[noreturn]] void __trap();

// Atomics: one host thread runs every emulated thread, so a plain update is atomic.
inline int atomicMin(int* address, int value) {
  const int old = *address;
  *address = std::min(old, value);
  return old;
}

// A load that bypasses L1 (data other blocks of a cluster wrote): plain memory here.
template <typename T>
T __ldcg(const T* address) {
  return *address;
}

using std::max;
using std::min;

// ---- runtime ----

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorECCUncorrectable = 214,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchTimeout = 702,
  cudaErrorHardwareStackError = 714,
  cudaErrorIllegalInstruction = 715,
  cudaErrorMisalignedAddress = 716,
  cudaErrorInvalidAddressSpace = 717,
  cudaErrorInvalidPc = 718,
  cudaErrorLaunchFailure = 719,
  cudaErrorAssert = 710,
  cudaErrorIllegalState = 401,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
};

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int maxThreadsPerBlock;
  int major, minor;
  int multiProcessorCount;
};

struct EmulatedStream;
using cudaStream_t = EmulatedStream*;
constexpr unsigned cudaStreamNonBlocking = 1;
struct EmulatedEvent;
using cudaEvent_t = EmulatedEvent*;
constexpr unsigned cudaEventDisableTiming = 2;
struct EmulatedGraph;
using cudaGraph_t = EmulatedGraph*;
struct EmulatedGraphExec;
using cudaGraphExec_t = EmulatedGraphExec*;
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};

const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* props, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);
cudaError_t cudaDeviceSynchronize();

cudaError_t cudaMalloc(void** pointer, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** pointer, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFree(void* pointer);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* pointer, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

// Work runs when it is queued, so an event is complete once recorded.
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);

// Stream capture records kernel launches only (see device.cc); a graph launch runs them
// in order.
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

// Records a kernel's dynamic shared memory limit (the only attribute the backend sets);
// a launch asking more than 48 KiB without it fails, as on a device.
cudaError_t emulated_func_set_attribute(const void* kernel, cudaFuncAttribute attribute, int value);
template <typename Kernel>
cudaError_t cudaFuncSetAttribute(Kernel kernel, cudaFuncAttribute attribute, int value) {
  return emulated_func_set_attribute(reinterpret_cast<const void*>(kernel), attribute, value);
}

// A kernel's compiled form: the emulator's kernels are built for every architecture.
struct cudaFuncAttributes {
  int ptxVersion, binaryVersion;
};
template <typename Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Kernel) {
  *attributes = {90, 90};
  return cudaSuccess;
}
