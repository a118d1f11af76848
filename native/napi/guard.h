// Exported functions run inside guarded() (sampleCached, which only queues a worker,
// inside with_coded_errors): native errors become JS Errors carrying a stable `code`,
// so nothing thrown in C++ can crash the process.
#pragma once

#include <napi.h>

#include <chrono>
#include <new>

#include "../core/errors.h"
#include "host_timing.h"

namespace gpcnn {

inline Napi::Error coded_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

// Runs body, turning any C++ exception into a JS Error with a code.
template <typename Body>
auto with_coded_errors(Napi::Env env, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw coded_error(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw coded_error(env, codes::kOutOfMemory, "out of host memory");
  } catch (const std::exception& e) {
    throw coded_error(env, codes::kInternal, e.what());
  }
}

using Callback = Napi::Value (*)(const Napi::CallbackInfo&);

// The exported function's name comes as the callback's data (see export_function).
template <Callback body>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  if (!host_timing::enabled()) return with_coded_errors(info.Env(), [&] { return body(info); });
  // Timed whether the call returns or throws.
  struct Timer {
    const char* name;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    ~Timer() { host_timing::add(name, std::chrono::steady_clock::now() - started); }
  } timer{static_cast<const char*>(info.Data())};
  return with_coded_errors(info.Env(), [&] { return body(info); });
}

// `name` must be a string with static lifetime (a literal).
template <Callback body>
void export_function(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<guarded<body>>(env, name, const_cast<char*>(name)));
}

}  // namespace gpcnn
