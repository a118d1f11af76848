// embeddingForward(table, labels), embeddingBackward(gradOut, labels, classes)
// linearForward(x, w), linearBackward(gradOut, x, w, needInputGrad) -> { gradWeight, gradInput? }
#include <optional>

#include "../core/op_checks.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

static Napi::Value embedding_forward(const Napi::CallbackInfo& info) {
  const Tensor& table = tensor_arg(info, 0, "table");
  const Tensor& labels = tensor_arg(info, 1, "labels");
  Tensor out = new_tensor(info.Env(), DType::F32, check_embedding(table, labels));
  backend(info.Env()).embedding_forward(table, labels, out);
  return TensorWrap::wrap(info.Env(), std::move(out));
}

static Napi::Value embedding_backward(const Napi::CallbackInfo& info) {
  const Tensor& grad_out = tensor_arg(info, 0, "gradOutput");
  const Tensor& labels = tensor_arg(info, 1, "labels");
  const int64_t classes = integer_arg(info, 2, "classes");
  Tensor grad_table =
      new_tensor(info.Env(), DType::F32, check_embedding_backward(grad_out, labels, classes));
  backend(info.Env()).embedding_backward(grad_out, labels, grad_table);
  return TensorWrap::wrap(info.Env(), std::move(grad_table));
}

static Napi::Value linear_forward(const Napi::CallbackInfo& info) {
  const Tensor& x = tensor_arg(info, 0, "input");
  const Tensor& w = tensor_arg(info, 1, "weight");
  Tensor out = new_tensor(info.Env(), DType::F32, check_linear(x, w));
  backend(info.Env()).linear_forward(x, w, out);
  return TensorWrap::wrap(info.Env(), std::move(out));
}

static Napi::Value linear_backward(const Napi::CallbackInfo& info) {
  const Tensor& grad_out = tensor_arg(info, 0, "gradOutput");
  const Tensor& x = tensor_arg(info, 1, "input");
  const Tensor& w = tensor_arg(info, 2, "weight");
  const bool need_input_grad = bool_arg(info, 3, "needInputGrad");
  check_linear_backward(grad_out, x, w);
  Tensor grad_w = new_tensor(info.Env(), DType::F32, w.shape);
  std::optional<Tensor> grad_x;
  if (need_input_grad) grad_x = new_tensor(info.Env(), DType::F32, x.shape);
  backend(info.Env()).linear_backward(grad_out, x, w, grad_x ? &*grad_x : nullptr, grad_w);
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("gradWeight", TensorWrap::wrap(info.Env(), std::move(grad_w)));
  if (grad_x) result.Set("gradInput", TensorWrap::wrap(info.Env(), std::move(*grad_x)));
  return result;
}

void register_conditioning_ops(Napi::Env env, Napi::Object exports) {
  export_function<embedding_forward>(env, exports, "embeddingForward");
  export_function<embedding_backward>(env, exports, "embeddingBackward");
  export_function<linear_forward>(env, exports, "linearForward");
  export_function<linear_backward>(env, exports, "linearBackward");
}

}  // namespace gpcnn
