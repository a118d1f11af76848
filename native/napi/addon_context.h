// Per-addon state, stored as the environment's instance data: the backend that
// owns every tensor of this addon, and the JS class that wraps them.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/backend.h"

namespace gpcnn {

struct AddonContext {
  std::unique_ptr<Backend> backend;
  Napi::FunctionReference tensor_class;
};

inline AddonContext& context(Napi::Env env) { return *env.GetInstanceData<AddonContext>(); }
inline Backend& backend(Napi::Env env) { return *context(env).backend; }

// Builds the addon's exports around a backend; each addon's entry point calls this.
Napi::Object init_addon(Napi::Env env, Napi::Object exports, std::unique_ptr<Backend> backend);

}  // namespace gpcnn
