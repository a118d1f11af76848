// RAII owners of the CUDA and cuDNN resources of a job that runs on its own stream
// (the cached sampler): device arrays, the stream, events, a drain on exit, the thread's
// cuDNN handle, and a captured graph. Each releases what it holds when it goes, whatever
// stopped the job.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "cuda_check.h"
#include "device_sync.h"

namespace gpcnn {

// Device memory owned for the length of one job.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(int64_t count) : count_(count) {
    if (count > 0) GPCNN_CUDA(cudaMalloc(&data_, count * sizeof(T)));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    // Nothing to report from a destructor (a fault already threw); cudaFree synchronizes the device.
    if (data_) synchronizing([this] { return cudaFree(data_); });
  }
  T* get() const { return data_; }
  // `host` must hold count() values and stay alive until the stream is synchronized.
  void upload(const std::vector<T>& host, cudaStream_t stream) {
    if (count_ > 0) GPCNN_CUDA(cudaMemcpyAsync(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void zero(cudaStream_t stream) {
    if (count_ > 0) GPCNN_CUDA(cudaMemsetAsync(data_, 0, count_ * sizeof(T), stream));
  }
  void download(std::vector<T>& host, cudaStream_t stream) const {
    host.resize(count_);
    if (count_ > 0) GPCNN_CUDA(cudaMemcpyAsync(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }

 private:
  T* data_ = nullptr;
  int64_t count_;
};

// This worker thread's stream for sampling jobs, made at its first and kept, as the
// handles below: a job runs on a worker thread, so concurrent jobs have streams of their
// own, and a job queues nothing that outlives it (DrainOnExit). Making one per job
// cost a batch about 2 ms of host time on an H200's host.
inline cudaStream_t thread_stream() {
  thread_local const cudaStream_t stream = [] {
    cudaStream_t created = nullptr;
    GPCNN_CUDA(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;
  }();
  return stream;
}

// An event that work on a stream reaches, for waiting on part of what is queued.
class Event {
 public:
  Event() { GPCNN_CUDA(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(event_); }
  void record(cudaStream_t stream) { GPCNN_CUDA(cudaEventRecord(event_, stream)); }
  void wait() const { GPCNN_CUDA(cudaEventSynchronize(event_)); }

 private:
  cudaEvent_t event_ = nullptr;
};

// Declared after the buffers, so destroyed before them: when a job stops early (an
// error, a cancel), the queued kernels finish before their memory is freed.
class DrainOnExit {
 public:
  explicit DrainOnExit(cudaStream_t stream) : stream_(stream) {}
  DrainOnExit(const DrainOnExit&) = delete;
  DrainOnExit& operator=(const DrainOnExit&) = delete;
  ~DrainOnExit() { cudaStreamSynchronize(stream_); }

 private:
  cudaStream_t stream_;
};

// This worker thread's cuDNN handle, set to `stream`: a sampling job runs on a worker
// thread, beside whatever the backend's handle is doing. Made once per thread and never
// destroyed, as cuDNN advises: creating and destroying a handle synchronize the device
// (device_sync.h), and the thread pool's threads live as long as the process.
inline cudnnHandle_t thread_cudnn(cudaStream_t stream) {
  thread_local const cudnnHandle_t handle = [] {
    cudnnHandle_t created = nullptr;
    GPCNN_CUDNN(synchronizing([&created] { return cudnnCreate(&created); }));
    return created;
  }();
  GPCNN_CUDNN(cudnnSetStream(handle, stream));
  return handle;
}

// The work that `record` queues on `stream`, captured once as a CUDA graph and then
// launched as often as wanted: a replay spares the host a launch per kernel and the
// GPU the gaps between them.
class CapturedGraph {
 public:
  CapturedGraph(cudaStream_t stream, const std::function<void()>& record) {
    const auto no_device_synchronization = exclude_device_synchronization();  // device_sync.h
    GPCNN_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t graph = nullptr;
    try {
      record();
    } catch (...) {
      cudaStreamEndCapture(stream, &graph);  // leave capture mode; the first error is the one to report
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    GPCNN_CUDA(cudaStreamEndCapture(stream, &graph));
    const cudaError_t instantiated = cudaGraphInstantiate(&exec_, graph, 0);
    cudaGraphDestroy(graph);
    GPCNN_CUDA(instantiated);
  }
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  ~CapturedGraph() {
    if (exec_) cudaGraphExecDestroy(exec_);
  }
  void launch(cudaStream_t stream) const { GPCNN_CUDA(cudaGraphLaunch(exec_, stream)); }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace gpcnn
