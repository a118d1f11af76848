// The JS handle of a native tensor. JS code gets instances only from the addon's
// functions (never `new`), each tagged with a type tag so that a foreign object
// cannot be unwrapped as a tensor. dispose() frees the memory at once; the
// finalizer frees it when the handle is collected, whichever comes first.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "../core/tensor.h"
#include "external_memory_hint.h"

namespace gpcnn {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function define_class(Napi::Env env);
  static Napi::Object wrap(Napi::Env env, Tensor tensor);
  // Throws ERR_TYPE for anything but a tensor handle, ERR_DISPOSED for a disposed one.
  static Tensor& unwrap(const Napi::Value& value, const char* name);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

 private:
  Napi::Value shape(const Napi::CallbackInfo& info);
  Napi::Value dtype(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  Napi::Value to_array(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Tensor& live(const char* what);
  void release();

  napi_env env_;
  std::shared_ptr<ExternalMemoryHint> memory_hint_;
  std::optional<Tensor> tensor_;
};

// Exports tensorFromArray(typedArray, shape), tensorWrite(tensor, typedArray) (in
// place), tensorZeros(shape, dtype) and tensorReshape(tensor, shape) (a view: the same
// memory under another shape).
void register_tensor_functions(Napi::Env env, Napi::Object exports);

}  // namespace gpcnn
