// The emulated device: its memory, streams and errors, with the runtime's semantics,
// and the scheduler that runs kernels. Each thread of a block is a fiber (fiber.h) on
// the calling host thread; __syncthreads() switches back to the scheduler, which
// resumes the block's threads in turn until all have ended, so every thread reaches a
// barrier before any passes it. Blocks run one after another, except the blocks of a
// thread block cluster, which run together (their threads all fibers of one pass), so
// that they can wait for each other and read each other's shared memory. One launch
// at a time runs in the process.
#include <sanitizer/asan_interface.h>  // its macros do nothing unless built with -fsanitize=address
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fiber.h"
#include "launch.h"

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

// The bounds of the section that holds every __shared__ variable, from the linker; weak,
// so that a build without any is still linked.
extern "C" char __start_gpcnn_emu_shared[] __attribute__((weak));
extern "C" char __stop_gpcnn_emu_shared[] __attribute__((weak));

namespace gpcnn::emulator {

namespace {

constexpr size_t kDeviceBytes = size_t{16} << 30;  // memory the emulated device offers
constexpr int kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxGridY = 65535, kMaxGridZ = 65535;
constexpr size_t kDefaultSharedBytes = 48 * 1024, kMaxSharedBytesOptin = 227 * 1024;
constexpr int kMultiprocessors = 4;
constexpr unsigned kMaxClusterBlocks = 8;  // the portable limit
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
  std::set<EmulatedStream*> capturing;  // the streams recording a graph now
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
    // One stack per possible thread of a cluster, each above a guard page that turns an
    // overflow into a fault.
    stacks_ = static_cast<char*>(mmap(nullptr, kStackSlot * kMaxFibers, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    if (stacks_ == MAP_FAILED) std::abort();
    for (unsigned t = 0; t < kMaxFibers; ++t) mprotect(stacks_ + t * kStackSlot, kPageBytes, PROT_NONE);
    fibers_.resize(kMaxFibers);
  }

  static Scheduler& instance() {
    static Scheduler* s = new Scheduler;
    return *s;
  }

  // Runs the grid, `cluster` blocks at a time together (1: one after another);
  // cudaErrorLaunchFailure when a thread trapped or threads disagree about barriers,
  // cudaErrorIllegalAddress when a block wrote past its dynamic shared memory. `flip`
  // alternates from launch to launch (for clusters, from cluster launch to cluster
  // launch): the blocks, and the threads within each, run in one order or the
  // reverse, so that a missing barrier shows whichever thread writes first.
  cudaError_t run(dim3 grid, dim3 block, unsigned cluster, size_t shared_bytes, bool flip,
                  const std::function<void()>& thread) {
    thread_ = &thread;
    gridDim = grid, blockDim = block;
    threads_ = block.x * block.y * block.z;
    cluster_ = cluster;
    shared_bytes_ = shared_bytes;
    // Each block of a cluster has its own dynamic shared memory, then a guard.
    // Rounded to 16 bytes, as a device aligns every block's dynamic shared memory
    // (launch.cuh declares it __align__(16)): an odd count of doubles misaligned odd ranks.
    shared_stride_ = ((shared_bytes + kGuardBytes) / 16 + 1) * (16 / sizeof(double));
    ASAN_UNPOISON_MEMORY_REGION(shared_.data(), shared_.size() * sizeof(double));
    shared_.resize(shared_stride_ * cluster);
    for (unsigned rank = 0; rank < cluster; ++rank) {
      unsigned char* guard = block_shared(rank) + shared_bytes;
      std::memset(guard, kGuardPattern, kGuardBytes);
      ASAN_POISON_MEMORY_REGION(guard, kGuardBytes);
    }
    // Cluster launches cycle through both orders and both places to wait at a split
    // barrier (cluster_arrive), whatever else launches between them.
    if (cluster > 1) {
      flip = cluster_launches_ % 2 == 1;
      wait_at_arrival_ = cluster_launches_ / 2 % 2 == 1;
      ++cluster_launches_;
    }
    const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z, groups = blocks / cluster;
    for (uint64_t k = 0; k < groups; ++k) {
      first_block_ = (flip ? groups - 1 - k : k) * cluster;
      // Each block starts with shared memory that nothing wrote, as on a device.
      for (unsigned rank = 0; rank < cluster; ++rank) std::memset(block_shared(rank), kUnwrittenPattern, shared_bytes);
      poison_static_shared();
      flip_ = flip;
      if (!(cluster == 1 ? run_block() : run_cluster())) return cudaErrorLaunchFailure;
      for (unsigned rank = 0; rank < cluster; ++rank) {
        unsigned char* guard = block_shared(rank) + shared_bytes;
        ASAN_UNPOISON_MEMORY_REGION(guard, kGuardBytes);
        if (!intact(guard, kGuardBytes)) return cudaErrorIllegalAddress;
        ASAN_POISON_MEMORY_REGION(guard, kGuardBytes);
      }
    }
    return cudaSuccess;
  }

  // The halves of a cluster's barrier. A thread must alternate them. Where it waits
  // changes from launch to launch: at the arrival in some, so that what a block writes
  // between its arrival and its wait is not yet there for the others, and at the wait
  // in others, so that what a block reads before its wait is not yet written.
  void cluster_arrive() {
    if (fiber_ < 0 || cluster_ == 1) sync(true);  // traps: no cluster
    if (fibers_[fiber_].arrived) {
      std::fprintf(stderr, "CUDA emulator: a thread arrived at its cluster's barrier twice without waiting\n");
      trap();
    }
    fibers_[fiber_].arrived = true;
    if (wait_at_arrival_) sync(true);
  }
  void cluster_wait() {
    if (fiber_ < 0 || cluster_ == 1) sync(true);
    if (!fibers_[fiber_].arrived) {
      std::fprintf(stderr, "CUDA emulator: a thread waited at its cluster's barrier without arriving\n");
      trap();
    }
    fibers_[fiber_].arrived = false;
    if (!wait_at_arrival_) sync(true);
  }

  // __syncthreads() (block) or a cluster's barrier (cluster).
  void sync(bool cluster) {
    if (fiber_ < 0) std::abort();  // a barrier outside a kernel: an emulator bug
    if (direct_) {                 // see run_block
      std::fprintf(stderr, "CUDA emulator: thread %u of block %u reached a barrier that the block's first thread skipped\n",
                   threadIdx.x, blockIdx.x);
      trap();
    }
    if (cluster && cluster_ == 1) {
      std::fprintf(stderr, "CUDA emulator: a cluster barrier in a kernel launched without clusters\n");
      trap();
    }
    synced_ = true;
    fibers_[fiber_].waiting = cluster ? Wait::kCluster : Wait::kBlock;
    fiber_switch(fibers_[fiber_].context, scheduler_);
  }

  [[noreturn]] void trap() {
    std::fprintf(stderr, "CUDA emulator: thread (%u, %u, %u) of block (%u, %u, %u) trapped\n", threadIdx.x,
                 threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z);
    trapped_ = true;
    fiber_switch(fibers_[fiber_].context, scheduler_);
    std::abort();  // a trapped fiber is never resumed
  }

  // The running block's dynamic shared memory.
  void* shared() { return block_shared(rank_); }

  unsigned cluster_rank() const { return rank_; }

  // What `local`, in the running block's dynamic shared memory, is in block `rank` of
  // its cluster; a pointer elsewhere, or a rank outside the cluster, traps.
  void* cluster_shared(const void* local, unsigned rank) {
    const unsigned char* own = block_shared(rank_);
    const auto* at = static_cast<const unsigned char*>(local);
    const size_t bytes = shared_stride_ * sizeof(double) - kGuardBytes;
    if (rank >= cluster_ || at < own || at >= own + bytes) {
      std::fprintf(stderr, "CUDA emulator: block rank %u of a cluster of %u asked for rank %u's shared memory at %p\n",
                   rank_, cluster_, rank, local);
      trap();
    }
    return block_shared(rank) + (at - own);
  }

 private:
  enum class Wait { kNone, kBlock, kCluster };
  struct ThreadFiber {
    FiberContext context;
    bool finished = false;
    Wait waiting = Wait::kNone;
    bool arrived = false;  // at its cluster's barrier, not yet waited
  };

  static constexpr unsigned kMaxFibers = kMaxClusterBlocks * kMaxThreadsPerBlock;
  static constexpr size_t kStackSlot = kPageBytes + kStackBytes;

  unsigned char* block_shared(unsigned rank) {
    return reinterpret_cast<unsigned char*>(shared_.data() + size_t(rank) * shared_stride_);
  }

  // Every fiber starts here: one thread, or in direct mode all but the first one after another.
  [[noreturn]] static void entry() {
    Scheduler& s = instance();
    if (s.direct_) {
      for (unsigned k = 1; k < s.threads_; ++k) s.run_thread(s.order(k));
    } else {
      (*s.thread_)();
    }
    s.fibers_[s.fiber_].finished = true;
    fiber_switch(s.fibers_[s.fiber_].context, s.scheduler_);
    std::abort();  // a finished fiber is never resumed
  }

  // Whether block `rank` of the running group runs its threads from the last to the
  // first: odd blocks run the other way round to even ones, and a flipped launch
  // reverses both.
  bool reversed(unsigned rank) const { return ((first_block_ + rank) % 2 == 1) != flip_; }
  // The k-th thread of block `rank` to run, by linear index.
  unsigned order(unsigned k, unsigned rank = 0) const { return reversed(rank) ? threads_ - 1 - k : k; }

  // Fiber f is thread f % threads_ of the group's block f / threads_.
  void set_thread(unsigned f) {
    const unsigned t = f % threads_;
    rank_ = f / threads_;
    const uint64_t b = first_block_ + rank_;
    blockIdx = {unsigned(b % gridDim.x), unsigned(b / gridDim.x % gridDim.y),
                unsigned(b / (uint64_t(gridDim.x) * gridDim.y))};
    threadIdx = {t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
  }

  void run_thread(unsigned t) {
    set_thread(t);
    (*thread_)();
  }

  void start(unsigned f) {
    fibers_[f].finished = false;
    fibers_[f].waiting = Wait::kNone;
    fibers_[f].arrived = false;
    fiber_prepare(fibers_[f].context, stacks_ + f * kStackSlot + kPageBytes, kStackBytes, entry);
  }

  // Runs fiber f until it reaches a barrier, traps or ends.
  void resume(unsigned f) {
    fiber_ = int(f);
    if (!direct_) set_thread(f);
    fibers_[f].waiting = Wait::kNone;
    fiber_switch(scheduler_, fibers_[f].context);
    fiber_ = -1;
  }

  // The first thread (in this block's order) runs first. When it ends without reaching
  // a barrier, the kernel has none (one that another thread reaches is a bug, and
  // traps), and the other threads run one after another on one fiber, which is much
  // faster. Otherwise each thread has its own fiber, and each pass runs every live
  // thread to its next barrier or its end, so no thread passes a barrier before all
  // have reached it; after a pass all must wait at a barrier or all have ended.
  bool run_block() {
    trapped_ = synced_ = direct_ = false;
    rank_ = 0;
    const unsigned first = order(0);
    start(first);
    resume(first);
    if (trapped_) return false;
    if (fibers_[first].finished && !synced_) {
      if (threads_ == 1) return true;
      const unsigned helper = order(1);  // its fiber runs threads order(1), order(2), …
      direct_ = true;
      start(helper);
      resume(helper);
      direct_ = false;
      return !trapped_;
    }
    for (unsigned k = 1; k < threads_; ++k) start(order(k));
    for (unsigned from = 1;; from = 0) {  // the first thread has run its part of the first pass
      for (unsigned k = from; k < threads_; ++k) {
        const unsigned t = order(k);
        if (fibers_[t].finished) continue;
        resume(t);
        if (trapped_) return false;
      }
      unsigned waiting = 0;
      for (unsigned t = 0; t < threads_; ++t) waiting += !fibers_[t].finished;
      if (waiting == 0) return true;
      if (waiting < threads_) {
        std::fprintf(stderr, "CUDA emulator: in block (%u, %u, %u), %u threads wait at a barrier that %u ended without\n",
                     blockIdx.x, blockIdx.y, blockIdx.z, waiting, threads_ - waiting);
        return false;
      }
    }
  }

  // A cluster's blocks together. Each block in turn runs as far as it can alone: its
  // threads pass its __syncthreads() barriers as run_block's do, until every one waits
  // at the cluster's barrier or has ended. Then all pass that barrier together. So a
  // block runs a whole stage ahead of the others between cluster barriers, and a
  // missing one shows as a read of what another block has not yet written (or no longer
  // holds: an ended block's shared memory is made unwritten). Threads of
  // a block that split between barriers, or between a barrier and their end, fail the
  // launch, as does a block that ends while others wait at the cluster's barrier.
  bool run_cluster() {
    trapped_ = synced_ = direct_ = false;
    const unsigned fibers = cluster_ * threads_;
    for (unsigned f = 0; f < fibers; ++f) start(f);
    for (;;) {
      unsigned at_cluster = 0, ended = 0;
      for (unsigned k = 0; k < cluster_; ++k) {
        const unsigned rank = flip_ ? cluster_ - 1 - k : k;
        unsigned block_at_cluster = 0, block_ended = 0;
        for (;;) {
          for (unsigned q = 0; q < threads_; ++q) {
            const unsigned f = rank * threads_ + order(q, rank);
            if (fibers_[f].finished || fibers_[f].waiting != Wait::kNone) continue;
            resume(f);
            if (trapped_) return false;
          }
          unsigned at_block = 0;
          block_at_cluster = block_ended = 0;
          for (unsigned t = 0; t < threads_; ++t) {
            const ThreadFiber& fiber = fibers_[rank * threads_ + t];
            block_ended += fiber.finished;
            at_block += fiber.waiting == Wait::kBlock;
            block_at_cluster += fiber.waiting == Wait::kCluster;
          }
          if (at_block == threads_) {
            for (unsigned t = 0; t < threads_; ++t) fibers_[rank * threads_ + t].waiting = Wait::kNone;
            continue;
          }
          // A block that has ended has no shared memory left: another block that reads
          // it afterwards reads what nothing wrote.
          if (block_ended == threads_) std::memset(block_shared(rank), kUnwrittenPattern, shared_bytes_);
          if (block_at_cluster != threads_ && block_ended != threads_) {
            std::fprintf(stderr, "CUDA emulator: in block rank %u of a cluster, %u threads wait at __syncthreads(), "
                         "%u at the cluster's barrier and %u ended\n", rank, at_block, block_at_cluster, block_ended);
            return false;
          }
          break;
        }
        at_cluster += block_at_cluster, ended += block_ended;
      }
      if (ended == fibers) return true;
      if (at_cluster != fibers) {
        std::fprintf(stderr, "CUDA emulator: %u threads of a cluster wait at its barrier and %u ended without it\n",
                     at_cluster, ended);
        return false;
      }
      for (unsigned f = 0; f < fibers; ++f) fibers_[f].waiting = Wait::kNone;
    }
  }

  // Every `__shared__` variable (a static in section gpcnn_emu_shared, see cuda_runtime.h)
  // starts each block unwritten. (One copy serves the blocks of a cluster too, so cluster
  // kernels keep their shared data in dynamic shared memory.)
  static void poison_static_shared() {
    if (&__start_gpcnn_emu_shared != nullptr)
      std::memset(__start_gpcnn_emu_shared, kUnwrittenPattern, __stop_gpcnn_emu_shared - __start_gpcnn_emu_shared);
  }

  char* stacks_ = nullptr;
  std::vector<ThreadFiber> fibers_;
  FiberContext scheduler_;
  const std::function<void()>* thread_ = nullptr;
  unsigned threads_ = 0;   // per block
  unsigned cluster_ = 1;   // blocks that run together
  uint64_t first_block_ = 0;  // the running group's first block, linear index
  unsigned rank_ = 0;      // the running thread's block within the group
  int fiber_ = -1;         // the running fiber, or −1 in the scheduler
  bool trapped_ = false;
  bool synced_ = false;    // a thread of this block reached a barrier
  bool direct_ = false;    // all threads but the first run one after another on one fiber
  bool flip_ = false;      // this launch runs its groups, blocks and threads in reverse
  bool wait_at_arrival_ = false;  // a split cluster barrier makes threads wait at the arrival
  uint64_t cluster_launches_ = 0;
  size_t shared_bytes_ = 0;     // dynamic shared memory per block
  size_t shared_stride_ = 0;    // doubles per block: its dynamic shared memory and guard
  std::vector<double> shared_;  // dynamic shared memory, aligned for doubles, a block after another
};

}  // namespace

}  // namespace gpcnn::emulator

// Work that a stream capture recorded, run when its graph is launched: a kernel
// launch, or (kernel null) other work such as a cuDNN call or a copy.
struct RecordedLaunch {
  const void* kernel;
  dim3 grid, block;
  unsigned cluster;  // blocks per cluster
  size_t shared_bytes;
  bool pointers_on_device;
  std::function<void()> thread;
  std::function<cudaError_t()> other;
};

// Work runs when it is queued, so a stream is a handle, and, while it captures, the
// work it records (a synchronization, or a copy from or to the host, fails and
// invalidates the capture).
struct EmulatedStream {
  bool capturing = false, invalidated = false;
  std::vector<RecordedLaunch> captured;
};
struct EmulatedGraph {
  std::vector<RecordedLaunch> launches;
};
struct EmulatedGraphExec {
  std::vector<RecordedLaunch> launches;
};

namespace gpcnn::emulator {

namespace {

// A launch's configuration, checked as the runtime checks it when the launch is made.
cudaError_t check_configuration(const void* kernel, dim3 grid, dim3 block, unsigned cluster, size_t shared_bytes) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const bool valid = grid.x >= 1 && grid.y >= 1 && grid.y <= kMaxGridY && grid.z >= 1 && grid.z <= kMaxGridZ &&
                     grid.x <= 0x7fffffffu && block.x >= 1 && block.y >= 1 && block.z >= 1 && block.x <= 1024 &&
                     block.y <= 1024 && block.z <= 64 && threads <= uint64_t(kMaxThreadsPerBlock);
  if (!valid) return cudaErrorInvalidConfiguration;
  // Clusters along x: the grid a whole number of them, at most the portable size.
  if (cluster < 1 || cluster > kMaxClusterBlocks || grid.x % cluster != 0) return cudaErrorInvalidConfiguration;
  auto limit = state().shared_limits.find(kernel);
  if (shared_bytes > (limit == state().shared_limits.end() ? kDefaultSharedBytes : limit->second))
    return cudaErrorInvalidValue;
  return cudaSuccess;
}

// Runs a launch whose configuration was checked; the caller holds the state's lock.
void execute(const RecordedLaunch& launch) {
  if (state().sticky != cudaSuccess) {
    result(state().sticky);
    return;
  }
  if (!launch.pointers_on_device) {
    std::fprintf(stderr, "CUDA emulator: a kernel was given a pointer to memory that is not the device's\n");
    result(state().sticky = cudaErrorIllegalAddress);
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
  const cudaError_t error =
      Scheduler::instance().run(launch.grid, launch.block, launch.cluster, launch.shared_bytes, launches % 2 == 0,
                                launch.thread);
  if (error == cudaErrorIllegalAddress) out_of_bounds("the dynamic shared memory at", dynamic_shared_memory());
  if (error == cudaErrorLaunchFailure) result(state().sticky = cudaErrorLaunchFailure);
}

}  // namespace

void run_grid(const void* kernel, dim3 grid, dim3 block, unsigned cluster, size_t shared_bytes, cudaStream_t stream,
              bool pointers_on_device, std::function<void()> thread) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (state().sticky != cudaSuccess) {
    result(state().sticky);
    return;
  }
  if (const cudaError_t error = check_configuration(kernel, grid, block, cluster, shared_bytes); error != cudaSuccess) {
    result(error);
    return;
  }
  RecordedLaunch launch{kernel, grid, block, cluster, shared_bytes, pointers_on_device, std::move(thread), {}};
  if (stream && stream->capturing) {
    if (refuse_uncaptured("kernels", stream) == cudaSuccess) stream->captured.push_back(std::move(launch));
    return;
  }
  execute(launch);
}

bool capturing(cudaStream_t stream) { return stream && stream->capturing; }

cudaError_t run_or_record(cudaStream_t stream, std::function<cudaError_t()> work) {
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    if (state().sticky != cudaSuccess) return result(state().sticky);
    if (stream && stream->capturing) {
      stream->captured.push_back(RecordedLaunch{nullptr, {}, {}, 1, 0, true, {}, std::move(work)});
      return cudaSuccess;
    }
  }
  return work();
}

