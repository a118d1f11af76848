#include "args.h"

#include <cmath>

#include "../core/errors.h"
#include "addon_context.h"
#include "tensor_wrap.h"

namespace gpcnn {

static Napi::Value arg(const Napi::CallbackInfo& info, size_t index) {
  return index < info.Length() ? info[index] : info.Env().Undefined();
}

Tensor tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return TensorWrap::unwrap(arg(info, index), name);
}

std::optional<Tensor> optional_tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value value = arg(info, index);
  if (value.IsUndefined() || value.IsNull()) return std::nullopt;
  return TensorWrap::unwrap(value, name);
}

std::vector<Tensor> tensor_list_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value value = arg(info, index);
  if (!value.IsArray()) fail(codes::kType, name, " must be an array of tensors");
  const Napi::Array list = value.As<Napi::Array>();
  std::vector<Tensor> tensors;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string item = std::string(name) + "[" + std::to_string(i) + "]";
    tensors.push_back(TensorWrap::unwrap(list.Get(i), item.c_str()));
  }
  return tensors;
}

static double finite_number(const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) fail(codes::kType, name, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number)) fail(codes::kArg, name, " must be finite, got ", number);
  return number;
}

double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return finite_number(arg(info, index), name);
}

static int64_t integer_value(const Napi::Value& value, const char* name) {
  const double number = finite_number(value, name);
  if (number != std::floor(number) || std::fabs(number) > 9007199254740991.0)
    fail(codes::kArg, name, " must be an integer, got ", number);
  return static_cast<int64_t>(number);
}

int64_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return integer_value(arg(info, index), name);
}

bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value value = arg(info, index);
  if (!value.IsBoolean()) fail(codes::kType, name, " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

Shape shape_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value value = arg(info, index);
  if (!value.IsArray()) fail(codes::kType, name, " must be an array of dimensions");
  const Napi::Array dims = value.As<Napi::Array>();
  if (dims.Length() > kMaxDims)
    fail(codes::kShape, name, " must have 1 to ", kMaxDims, " dimensions, got ", dims.Length());
  Shape shape;
  for (uint32_t i = 0; i < dims.Length(); ++i) shape.push_back(integer_value(dims.Get(i), name));
  check_shape_valid(shape, name);
  return shape;
}

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value value = arg(info, index);
  if (!value.IsObject()) fail(codes::kType, name, " must be an object");
  return value.As<Napi::Object>();
}

double number_property(const Napi::Object& options, const char* key, double fallback) {
  const Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) fail(codes::kType, key, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (std::isnan(number)) fail(codes::kArg, key, " must not be NaN");
  return number;
}

bool bool_property(const Napi::Object& options, const char* key, bool fallback) {
  const Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) fail(codes::kType, key, " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

Tensor new_tensor(Napi::Env env, DType dtype, const Shape& shape) {
  check_shape_valid(shape, "shape");
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  t.buffer = backend(env).allocate(t.bytes());
  return t;
}

}  // namespace gpcnn
