// gateForward(u, extra?, bias?, spatial?)
// gateBackward(gradOut, u, extra?, bias?, spatial?) -> { gradInput, gradBias? }
#include <optional>

#include "../core/op_checks.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

// The gate's tensors, held by value for the call, and GateInputs pointing at them.
struct GateArgs {
  Tensor u;
  std::optional<Tensor> extra, bias, spatial;

  GateArgs(const Napi::CallbackInfo& info, size_t first)
      : u(tensor_arg(info, first, "input")),
        extra(optional_tensor_arg(info, first + 1, "extra")),
        bias(optional_tensor_arg(info, first + 2, "bias")),
        spatial(optional_tensor_arg(info, first + 3, "spatial")) {}

  GateInputs inputs() const {
    return {&u, extra ? &*extra : nullptr, bias ? &*bias : nullptr, spatial ? &*spatial : nullptr};
  }
};

static Napi::Value gate_forward(const Napi::CallbackInfo& info) {
  const GateArgs args(info, 0);
  const GateInputs in = args.inputs();
  Tensor out = new_tensor(info.Env(), DType::F32, check_gate(in));
  backend(info.Env()).gate_forward(in, out);
  return TensorWrap::wrap(info.Env(), std::move(out));
}

static Napi::Value gate_backward(const Napi::CallbackInfo& info) {
  const Tensor& grad_out = tensor_arg(info, 0, "gradOutput");
  const GateArgs args(info, 1);
  const GateInputs in = args.inputs();
  check_gate_backward(in, grad_out);
  Tensor grad_a = new_tensor(info.Env(), DType::F32, in.u->shape);
  std::optional<Tensor> grad_bias;
  if (in.bias) grad_bias = new_tensor(info.Env(), DType::F32, in.bias->shape);
  backend(info.Env()).gate_backward(in, grad_out, grad_a, grad_bias ? &*grad_bias : nullptr);
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("gradInput", TensorWrap::wrap(info.Env(), std::move(grad_a)));
  if (grad_bias) result.Set("gradBias", TensorWrap::wrap(info.Env(), std::move(*grad_bias)));
  return result;
}

void register_gate_ops(Napi::Env env, Napi::Object exports) {
  export_function<gate_forward>(env, exports, "gateForward");
  export_function<gate_backward>(env, exports, "gateBackward");
}

}  // namespace gpcnn
