#include "tensor_wrap.h"

#include "../core/errors.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"

namespace gpcnn {

namespace {

// Passed to the constructor so that only wrap() can create handles: the External that
// carries it is tagged, so that no other External (a capture's handle, another addon's)
// passes for one.
struct ConstructToken {
  Tensor* tensor;
};
constexpr napi_type_tag kConstructTokenTag = {0x6770636e6e2d746bULL, 0x636f6e7374727563ULL};

}  // namespace

Napi::Function TensorWrap::define_class(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {InstanceAccessor<&TensorWrap::shape>("shape"),
                      InstanceAccessor<&TensorWrap::dtype>("dtype"),
                      InstanceAccessor<&TensorWrap::disposed>("disposed"),
                      InstanceMethod<&TensorWrap::to_array>("toArray"),
                      InstanceMethod<&TensorWrap::dispose>("dispose")});
}

Napi::Object TensorWrap::wrap(Napi::Env env, Tensor tensor) {
  ConstructToken token{&tensor};
  Napi::External<ConstructToken> external = Napi::External<ConstructToken>::New(env, &token);
  external.TypeTag(&kConstructTokenTag);
  return context(env).tensor_class.New({external});
}

Tensor& TensorWrap::unwrap(const Napi::Value& value, const char* name) {
  if (!value.IsObject()) fail(codes::kType, name, " must be a tensor");
  const Napi::Object object = value.As<Napi::Object>();
  if (!object.CheckTypeTag(&context(value.Env()).tensor_tag))
    fail(codes::kType, name, " must be a tensor of this addon (", backend(value.Env()).name(), ")");
  Tensor& tensor = Unwrap(object)->live(name);
  backend(value.Env()).retain_for_capture(tensor.buffer);
  return tensor;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TensorWrap>(info), env_(info.Env()) {
  if (info.Length() != 1 || !info[0].IsExternal() ||
      !info[0].As<Napi::External<ConstructToken>>().CheckTypeTag(&kConstructTokenTag))
    throw coded_error(info.Env(), codes::kType,
                      "tensors are made by the addon's functions, not with new");
  tensor_ = std::move(*info[0].As<Napi::External<ConstructToken>>().Data()->tensor);
  info.This().As<Napi::Object>().TypeTag(&context(info.Env()).tensor_tag);
  memory_hint_ = context(info.Env()).memory_hint;
  memory_hint_->add(env_, static_cast<int64_t>(tensor_->bytes()));
}

TensorWrap::~TensorWrap() { release(); }

void TensorWrap::release() {
  if (!tensor_) return;
  memory_hint_->remove(static_cast<int64_t>(tensor_->bytes()));
  tensor_.reset();
}

Tensor& TensorWrap::live(const char* what) {
  if (!tensor_) fail(codes::kDisposed, what, " was disposed");
  return *tensor_;
}

Napi::Value TensorWrap::shape(const Napi::CallbackInfo& info) {
  return with_coded_errors(info.Env(), [&]() -> Napi::Value {
    const Tensor& t = live("tensor");
    Napi::Array dims = Napi::Array::New(info.Env(), t.rank());
    for (size_t i = 0; i < t.rank(); ++i)
      dims.Set(i, Napi::Number::New(info.Env(), double(t.dim(i))));
    return dims;
  });
}

Napi::Value TensorWrap::dtype(const Napi::CallbackInfo& info) {
  return with_coded_errors(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), dtype_name(live("tensor").dtype));
  });
}

Napi::Value TensorWrap::disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.has_value());
}

template <typename Array>
static Napi::Value copy_out(Napi::Env env, const Tensor& t) {
  Array array = Array::New(env, static_cast<size_t>(t.numel()));
  backend(env).download(t, array.Data());
  return array;
}

Napi::Value TensorWrap::to_array(const Napi::CallbackInfo& info) {
  return with_coded_errors(info.Env(), [&]() -> Napi::Value {
    const Tensor& t = live("tensor");
    switch (t.dtype) {
      case DType::F32: return copy_out<Napi::Float32Array>(info.Env(), t);
      case DType::I32: return copy_out<Napi::Int32Array>(info.Env(), t);
      case DType::U8: return copy_out<Napi::Uint8Array>(info.Env(), t);
    }
    return info.Env().Undefined();
  });
}

