// add(a, b), accumulate(dst, src) (in place), channelSums(x), relu(x), reluBackward(gradOut, x)
#include "../core/op_checks.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

static Napi::Value add(const Napi::CallbackInfo& info) {
  const Tensor& a = tensor_arg(info, 0, "a");
  const Tensor& b = tensor_arg(info, 1, "b");
  check_same_f32(a, "a", b, "b");
  Tensor out = new_tensor(info.Env(), DType::F32, a.shape);
  backend(info.Env()).add(a, b, out);
  return TensorWrap::wrap(info.Env(), std::move(out));
}

static Napi::Value accumulate(const Napi::CallbackInfo& info) {
  Tensor dst = tensor_arg(info, 0, "target");
  const Tensor& src = tensor_arg(info, 1, "source");
  check_same_f32(dst, "target", src, "source");
  backend(info.Env()).accumulate(dst, src);
  return info.Env().Undefined();
}

static Napi::Value channel_sums(const Napi::CallbackInfo& info) {
  const Tensor& x = tensor_arg(info, 0, "input");
  Tensor out = new_tensor(info.Env(), DType::F32, check_channel_sums(x));
  backend(info.Env()).channel_sums(x, out);
  return TensorWrap::wrap(info.Env(), std::move(out));
}

static Napi::Value relu(const Napi::CallbackInfo& info) {
  const Tensor& x = tensor_arg(info, 0, "input");
  expect_dtype(x, DType::F32, "input");
  Tensor out = new_tensor(info.Env(), DType::F32, x.shape);
  backend(info.Env()).relu_forward(x, out);
  return TensorWrap::wrap(info.Env(), std::move(out));
}

static Napi::Value relu_backward(const Napi::CallbackInfo& info) {
  const Tensor& grad_out = tensor_arg(info, 0, "gradOutput");
  const Tensor& x = tensor_arg(info, 1, "input");
  check_same_f32(grad_out, "gradOutput", x, "input");
  Tensor grad_x = new_tensor(info.Env(), DType::F32, x.shape);
  backend(info.Env()).relu_backward(grad_out, x, grad_x);
  return TensorWrap::wrap(info.Env(), std::move(grad_x));
}

void register_elementwise_ops(Napi::Env env, Napi::Object exports) {
  export_function<add>(env, exports, "add");
  export_function<accumulate>(env, exports, "accumulate");
  export_function<channel_sums>(env, exports, "channelSums");
  export_function<relu>(env, exports, "relu");
  export_function<relu_backward>(env, exports, "reluBackward");
}

}  // namespace gpcnn
