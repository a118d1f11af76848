// Training steps as CUDA graphs: the ops of a step are captured once from the
// backend's stream and replayed, so that a step costs the host one launch instead of
// a few hundred native calls (on the H200 those calls, cuDNN's above all, took longer
// than the kernels they queued).
//
// Memory: a replay reads and writes the addresses the captured ops used. So what the
// ops allocate during the capture comes from an allocator of the graph's own, which
// nothing else uses while the graph lives; the graph holds every tensor the recorded
// ops were given (they may be disposed at any time) and the cuDNN workspace it was
// captured with; and blocks of the backend's pool freed during the capture are parked
// until the graph goes.
#include <thread>

#include "../core/errors.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "cudnn_conv.h"
#include "device_sync.h"

namespace gpcnn {

namespace {

// The graph's memory: no guard regions (filling them would queue work on the legacy
// stream in the middle of the capture), and nothing freed while the graph lives, not
// even when memory runs out during the capture (the capture then fails). All of it
// counts as allocated in the backend's memory usage.
std::unique_ptr<CachingAllocator> capture_allocator_for_graph(std::shared_ptr<MemoryCounter> counter) {
  return std::make_unique<CachingAllocator>(
      device_allocate, [](void* data) { synchronize_and_free(data), (void)cudaGetLastError(); },
      ~size_t{0}, codes::kCudaOutOfMemory, "device", CachingAllocator::Guards{},
      /*idle_blocks_in_use=*/true, std::move(counter));
}

class CudaGraphReplay final : public CapturedWork {
 public:
  CudaGraphReplay(cudaGraphExec_t exec, cudaStream_t stream, std::unique_ptr<CachingAllocator> memory,
                  CachingAllocator::Parked parked, std::vector<std::shared_ptr<Buffer>> retained)
      : exec_(exec), stream_(stream), memory_(std::move(memory)), parked_(std::move(parked)),
        retained_(std::move(retained)) {}
  CudaGraphReplay(const CudaGraphReplay&) = delete;
  CudaGraphReplay& operator=(const CudaGraphReplay&) = delete;
  ~CudaGraphReplay() override {
    // A replay still queued may use the memory given back below. (The whole device: the
    // backend's stream may be gone already when a handle is finalized at exit. A failure
    // here has no one to go to; a sticky fault reports itself at the next call.)
    synchronize_device();
    cudaGraphExecDestroy(exec_);
    (void)cudaGetLastError();
  }

  void replay() override {
    ensure_device_usable();
    GPCNN_CUDA(cudaGraphLaunch(exec_, stream_));
  }

 private:
  cudaGraphExec_t exec_;
  cudaStream_t stream_;
  // Destroyed in reverse order: the retained tensors and the parked blocks go back to
  // the pool before the graph's own memory is freed.
  std::unique_ptr<CachingAllocator> memory_;
  CachingAllocator::Parked parked_;
  std::vector<std::shared_ptr<Buffer>> retained_;  // the recorded ops' tensors and the cuDNN workspace
};

}  // namespace

CachingAllocator* CudaBackend::capture_allocator() const {
  return capture_ && capture_->thread == std::this_thread::get_id() ? capture_->allocator.get() : nullptr;
}

void CudaBackend::begin_capture() {
  ensure_device_usable();
  if (capture_) fail(codes::kArg, "a capture is already in progress");
  auto capture = std::make_unique<Capture>(Capture{exclude_device_synchronization(), std::this_thread::get_id(),
                                                   capture_allocator_for_graph(allocator_.memory()), {}});
  // The graph's memory is its own: the pool's idle blocks go back to the device first,
  // so that a step's memory is not held twice.
  allocator_.release_cached();
  allocator_.start_parking();
  // Relaxed: the graph's allocator may cudaMalloc while the stream captures.
  const cudaError_t began = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed);
  if (began != cudaSuccess) {
    allocator_.stop_parking();  // nothing was recorded: the parked blocks go back at once
    cuda_fail(began, "cudaStreamBeginCapture", __FILE__, __LINE__);
  }
  capture_ = std::move(capture);
}

std::unique_ptr<CapturedWork> CudaBackend::end_capture() {
  if (!capture_) fail(codes::kArg, "no capture is in progress");
  std::unique_ptr<Capture> capture = std::move(capture_);
  CachingAllocator::Parked parked = allocator_.stop_parking();
  cudaGraph_t graph = nullptr;
  GPCNN_CUDA(cudaStreamEndCapture(stream_, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  GPCNN_CUDA(instantiated);
  capture->retained.push_back(convolutions_->workspace_buffer());
  return std::make_unique<CudaGraphReplay>(exec, stream_, std::move(capture->allocator), std::move(parked),
                                           std::move(capture->retained));
}

void CudaBackend::retain_for_capture(const std::shared_ptr<Buffer>& buffer) {
  if (capture_ && capture_->thread == std::this_thread::get_id()) capture_->retained.push_back(buffer);
}

void CudaBackend::abort_capture() {
  if (!capture_) return;
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(stream_, &graph);  // leaves capture mode; an invalidated capture has no graph
  if (graph) cudaGraphDestroy(graph);
  (void)cudaGetLastError();
  // Nothing recorded will run: the memory goes back at once.
  capture_.reset();
  allocator_.stop_parking();
}

}  // namespace gpcnn
