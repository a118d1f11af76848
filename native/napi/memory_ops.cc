// memoryUsage() -> { allocated, reserved, peakAllocated, peakReserved } in bytes and cachedPlans,
// resetPeakMemory(), releaseCachedMemory(): what the backend's allocators hold
// (core/memory_usage.h), for diagnosis and the benchmarks' peak memory.
#include "addon_context.h"
#include "guard.h"
#include "ops.h"

namespace gpcnn {

namespace {

Napi::Value memory_usage(const Napi::CallbackInfo& info) {
  const MemoryUsage usage = backend(info.Env()).memory_usage();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("allocated", double(usage.allocated));
  result.Set("reserved", double(usage.reserved));
  result.Set("peakAllocated", double(usage.peak_allocated));
  result.Set("peakReserved", double(usage.peak_reserved));
  result.Set("cachedPlans", double(usage.cached_plans));
  return result;
}

Napi::Value reset_peak_memory(const Napi::CallbackInfo& info) {
  backend(info.Env()).reset_peak_memory();
  return info.Env().Undefined();
}

Napi::Value release_cached_memory(const Napi::CallbackInfo& info) {
  backend(info.Env()).release_cached_memory();
  return info.Env().Undefined();
}

}  // namespace

void register_memory_ops(Napi::Env env, Napi::Object exports) {
  export_function<memory_usage>(env, exports, "memoryUsage");
  export_function<reset_peak_memory>(env, exports, "resetPeakMemory");
  export_function<release_cached_memory>(env, exports, "releaseCachedMemory");
}

}  // namespace gpcnn
