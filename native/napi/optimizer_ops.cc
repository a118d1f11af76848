// adamStep(params, grads, ms, vs, steps, { lr, beta1, beta2, eps, weightDecay, decoupled }):
//   one update of every listed parameter (equal-length arrays; steps: 1-based counts)
// globalNorm(tensors) -> number
// clipGradNorm(tensors, maxNorm) -> the norm before clipping; scales in place when above maxNorm
// movingAverage(averages, values, decay): averages[k] = decay·averages[k] + (1 − decay)·values[k], in place
#include <cmath>
#include <set>

#include "../core/errors.h"
#include "../core/op_checks.h"
#include "addon_context.h"
#include "args.h"
#include "guard.h"
#include "ops.h"

namespace gpcnn {

static Napi::Value adam_step(const Napi::CallbackInfo& info) {
  const std::vector<Tensor> params = tensor_list_arg(info, 0, "params"), grads = tensor_list_arg(info, 1, "grads");
  const std::vector<Tensor> ms = tensor_list_arg(info, 2, "ms"), vs = tensor_list_arg(info, 3, "vs");
  const Napi::Value steps_value = info[4];
  if (!steps_value.IsArray()) fail(codes::kType, "steps must be an array of numbers");
  const Napi::Array steps = steps_value.As<Napi::Array>();
  const size_t count = params.size();
  if (grads.size() != count || ms.size() != count || vs.size() != count || steps.Length() != count)
    fail(codes::kLength, "adamStep needs as many grads, ms, vs and steps as params (", count, ")");
  const Napi::Object options = object_arg(info, 5, "options");
  AdamParams p;
  p.lr = number_property(options, "lr", p.lr);
  p.beta1 = number_property(options, "beta1", p.beta1);
  p.beta2 = number_property(options, "beta2", p.beta2);
  p.eps = number_property(options, "eps", p.eps);
  p.weight_decay = number_property(options, "weightDecay", p.weight_decay);
  p.decoupled = bool_property(options, "decoupled", p.decoupled);
  std::vector<AdamUpdate> updates;
  for (size_t k = 0; k < count; ++k) {
    const Napi::Value value = steps.Get(uint32_t(k));
    if (!value.IsNumber()) fail(codes::kType, "steps[", k, "] must be a number");
    const double step = value.As<Napi::Number>().DoubleValue();
    if (step != std::floor(step) || step < 1 || step > 9007199254740991.0)
      fail(codes::kArg, "steps[", k, "] must be an integer >= 1, got ", step);
    updates.push_back({params[k], grads[k], ms[k], vs[k], static_cast<int64_t>(step)});
  }
  check_adam(updates, p);  // every update, before any is applied
  backend(info.Env()).adam_step(updates, p);
  return info.Env().Undefined();
}

static double global_norm(Backend& be, const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) expect_dtype(t, DType::F32, "gradient");
  return std::sqrt(be.sum_of_squares(tensors));
}

static Napi::Value global_norm_op(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           global_norm(backend(info.Env()), tensor_list_arg(info, 0, "tensors")));
}

static Napi::Value clip_grad_norm(const Napi::CallbackInfo& info) {
  std::vector<Tensor> tensors = tensor_list_arg(info, 0, "tensors");
  const double max_norm = number_arg(info, 1, "maxNorm");
  if (max_norm <= 0) fail(codes::kArg, "maxNorm must be > 0, got ", max_norm);
  // Each tensor is scaled once: one listed twice would be scaled twice.
  std::set<const void*> listed;
  for (const Tensor& t : tensors)
    if (!listed.insert(t.buffer->data()).second)
      fail(codes::kArg, "clipGradNorm lists the same tensor (or a view of it) twice");
  Backend& be = backend(info.Env());
  const double norm = global_norm(be, tensors);
  // As torch.nn.utils.clip_grad_norm_: the small constant keeps a zero norm harmless.
  if (norm > max_norm)
    for (Tensor& t : tensors) be.scale(t, static_cast<float>(max_norm / (norm + 1e-6)));
  return Napi::Number::New(info.Env(), norm);
}

static Napi::Value moving_average(const Napi::CallbackInfo& info) {
  const std::vector<Tensor> averages = tensor_list_arg(info, 0, "averages"), values = tensor_list_arg(info, 1, "values");
  const double decay = number_arg(info, 2, "decay");
  check_moving_average(averages, values, decay);
  backend(info.Env()).moving_average(averages, values, float(decay));
  return info.Env().Undefined();
}

void register_optimizer_ops(Napi::Env env, Napi::Object exports) {
  export_function<adam_step>(env, exports, "adamStep");
  export_function<moving_average>(env, exports, "movingAverage");
  export_function<global_norm_op>(env, exports, "globalNorm");
  export_function<clip_grad_norm>(env, exports, "clipGradNorm");
}

}  // namespace gpcnn
