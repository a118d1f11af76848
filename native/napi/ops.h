// Registration of the exported ops, one function per group of ops.
#pragma once

#include <napi.h>

namespace gpcnn {

void register_conv_ops(Napi::Env env, Napi::Object exports);
void register_gate_ops(Napi::Env env, Napi::Object exports);
void register_conditioning_ops(Napi::Env env, Napi::Object exports);
void register_elementwise_ops(Napi::Env env, Napi::Object exports);
void register_head_ops(Napi::Env env, Napi::Object exports);
void register_loss_ops(Napi::Env env, Napi::Object exports);
void register_optimizer_ops(Napi::Env env, Napi::Object exports);
// CPU addon only: the cached sampler runs on host copies of the weights.
void register_sample_ops(Napi::Env env, Napi::Object exports);

}  // namespace gpcnn
