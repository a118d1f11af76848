// Readers for exported functions' arguments. Each checks the JS type and the
// value and throws an Error naming the argument (ERR_TYPE, ERR_ARG, ERR_DISPOSED).
#pragma once

#include <napi.h>

#include <optional>
#include <vector>

#include "../core/tensor.h"

namespace gpcnn {

// Tensors come back by value (a shape and a shared buffer): a JS getter run while
// reading a later argument may dispose the handle, and the op must still hold its memory.
Tensor tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// undefined or null -> nullopt
std::optional<Tensor> optional_tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
std::vector<Tensor> tensor_list_arg(const Napi::CallbackInfo& info, size_t index, const char* name);

double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name);  // finite
int64_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
Shape shape_arg(const Napi::CallbackInfo& info, size_t index, const char* name);

// Properties of an options object.
double number_property(const Napi::Object& options, const char* key, double fallback);
bool bool_property(const Napi::Object& options, const char* key, bool fallback);
Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const char* name);

// A new tensor of the addon's backend, contents undefined.
Tensor new_tensor(Napi::Env env, DType dtype, const Shape& shape);

}  // namespace gpcnn
