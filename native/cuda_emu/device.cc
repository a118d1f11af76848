// The emulated device: its memory, streams and errors, with the runtime's semantics,
// and the scheduler that runs kernels. Each thread of a block is a fiber (fiber.h) on
// the calling host thread; __syncthreads() switches back to the scheduler, which
// resumes the block's threads in turn until all have ended, so every thread reaches a
// barrier before any passes it. Blocks run one after another, and one launch at a
// time runs in the process.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "fiber.h"
#include "launch.h"

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace gpcnn::emulator {

namespace {

constexpr size_t kDeviceBytes = size_t{16} << 30;  // memory the emulated device offers
constexpr int kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxGridY = 65535, kMaxGridZ = 65535;
constexpr size_t kDefaultSharedBytes = 48 * 1024, kMaxSharedBytesOptin = 227 * 1024;
constexpr int kMultiprocessors = 4;
constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kPageBytes = 4096;
// Bytes of a known pattern around every allocation and after the dynamic shared
// memory; a kernel that writes there has written out of bounds, a fault.
constexpr size_t kGuardBytes = 256;
constexpr unsigned char kGuardPattern = 0xCD;
// What fresh device memory and dynamic shared memory hold: NaN as floats, −1 as
// integers, so a kernel that reads what nothing wrote gets results that show it.
constexpr unsigned char kUnwrittenPattern = 0xFF;

struct EmulatorState {
  std::mutex mutex;
  std::map<const char*, size_t> allocations;  // start -> size of each live cudaMalloc
  std::map<const void*, size_t> shared_limits;  // kernel -> its opted-in dynamic shared memory
  size_t allocated = 0;
  cudaError_t sticky = cudaSuccess;  // a fault: every later call returns it
};

EmulatorState& state() {
  static EmulatorState* s = new EmulatorState;  // never destroyed: may be used during exit
  return *s;
}

thread_local cudaError_t last_error = cudaSuccess;

cudaError_t result(cudaError_t error) {
  if (error != cudaSuccess) last_error = error;
  return error;
}

bool intact(const unsigned char* guard, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    if (guard[i] != kGuardPattern) return false;
  return true;
}

// A write out of bounds found by a guard: sticky, as an illegal address is on a device.
// Called with the state's mutex held.
cudaError_t out_of_bounds(const char* where, const void* at) {
  std::fprintf(stderr, "CUDA emulator: a kernel wrote out of bounds of %s %p\n", where, at);
  state().sticky = cudaErrorIllegalAddress;
  return result(cudaErrorIllegalAddress);
}

// True when one live allocation holds [at, at + bytes).
bool on_device(const void* at, size_t bytes) {
  const char* p = static_cast<const char*>(at);
  auto& allocations = state().allocations;
  auto found = allocations.upper_bound(p);
  if (found == allocations.begin()) return false;
  --found;
  return p >= found->first && p + bytes <= found->first + found->second;
}

// ---- the scheduler ----

class Scheduler {
 public:
  Scheduler() {
    // One stack per possible thread, each above a guard page that turns an overflow into a fault.
    stacks_ = static_cast<char*>(mmap(nullptr, kStackSlot * kMaxThreadsPerBlock, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    if (stacks_ == MAP_FAILED) std::abort();
    for (int t = 0; t < kMaxThreadsPerBlock; ++t) mprotect(stacks_ + t * kStackSlot, kPageBytes, PROT_NONE);
    fibers_.resize(kMaxThreadsPerBlock);
  }

  static Scheduler& instance() {
    static Scheduler* s = new Scheduler;
    return *s;
  }

  // Returns cudaErrorLaunchFailure when a thread trapped, cudaErrorIllegalAddress
  // when a block wrote past its dynamic shared memory.
  cudaError_t run(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& thread) {
    thread_ = &thread;
    gridDim = grid, blockDim = block;
    shared_bytes_ = shared_bytes;
    shared_.resize((shared_bytes + kGuardBytes) / sizeof(double) + 1);
    unsigned char* bytes = reinterpret_cast<unsigned char*>(shared_.data());
    std::memset(bytes, kUnwrittenPattern, shared_bytes);
    std::memset(bytes + shared_bytes, kGuardPattern, kGuardBytes);
    threads_ = block.x * block.y * block.z;
    for (unsigned z = 0; z < grid.z; ++z)
      for (unsigned y = 0; y < grid.y; ++y)
        for (unsigned x = 0; x < grid.x; ++x) {
          blockIdx = {x, y, z};
          if (!run_block()) return cudaErrorLaunchFailure;
          if (!intact(reinterpret_cast<unsigned char*>(shared_.data()) + shared_bytes_, kGuardBytes))
            return cudaErrorIllegalAddress;
        }
    return cudaSuccess;
  }

  void sync() {
    if (fiber_ < 0) std::abort();  // __syncthreads outside a kernel: an emulator bug
    if (direct_) {                 // see run_block
      std::fprintf(stderr, "CUDA emulator: thread %u of block %u reached a barrier that thread 0 skipped\n",
                   threadIdx.x, blockIdx.x);
      trap();
    }
    synced_ = true;
    fiber_switch(fibers_[fiber_].context, scheduler_);
  }

  [[noreturn]] void trap() {
    std::fprintf(stderr, "CUDA emulator: thread (%u, %u, %u) of block (%u, %u, %u) trapped\n", threadIdx.x,
                 threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z);
    trapped_ = true;
    fiber_switch(fibers_[fiber_].context, scheduler_);
    std::abort();  // a trapped fiber is never resumed
  }

  void* shared() { return shared_.data(); }

 private:
  struct ThreadFiber {
    FiberContext context;
    bool finished = false;
  };

  static constexpr size_t kStackSlot = kPageBytes + kStackBytes;

  // Every fiber starts here: one thread, or in direct mode threads 1… one after another.
  [[noreturn]] static void entry() {
    Scheduler& s = instance();
    if (s.direct_) {
      for (unsigned t = 1; t < s.threads_; ++t) s.run_thread(t);
    } else {
      (*s.thread_)();
    }
    s.fibers_[s.fiber_].finished = true;
    fiber_switch(s.fibers_[s.fiber_].context, s.scheduler_);
    std::abort();  // a finished fiber is never resumed
  }

  void run_thread(unsigned t) {
    threadIdx = {t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
    (*thread_)();
  }

  void start(unsigned f) {
    fibers_[f].finished = false;
    fiber_prepare(fibers_[f].context, stacks_ + f * kStackSlot + kPageBytes, kStackBytes, entry);
  }

  // Runs fiber f until it reaches a barrier, traps or ends.
  void resume(unsigned f) {
    fiber_ = int(f);
    if (!direct_) threadIdx = {f % blockDim.x, f / blockDim.x % blockDim.y, f / (blockDim.x * blockDim.y)};
    fiber_switch(scheduler_, fibers_[f].context);
    fiber_ = -1;
  }

  // Thread 0 runs first. When it ends without reaching a barrier, the kernel has none
  // (one that some threads skip is a bug, and traps), and the other threads run one
  // after another on one fiber, which is much faster. Otherwise each thread has its
  // own fiber, and each pass runs every live thread to its next barrier or its end,
  // so no thread passes a barrier before all have reached it.
  bool run_block() {
    trapped_ = synced_ = direct_ = false;
    start(0);
    resume(0);
    if (trapped_) return false;
    if (fibers_[0].finished && !synced_) {
      direct_ = true;
      start(1);
      resume(1);
      direct_ = false;
      return !trapped_;
    }
    for (unsigned t = 1; t < threads_; ++t) start(t);
    // Odd blocks resume their threads in the reverse order: a missing barrier between
    // one thread's write and another's read shows in one order or the other.
    const bool reverse = (blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z)) % 2 == 1;
    for (unsigned first = 1;; first = 0) {  // thread 0 has run its part of the first pass
      bool live = !fibers_[0].finished;
      for (unsigned k = first; k < threads_; ++k) {
        const unsigned t = reverse ? threads_ - 1 - (k - first) : k;
        if (fibers_[t].finished) continue;
        resume(t);
        if (trapped_) return false;
        live = live || !fibers_[t].finished;
      }
      if (!live) return true;
    }
  }

  char* stacks_ = nullptr;
  std::vector<ThreadFiber> fibers_;
  FiberContext scheduler_;
  const std::function<void()>* thread_ = nullptr;
  unsigned threads_ = 0;
  int fiber_ = -1;        // the running fiber, or −1 in the scheduler
  bool trapped_ = false;
  bool synced_ = false;   // a thread of this block reached a barrier
  bool direct_ = false;   // threads 1… run one after another on one fiber
  std::vector<double> shared_;  // dynamic shared memory, aligned for doubles, then a guard
  size_t shared_bytes_ = 0;
};

}  // namespace

void run_grid(const void* kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
              const std::function<void()>& thread) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (state().sticky != cudaSuccess) {
    result(state().sticky);
    return;
  }
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const bool valid = grid.x >= 1 && grid.y >= 1 && grid.y <= kMaxGridY && grid.z >= 1 && grid.z <= kMaxGridZ &&
                     grid.x <= 0x7fffffffu && threads >= 1 && threads <= uint64_t(kMaxThreadsPerBlock);
  if (!valid) {
    result(cudaErrorInvalidConfiguration);
    return;
  }
  auto limit = state().shared_limits.find(kernel);
  if (shared_bytes > (limit == state().shared_limits.end() ? kDefaultSharedBytes : limit->second)) {
    result(cudaErrorInvalidValue);
    return;
  }
  // Tests make a launch fail on purpose, to check what follows a device fault.
  static const long fault_at = std::getenv("GATED_PIXELCNN_EMULATOR_FAULT_AT")
                                   ? std::atol(std::getenv("GATED_PIXELCNN_EMULATOR_FAULT_AT")) : 0;
  static long launches = 0;
  if (++launches == fault_at) {
    std::fprintf(stderr, "CUDA emulator: launch %ld fails, as GATED_PIXELCNN_EMULATOR_FAULT_AT asks\n", launches);
    result(state().sticky = cudaErrorLaunchFailure);
    return;
  }
  const cudaError_t error = Scheduler::instance().run(grid, block, shared_bytes, thread);
  if (error == cudaErrorIllegalAddress) out_of_bounds("the dynamic shared memory at", dynamic_shared_memory());
  if (error == cudaErrorLaunchFailure) result(state().sticky = cudaErrorLaunchFailure);
}

void* dynamic_shared_memory() { return Scheduler::instance().shared(); }

bool device_holds(const void* at, size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  return on_device(at, bytes);
}

cudaError_t sticky_fault() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sticky;
}

}  // namespace gpcnn::emulator

