// Assembles an addon's exports around one backend. Both addons (cpu, cuda) share
// this file and the op bindings; only their entry points differ.
#include "addon_context.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

static Napi::Value guard_violations(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(context(info.Env()).backend->guard_violations()));
}

Napi::Object init_addon(Napi::Env env, Napi::Object exports, std::unique_ptr<Backend> backend,
                        napi_type_tag tensor_tag) {
  auto* ctx = new AddonContext{std::move(backend), {}, tensor_tag};
  env.SetInstanceData<AddonContext>(ctx);
  ctx->tensor_class = Napi::Persistent(TensorWrap::define_class(env));
  exports.Set("backendName", Napi::String::New(env, ctx->backend->name()));
  exports.Set("guardViolations", Napi::Function::New<guard_violations>(env, "guardViolations"));
  register_tensor_functions(env, exports);
  register_conv_ops(env, exports);
  register_gate_ops(env, exports);
  register_conditioning_ops(env, exports);
  register_elementwise_ops(env, exports);
  register_head_ops(env, exports);
  register_loss_ops(env, exports);
  register_optimizer_ops(env, exports);
  register_capture_ops(env, exports);
  register_memory_ops(env, exports);
  register_file_lock(env, exports);
  return exports;
}

}  // namespace gpcnn
