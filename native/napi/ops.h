// Registration of the exported ops, one function per group of ops.
#pragma once

#include <napi.h>

#include "../core/sampler_job.h"

namespace gpcnn {

void register_conv_ops(Napi::Env env, Napi::Object exports);
void register_gate_ops(Napi::Env env, Napi::Object exports);
void register_conditioning_ops(Napi::Env env, Napi::Object exports);
void register_elementwise_ops(Napi::Env env, Napi::Object exports);
void register_head_ops(Napi::Env env, Napi::Object exports);
void register_loss_ops(Napi::Env env, Napi::Object exports);
void register_optimizer_ops(Napi::Env env, Napi::Object exports);
void register_capture_ops(Napi::Env env, Napi::Object exports);
void register_memory_ops(Napi::Env env, Napi::Object exports);
void register_file_lock(Napi::Env env, Napi::Object exports);
// sampleCached, running `runner` (the addon's cached sampler) on a worker thread.
void register_sample_ops(Napi::Env env, Napi::Object exports, SamplerRunner runner);

}  // namespace gpcnn
