// headChannelsForward(hidden, prev?, input)
// headChannelsBackward(gradOut, out, input, withPrev) -> { gradHidden, gradPrev? }
#include <optional>

#include "../core/errors.h"
#include "../core/op_checks.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

static Napi::Value head_channels_forward(const Napi::CallbackInfo& info) {
  const Tensor& zs = tensor_arg(info, 0, "hidden");
  const std::optional<Tensor> prev_arg = optional_tensor_arg(info, 1, "prev");
  const Tensor* prev = prev_arg ? &*prev_arg : nullptr;
  const Tensor& xt = tensor_arg(info, 2, "input");
  Tensor out = new_tensor(info.Env(), DType::F32, check_head_channels(zs, prev, xt));
  backend(info.Env()).head_channels_forward(zs, prev, xt, out);
  return TensorWrap::wrap(info.Env(), std::move(out));
}

static Napi::Value head_channels_backward(const Napi::CallbackInfo& info) {
  const Tensor& grad_out = tensor_arg(info, 0, "gradOutput");
  const Tensor& out = tensor_arg(info, 1, "output");
  const Tensor& xt = tensor_arg(info, 2, "input");
  const bool with_prev = bool_arg(info, 3, "withPrev");
  expect_rank(xt, 4, "input [B, C, H, W]");
  expect_rank(out, 4, "output [B, C·q, H, W]");
  const int64_t channels = xt.dim(1);
  if (out.dim(1) % channels != 0)
    fail(codes::kShape, "output ", shape_string(out.shape), " must have C·q channels for C = ",
         channels);
  const int64_t q = out.dim(1) / channels;
  check_head_channels_backward(grad_out, out, xt, q);
  Tensor grad_zs = new_tensor(info.Env(), DType::F32, {xt.dim(0), q, xt.dim(2), xt.dim(3)});
  std::optional<Tensor> grad_prev;
  if (with_prev) grad_prev = new_tensor(info.Env(), DType::F32, {q, channels, channels});
  backend(info.Env()).head_channels_backward(grad_out, out, xt, grad_zs,
                                             grad_prev ? &*grad_prev : nullptr);
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("gradHidden", TensorWrap::wrap(info.Env(), std::move(grad_zs)));
  if (grad_prev) result.Set("gradPrev", TensorWrap::wrap(info.Env(), std::move(*grad_prev)));
  return result;
}

void register_head_ops(Napi::Env env, Napi::Object exports) {
  export_function<head_channels_forward>(env, exports, "headChannelsForward");
  export_function<head_channels_backward>(env, exports, "headChannelsBackward");
}

}  // namespace gpcnn
