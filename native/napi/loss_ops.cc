// softmaxCrossEntropy(logits, targets, gradScale?) -> { nll, gradLogits? }
// gradScale null or undefined: forward only.
#include <cmath>
#include <optional>

#include "../core/errors.h"
#include "../core/op_checks.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

static Napi::Value softmax_cross_entropy(const Napi::CallbackInfo& info) {
  const Tensor& logits = tensor_arg(info, 0, "logits");
  const Tensor& targets = tensor_arg(info, 1, "targets");
  const bool with_grad = info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull();
  const float grad_scale = with_grad ? static_cast<float>(number_arg(info, 2, "gradScale")) : 0.f;
  if (!std::isfinite(grad_scale)) fail(codes::kArg, "gradScale must fit a float, got ", number_arg(info, 2, "gradScale"));
  check_softmax_cross_entropy(logits, targets);
  Tensor nll = new_tensor(info.Env(), DType::F32, {logits.dim(0)});
  std::optional<Tensor> grad;
  if (with_grad) grad = new_tensor(info.Env(), DType::F32, logits.shape);
  backend(info.Env()).softmax_cross_entropy(logits, targets, grad_scale, nll,
                                            grad ? &*grad : nullptr);
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("nll", TensorWrap::wrap(info.Env(), std::move(nll)));
  if (grad) result.Set("gradLogits", TensorWrap::wrap(info.Env(), std::move(*grad)));
  return result;
}

void register_loss_ops(Napi::Env env, Napi::Object exports) {
  export_function<softmax_cross_entropy>(env, exports, "softmaxCrossEntropy");
}

}  // namespace gpcnn
