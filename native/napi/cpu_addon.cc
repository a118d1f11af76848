// Entry point of the CPU addon (gated_pixelcnn_cpu.node).
#include <dnnl.hpp>
#include <omp.h>

#include "../cpu/cached_sampler.h"
#include "../cpu/cpu_backend.h"
#include "addon_context.h"
#include "ops.h"

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  // Tags the CPU addon's tensor handles (unique to this project and this addon).
  constexpr napi_type_tag kCpuTensorTag = {0x6a7f2c1e93b44d08ULL, 0xa1c5e0f3b2d94e77ULL};
  gpcnn::init_addon(env, exports, std::make_unique<gpcnn::CpuBackend>(), kCpuTensorTag);
  gpcnn::register_sample_ops(env, exports, gpcnn::run_cached_sampler);
  const dnnl_version_t* version = dnnl_version();
  Napi::Object features = Napi::Object::New(env);
  features.Set("onednn", std::to_string(version->major) + "." + std::to_string(version->minor) +
                             "." + std::to_string(version->patch));
  features.Set("threads", Napi::Number::New(env, omp_get_max_threads()));
  exports.Set("features", features);
  return exports;
}

NODE_API_MODULE(gated_pixelcnn_cpu, init)