// A synchronization, or a copy between host and device, on a capturing stream fails and
// invalidates the capture, as on a device.
cudaError_t refuse_during_capture(cudaStream_t stream) {
  if (!capturing(stream)) return cudaSuccess;
  stream->invalidated = true;
  return result(cudaErrorStreamCaptureUnsupported);
}

cudaError_t refuse_uncaptured(const char* library, cudaStream_t stream) {
  const char* listed = std::getenv("GATED_PIXELCNN_EMULATOR_UNCAPTURED");  // read at each call: tests change it
  if (!listed || !capturing(stream)) return cudaSuccess;
  std::stringstream names(listed);
  for (std::string name; std::getline(names, name, ',');)
    if (name == library) return refuse_during_capture(stream);
  return cudaSuccess;
}

void* dynamic_shared_memory() { return Scheduler::instance().shared(); }

unsigned cluster_rank() { return Scheduler::instance().cluster_rank(); }

void cluster_arrive() { Scheduler::instance().cluster_arrive(); }

void cluster_wait() { Scheduler::instance().cluster_wait(); }

void* cluster_shared_memory(const void* local, unsigned rank) {
  return Scheduler::instance().cluster_shared(local, rank);
}

bool device_holds(const void* at, size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  return on_device(at, bytes);
}

cudaError_t sticky_fault() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sticky;
}

