// Per-addon state, stored as the environment's instance data: the backend that
// owns every tensor of this addon, and the JS class that wraps them.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/backend.h"
#include "external_memory_hint.h"

namespace gpcnn {

struct AddonContext {
  std::unique_ptr<Backend> backend;
  Napi::FunctionReference tensor_class;
  // Tags this addon's tensor handles: each addon has its own, so a handle from
  // another addon (device memory, say) is refused instead of misread.
  napi_type_tag tensor_tag;
  // Shared with every handle, so that a handle finalized during teardown can still reach it.
  std::shared_ptr<ExternalMemoryHint> memory_hint = std::make_shared<ExternalMemoryHint>();
};

inline AddonContext& context(Napi::Env env) { return *env.GetInstanceData<AddonContext>(); }
inline Backend& backend(Napi::Env env) { return *context(env).backend; }

// Builds the addon's exports around a backend; each addon's entry point calls this
// with a type tag of its own.
Napi::Object init_addon(Napi::Env env, Napi::Object exports, std::unique_ptr<Backend> backend,
                        napi_type_tag tensor_tag);

}  // namespace gpcnn
