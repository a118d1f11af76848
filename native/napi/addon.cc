// Assembles an addon's exports around one backend. Both addons (cpu, cuda) share
// this file and the op bindings; only their entry points differ.
#include "addon_context.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

Napi::Object init_addon(Napi::Env env, Napi::Object exports, std::unique_ptr<Backend> backend) {
  auto* ctx = new AddonContext{std::move(backend), {}};
  env.SetInstanceData<AddonContext>(ctx);
  ctx->tensor_class = Napi::Persistent(TensorWrap::define_class(env));
  exports.Set("backendName", Napi::String::New(env, ctx->backend->name()));
  register_tensor_functions(env, exports);
  register_conv_ops(env, exports);
  register_gate_ops(env, exports);
  register_conditioning_ops(env, exports);
  register_elementwise_ops(env, exports);
  register_head_ops(env, exports);
  register_loss_ops(env, exports);
  register_optimizer_ops(env, exports);
  return exports;
}

}  // namespace gpcnn