// Called with the state's mutex held.
static cudaError_t refuse_while_any_captures() {
  if (state().capturing.empty()) return cudaSuccess;
  for (EmulatedStream* stream : state().capturing) stream->invalidated = true;
  return result(cudaErrorStreamCaptureUnsupported);
}

cudaError_t synchronize_whole_device() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return refuse_while_any_captures();
}

}  // namespace gpcnn::emulator

// The runtime's API, outside any namespace as in cuda_runtime.h.
using namespace gpcnn::emulator;

void __syncthreads() { Scheduler::instance().sync(false); }
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
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
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
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
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
  props->major = 9, props->minor = 0;  // thread block clusters (emulated) and programmatic launches (plain ones here)
  props->multiProcessorCount = kMultiprocessors;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (device != 0) return result(cudaErrorInvalidDevice);
  switch (attribute) {
    case cudaDevAttrMaxThreadsPerBlock: *value = kMaxThreadsPerBlock; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(kDefaultSharedBytes); return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = kMultiprocessors; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;  // as cudaGetDeviceProperties says
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

// While any stream captures, a device-wide synchronization fails and invalidates the
// captures, as on a device.
cudaError_t cudaDeviceSynchronize() {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (const cudaError_t refused = refuse_while_any_captures(); refused != cudaSuccess) return refused;
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
  // Under AddressSanitizer (scripts/asan-check.sh) a read of a guard is caught too.
  ASAN_POISON_MEMORY_REGION(base, kGuardBytes);
  ASAN_POISON_MEMORY_REGION(data + bytes, rounded - bytes + kGuardBytes);
  state().allocations[reinterpret_cast<const char*>(data)] = bytes;
  state().allocated += rounded;
  *pointer = data;
  return cudaSuccess;
}

// It synchronizes the device first (refused while any stream captures).
cudaError_t cudaFree(void* pointer) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (!pointer) return cudaSuccess;
  if (const cudaError_t refused = refuse_while_any_captures(); refused != cudaSuccess) return refused;
  auto found = state().allocations.find(static_cast<const char*>(pointer));
  if (found == state().allocations.end()) return result(cudaErrorInvalidDevicePointer);
  const size_t bytes = found->second, rounded = padded_bytes(bytes);
  state().allocated -= rounded;
  state().allocations.erase(found);
  unsigned char* data = static_cast<unsigned char*>(pointer);
  ASAN_UNPOISON_MEMORY_REGION(data - kGuardBytes, rounded + 2 * kGuardBytes);
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

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (kind == cudaMemcpyDeviceToDevice)
    return gpcnn::emulator::run_or_record(stream, [=] { return cudaMemcpy(dst, src, bytes, kind); });
  if (const cudaError_t error = refuse_during_capture(stream); error != cudaSuccess) return error;
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

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t stream) {
  return gpcnn::emulator::run_or_record(stream, [=] { return cudaMemset(pointer, value, bytes); });
}