Napi::Value TensorWrap::dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

namespace {

// A typed array argument's element type and bytes.
struct TypedData {
  DType dtype;
  size_t length;
  const uint8_t* bytes;
};

// Read only after every argument that may run JavaScript (a getter could resize or
// transfer the array's buffer); the element pointer comes from the typed array itself,
// so that arrays over a SharedArrayBuffer work too.
TypedData typed_data_arg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsTypedArray())
    fail(codes::kType, "data must be a Float32Array, Int32Array or Uint8Array");
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(info.Env(), info[index], &type, &length, &data, nullptr, nullptr) != napi_ok)
    fail(codes::kType, "data could not be read as a typed array");
  DType dtype;
  switch (type) {
    case napi_float32_array: dtype = DType::F32; break;
    case napi_int32_array: dtype = DType::I32; break;
    case napi_uint8_array: dtype = DType::U8; break;
    default: fail(codes::kDType, "data must be a Float32Array, Int32Array or Uint8Array");
  }
  return {dtype, length, static_cast<const uint8_t*>(data)};
}

}  // namespace

static Napi::Value tensor_from_array(const Napi::CallbackInfo& info) {
  const Shape shape = shape_arg(info, 1, "shape");  // first: its getters may run JavaScript
  const TypedData data = typed_data_arg(info, 0);
  if (static_cast<int64_t>(data.length) != shape_numel(shape))
    fail(codes::kLength, "data has ", data.length, " elements, shape ",
         shape_string(shape), " needs ", shape_numel(shape));
  Tensor t = new_tensor(info.Env(), data.dtype, shape);
  backend(info.Env()).upload(t, data.bytes);
  return TensorWrap::wrap(info.Env(), std::move(t));
}

// Copies data into an existing tensor of the same element type and count, in place:
// what a replayed graph reads as its input.
static Napi::Value tensor_write(const Napi::CallbackInfo& info) {
  Tensor t = tensor_arg(info, 0, "tensor");
  const TypedData data = typed_data_arg(info, 1);
  if (data.dtype != t.dtype) fail(codes::kDType, "data's element type differs from the tensor's");
  if (static_cast<int64_t>(data.length) != t.numel())
    fail(codes::kLength, "data has ", data.length, " elements, the tensor ", t.numel());
  backend(info.Env()).upload(t, data.bytes);
  return info.Env().Undefined();
}

static Napi::Value tensor_zeros(const Napi::CallbackInfo& info) {
  const Shape shape = shape_arg(info, 0, "shape");
  if (info.Length() < 2 || !info[1].IsString()) fail(codes::kType, "dtype must be a string");
  Tensor t = new_tensor(info.Env(), dtype_from_name(info[1].As<Napi::String>()), shape);
  backend(info.Env()).fill_zero(t);
  return TensorWrap::wrap(info.Env(), std::move(t));
}

// A new handle on the same memory with another shape of the same element count.
static Napi::Value tensor_reshape(const Napi::CallbackInfo& info) {
  const Tensor& source = tensor_arg(info, 0, "tensor");
  const Shape shape = shape_arg(info, 1, "shape");
  if (shape_numel(shape) != source.numel())
    fail(codes::kShape, "cannot reshape ", shape_string(source.shape), " to ",
         shape_string(shape), ": the element counts differ");
  Tensor view = source;
  view.shape = shape;
  return TensorWrap::wrap(info.Env(), std::move(view));
}

void register_tensor_functions(Napi::Env env, Napi::Object exports) {
  export_function<tensor_reshape>(env, exports, "tensorReshape");
  export_function<tensor_from_array>(env, exports, "tensorFromArray");
  export_function<tensor_write>(env, exports, "tensorWrite");
  export_function<tensor_zeros>(env, exports, "tensorZeros");
}

}  // namespace gpcnn
