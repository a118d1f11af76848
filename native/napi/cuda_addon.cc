// Entry point of the CUDA addon (gated_pixelcnn_cuda.node), and of its CPU emulation
// (gated_pixelcnn_cuda_emu.node, cmake/cuda-emulator.cmake). Loading it fails with
// the reason (no device, no driver) when no GPU answers, and the caller falls back
// to the CPU addon.
#include <cudnn.h>

#include "../cuda/cached_sampler.h"
#include "../cuda/cuda_backend.h"
#include "addon_context.h"
#include "guard.h"
#include "ops.h"

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  return gpcnn::with_coded_errors(env, [&] {
    auto backend = std::make_unique<gpcnn::CudaBackend>();
    Napi::Object features = Napi::Object::New(env);
    features.Set("device", backend->device_name());
    features.Set("computeCapability", Napi::Number::New(env, backend->compute_capability() / 10.0));
    const size_t cudnn = cudnnGetVersion();
    features.Set("cudnn", std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) + "." +
                              std::to_string(cudnn % 100));
    features.Set("tf32", Napi::Boolean::New(env, backend->tf32()));
#if GPCNN_CUBLAS
    features.Set("cublas", Napi::Boolean::New(env, true));
#else
    features.Set("cublas", Napi::Boolean::New(env, false));
#endif
    // Tags the CUDA addon's tensor handles: the CPU addon refuses them, and the reverse.
#ifdef GPCNN_CUDA_EMULATOR
    constexpr napi_type_tag kCudaTensorTag = {0x5b0e8c3f91a27d64ULL, 0x2f7d14c9e8b60a53ULL};
#else
    constexpr napi_type_tag kCudaTensorTag = {0x3c91d7a2e05b4f16ULL, 0x8e24b6c1f7a39d05ULL};
#endif
    gpcnn::init_addon(env, exports, std::move(backend), kCudaTensorTag);
    gpcnn::register_sample_ops(env, exports, gpcnn::run_cuda_cached_sampler);
    exports.Set("features", features);
    return exports;
  });
}

NODE_API_MODULE(gated_pixelcnn_cuda, init)