// The runtime's API, outside any namespace as in cuda_runtime.h.
using namespace gpcnn::emulator;

void __syncthreads() { Scheduler::instance().sync(); }
void __trap() { Scheduler::instance().trap(); }

// ---- errors ----

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    default: return "unknown error";
  }
}

cudaError_t cudaGetLastError() {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (state().sticky != cudaSuccess) return state().sticky;
  const cudaError_t error = last_error;
  last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sticky != cudaSuccess ? state().sticky : last_error;
}

// ---- the device ----

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* props, int device) {
  if (device != 0) return result(cudaErrorInvalidDevice);
  *props = {};
  std::strncpy(props->name, "CUDA emulator on the CPU", sizeof(props->name) - 1);
  props->totalGlobalMem = kDeviceBytes;
  props->sharedMemPerBlock = kDefaultSharedBytes;
  props->maxThreadsPerBlock = kMaxThreadsPerBlock;
  props->major = 8, props->minor = 0;
  props->multiProcessorCount = kMultiprocessors;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (device != 0) return result(cudaErrorInvalidDevice);
  switch (attribute) {
    case cudaDevAttrMaxThreadsPerBlock: *value = kMaxThreadsPerBlock; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(kDefaultSharedBytes); return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = kMultiprocessors; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(kMaxSharedBytesOptin); return cudaSuccess;
  }
  return result(cudaErrorInvalidValue);
}

