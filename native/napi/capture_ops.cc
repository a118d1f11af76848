// beginCapture(), endCapture() -> handle, abortCapture(), replayCapture(handle),
// disposeCapture(handle): work recorded once and replayed (Backend::begin_capture).
// A handle is an External tagged as this addon's, so that nothing else passes for one.
#include "../core/errors.h"
#include "addon_context.h"
#include "guard.h"
#include "ops.h"

namespace gpcnn {

namespace {

constexpr napi_type_tag kCaptureTag = {0x7a4c1e93d2b85f06ULL, 0x13f6a0c8e97d2b45ULL};

// dispose() frees the work at once; the finalizer frees the holder (and the work, if
// still held) when the handle is collected.
// `owner`: the backend that recorded the work (every addon tags its handles alike).
struct CapturedHolder {
  const Backend* owner;
  std::unique_ptr<CapturedWork> work;
};

CapturedHolder& holder_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal() || !info[0].As<Napi::External<CapturedHolder>>().CheckTypeTag(&kCaptureTag))
    fail(codes::kType, "capture must be a handle from endCapture()");
  CapturedHolder& holder = *info[0].As<Napi::External<CapturedHolder>>().Data();
  if (holder.owner != &backend(info.Env())) fail(codes::kType, "capture is a handle from another backend's endCapture()");
  return holder;
}

Napi::Value begin_capture(const Napi::CallbackInfo& info) {
  backend(info.Env()).begin_capture();
  return info.Env().Undefined();
}

Napi::Value end_capture(const Napi::CallbackInfo& info) {
  auto holder = std::make_unique<CapturedHolder>();
  holder->owner = &backend(info.Env());
  holder->work = backend(info.Env()).end_capture();
  auto handle = Napi::External<CapturedHolder>::New(info.Env(), holder.release(),
                                                    [](Napi::Env, CapturedHolder* h) { delete h; });
  handle.TypeTag(&kCaptureTag);
  return handle;
}

Napi::Value abort_capture(const Napi::CallbackInfo& info) {
  backend(info.Env()).abort_capture();
  return info.Env().Undefined();
}

Napi::Value replay_capture(const Napi::CallbackInfo& info) {
  CapturedHolder& holder = holder_arg(info);
  if (!holder.work) fail(codes::kDisposed, "the captured work was disposed");
  holder.work->replay();
  return info.Env().Undefined();
}

Napi::Value dispose_capture(const Napi::CallbackInfo& info) {
  holder_arg(info).work.reset();
  return info.Env().Undefined();
}

}  // namespace

void register_capture_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("canCapture", Napi::Boolean::New(env, backend(env).can_capture()));
  export_function<begin_capture>(env, exports, "beginCapture");
  export_function<end_capture>(env, exports, "endCapture");
  export_function<abort_capture>(env, exports, "abortCapture");
  export_function<replay_capture>(env, exports, "replayCapture");
  export_function<dispose_capture>(env, exports, "disposeCapture");
}

}  // namespace gpcnn