// ---- streams and graphs ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new EmulatedStream;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    state().capturing.erase(stream);
  }
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (const cudaError_t error = refuse_during_capture(stream); error != cudaSuccess) return error;
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sticky != cudaSuccess ? result(state().sticky) : cudaSuccess;
}

struct EmulatedEvent {};

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new EmulatedEvent;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return result(cudaErrorInvalidValue);
  return refuse_during_capture(stream);
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return result(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sticky != cudaSuccess ? result(state().sticky) : cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (!stream || stream->capturing) return result(cudaErrorIllegalState);  // the legacy stream cannot capture
  stream->capturing = true, stream->invalidated = false, stream->captured.clear();
  state().capturing.insert(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  std::lock_guard<std::mutex> lock(state().mutex);
  *graph = nullptr;
  if (!stream || !stream->capturing) return result(cudaErrorIllegalState);
  stream->capturing = false;
  state().capturing.erase(stream);
  if (stream->invalidated) return result(cudaErrorStreamCaptureInvalidated);
  *graph = new EmulatedGraph{std::move(stream->captured)};
  stream->captured.clear();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!graph) return result(cudaErrorInvalidValue);
  *exec = new EmulatedGraphExec{graph->launches};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (const cudaError_t error = refuse_during_capture(stream); error != cudaSuccess) return error;
  for (const RecordedLaunch& launch : exec->launches) {
    if (launch.other) {  // takes the lock itself
      if (const cudaError_t error = launch.other(); error != cudaSuccess) return result(error);
      continue;
    }
    std::lock_guard<std::mutex> lock(state().mutex);
    execute(launch);
    if (state().sticky != cudaSuccess) return result(state().sticky);
  }
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