cudaError_t emulated_func_set_attribute(const void* kernel, cudaFuncAttribute attribute, int value) {
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || size_t(value) > kMaxSharedBytesOptin)
    return result(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(state().mutex);
  state().shared_limits[kernel] = size_t(value);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sticky;
}

// ---- memory ----

static size_t padded_bytes(size_t bytes) { return (bytes + 255) / 256 * 256; }

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (state().sticky != cudaSuccess) return result(state().sticky);
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (bytes > kDeviceBytes - state().allocated) return result(cudaErrorMemoryAllocation);
  const size_t rounded = padded_bytes(bytes);
  unsigned char* base = static_cast<unsigned char*>(std::aligned_alloc(256, rounded + 2 * kGuardBytes));
  if (!base) return result(cudaErrorMemoryAllocation);
  unsigned char* data = base + kGuardBytes;
  std::memset(base, kGuardPattern, kGuardBytes);
  std::memset(data, kUnwrittenPattern, bytes);
  std::memset(data + bytes, kGuardPattern, rounded - bytes + kGuardBytes);
  state().allocations[reinterpret_cast<const char*>(data)] = bytes;
  state().allocated += rounded;
  *pointer = data;
  return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (!pointer) return cudaSuccess;
  auto found = state().allocations.find(static_cast<const char*>(pointer));
  if (found == state().allocations.end()) return result(cudaErrorInvalidDevicePointer);
  const size_t bytes = found->second, rounded = padded_bytes(bytes);
  state().allocated -= rounded;
  state().allocations.erase(found);
  unsigned char* data = static_cast<unsigned char*>(pointer);
  const bool ok = intact(data - kGuardBytes, kGuardBytes) && intact(data + bytes, rounded - bytes + kGuardBytes);
  std::free(data - kGuardBytes);
  return ok ? cudaSuccess : out_of_bounds("the device allocation at", pointer);
}

// Device ranges must lie inside one allocation, host ranges outside all of them.
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (state().sticky != cudaSuccess) return result(state().sticky);
  if (bytes == 0) return cudaSuccess;
  bool ok = false;
  switch (kind) {
    case cudaMemcpyHostToDevice: ok = on_device(dst, bytes) && !on_device(src, 1); break;
    case cudaMemcpyDeviceToHost: ok = on_device(src, bytes) && !on_device(dst, 1); break;
    case cudaMemcpyDeviceToDevice: ok = on_device(src, bytes) && on_device(dst, bytes); break;
    default: return result(cudaErrorInvalidMemcpyDirection);
  }
  if (!ok) return result(cudaErrorInvalidValue);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* pointer, int value, size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (state().sticky != cudaSuccess) return result(state().sticky);
  if (bytes == 0) return cudaSuccess;
  if (!on_device(pointer, bytes)) return result(cudaErrorInvalidValue);
  std::memset(pointer, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(pointer, value, bytes);
}

// ---- streams: work runs when it is queued, so a stream is only a handle ----

struct EmulatedStream {};

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new EmulatedStream;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sticky != cudaSuccess ? result(state().sticky) : cudaSuccess;
}
