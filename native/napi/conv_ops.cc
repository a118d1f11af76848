// convForward(x, w, b?, dy, dx, groups)
// convBackwardData(gradY, w, dy, dx, groups, target?): with a target, the result is
// added into it and the call returns undefined.
// convBackwardWeights(x, gradY, kh, kw, dy, dx, groups, withBias) -> { gradWeight, gradBias? }
#include "../core/op_checks.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

static ConvParams conv_params(const Napi::CallbackInfo& info, size_t first) {
  ConvParams p;
  p.dy = integer_arg(info, first, "dy");
  p.dx = integer_arg(info, first + 1, "dx");
  p.groups = integer_arg(info, first + 2, "groups");
  return p;
}

static Napi::Value conv_forward(const Napi::CallbackInfo& info) {
  const Tensor& x = tensor_arg(info, 0, "input");
  const Tensor& w = tensor_arg(info, 1, "weight");
  const std::optional<Tensor> b_arg = optional_tensor_arg(info, 2, "bias");
  const Tensor* b = b_arg ? &*b_arg : nullptr;
  const ConvParams p = conv_params(info, 3);
  Tensor y = new_tensor(info.Env(), DType::F32, check_conv_forward(x, w, b, p));
  backend(info.Env()).conv_forward(x, w, b, p, y);
  return TensorWrap::wrap(info.Env(), std::move(y));
}

static Napi::Value conv_backward_data(const Napi::CallbackInfo& info) {
  const Tensor& grad_y = tensor_arg(info, 0, "gradOutput");
  const Tensor& w = tensor_arg(info, 1, "weight");
  const ConvParams p = conv_params(info, 2);
  const Shape shape = check_conv_backward_data(grad_y, w, p);
  if (std::optional<Tensor> target = optional_tensor_arg(info, 5, "target")) {
    check_accumulation_target(*target, shape, {&grad_y, &w});
    backend(info.Env()).conv_backward_data(grad_y, w, p, *target, true);
    return info.Env().Undefined();
  }
  Tensor grad_x = new_tensor(info.Env(), DType::F32, shape);
  backend(info.Env()).conv_backward_data(grad_y, w, p, grad_x, false);
  return TensorWrap::wrap(info.Env(), std::move(grad_x));
}

static Napi::Value conv_backward_weights(const Napi::CallbackInfo& info) {
  const Tensor& x = tensor_arg(info, 0, "input");
  const Tensor& grad_y = tensor_arg(info, 1, "gradOutput");
  const int64_t kh = integer_arg(info, 2, "kh"), kw = integer_arg(info, 3, "kw");
  const ConvParams p = conv_params(info, 4);
  const bool with_bias = bool_arg(info, 7, "withBias");
  const Shape w_shape = check_conv_backward_weights(x, grad_y, kh, kw, p);
  Tensor grad_w = new_tensor(info.Env(), DType::F32, w_shape);
  std::optional<Tensor> grad_b;
  if (with_bias) grad_b = new_tensor(info.Env(), DType::F32, {w_shape[0]});
  backend(info.Env()).conv_backward_weights(x, grad_y, p, grad_w, grad_b ? &*grad_b : nullptr);
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("gradWeight", TensorWrap::wrap(info.Env(), std::move(grad_w)));
  if (grad_b) result.Set("gradBias", TensorWrap::wrap(info.Env(), std::move(*grad_b)));
  return result;
}

void register_conv_ops(Napi::Env env, Napi::Object exports) {
  export_function<conv_forward>(env, exports, "convForward");
  export_function<conv_backward_data>(env, exports, "convBackwardData");
  export_function<conv_backward_weights>(env, exports, "convBackwardWeights");
}

}  // namespace gpcnn
