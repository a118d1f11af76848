#include "op_checks.h"

#include <cmath>
#include <set>

#include "errors.h"

namespace gpcnn {

void expect_dtype(const Tensor& t, DType dtype, const char* name) {
  if (t.dtype != dtype)
    fail(codes::kDType, name, " must be ", dtype_name(dtype), ", got ", dtype_name(t.dtype));
}

void expect_rank(const Tensor& t, size_t rank, const char* name) {
  if (t.rank() != rank)
    fail(codes::kShape, name, " must have ", rank, " dimensions, got ", shape_string(t.shape));
}

void expect_same_shape(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name) {
  if (a.shape != b.shape)
    fail(codes::kShape, a_name, " ", shape_string(a.shape), " and ", b_name, " ",
         shape_string(b.shape), " must have the same shape");
}

void check_same_f32(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name) {
  expect_dtype(a, DType::F32, a_name);
  expect_dtype(b, DType::F32, b_name);
  expect_same_shape(a, a_name, b, b_name);
}

void check_accumulation_target(const Tensor& target, const Shape& result,
                               std::initializer_list<const Tensor*> inputs) {
  expect_dtype(target, DType::F32, "target");
  if (target.shape != result)
    fail(codes::kShape, "target is ", shape_string(target.shape), ", but the result is ", shape_string(result));
  for (const Tensor* input : inputs)
    if (input && input->buffer == target.buffer) fail(codes::kArg, "target shares its memory with an input of the op");
}

Shape check_channel_sums(const Tensor& x) {
  expect_dtype(x, DType::F32, "input");
  if (x.rank() < 2) fail(codes::kShape, "input must have at least 2 dimensions [N, C, ...], got ", shape_string(x.shape));
  return {x.dim(1)};
}

static void check_conv_params(const ConvParams& p) {
  if (p.groups < 1) fail(codes::kArg, "groups must be >= 1, got ", p.groups);
}

// Checks w against the input channel count and groups; returns the output channels.
static int64_t check_conv_weight(const Tensor& w, int64_t in_channels, const ConvParams& p) {
  expect_dtype(w, DType::F32, "weight");
  expect_rank(w, 4, "weight [O, Cin/groups, kh, kw]");
  const int64_t out_channels = w.dim(0);
  if (in_channels % p.groups != 0 || out_channels % p.groups != 0)
    fail(codes::kShape, "groups (", p.groups, ") must divide the input channels (", in_channels,
         ") and the output channels (", out_channels, ")");
  if (w.dim(1) * p.groups != in_channels)
    fail(codes::kShape, "weight ", shape_string(w.shape), " expects ", w.dim(1) * p.groups,
         " input channels, the input has ", in_channels);
  return out_channels;
}

Shape check_conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p) {
  check_conv_params(p);
  expect_dtype(x, DType::F32, "input");
  expect_rank(x, 4, "input [B, C, H, W]");
  const int64_t out_channels = check_conv_weight(w, x.dim(1), p);
  if (b) {
    expect_dtype(*b, DType::F32, "bias");
    if (b->shape != Shape{out_channels})
      fail(codes::kShape, "bias must be [", out_channels, "], got ", shape_string(b->shape));
  }
  return {x.dim(0), out_channels, x.dim(2), x.dim(3)};
}

Shape check_conv_backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p) {
  check_conv_params(p);
  expect_dtype(grad_y, DType::F32, "gradOutput");
  expect_rank(grad_y, 4, "gradOutput [B, O, H, W]");
  expect_dtype(w, DType::F32, "weight");
  expect_rank(w, 4, "weight [O, Cin/groups, kh, kw]");
  if (grad_y.dim(1) != w.dim(0))
    fail(codes::kShape, "gradOutput ", shape_string(grad_y.shape), " has ", grad_y.dim(1),
         " channels, weight ", shape_string(w.shape), " has ", w.dim(0), " outputs");
  if (w.dim(0) % p.groups != 0)
    fail(codes::kShape, "groups (", p.groups, ") must divide the output channels (", w.dim(0), ")");
  return {grad_y.dim(0), w.dim(1) * p.groups, grad_y.dim(2), grad_y.dim(3)};
}

Shape check_conv_backward_weights(const Tensor& x, const Tensor& grad_y, int64_t kh, int64_t kw,
                                  const ConvParams& p) {
  check_conv_params(p);
  if (kh < 1 || kw < 1) fail(codes::kArg, "kernel size must be >= 1, got ", kh, "x", kw);
  expect_dtype(x, DType::F32, "input");
  expect_rank(x, 4, "input [B, C, H, W]");
  expect_dtype(grad_y, DType::F32, "gradOutput");
  expect_rank(grad_y, 4, "gradOutput [B, O, H, W]");
  if (x.dim(0) != grad_y.dim(0) || x.dim(2) != grad_y.dim(2) || x.dim(3) != grad_y.dim(3))
    fail(codes::kShape, "input ", shape_string(x.shape), " and gradOutput ",
         shape_string(grad_y.shape), " must agree in batch, height and width");
  if (x.dim(1) % p.groups != 0 || grad_y.dim(1) % p.groups != 0)
    fail(codes::kShape, "groups (", p.groups, ") must divide the input channels (", x.dim(1),
         ") and the output channels (", grad_y.dim(1), ")");
  return {grad_y.dim(1), x.dim(1) / p.groups, kh, kw};
}

static void check_gate_term(const Tensor* t, const char* name, const Shape& expected) {
  if (!t) return;
  expect_dtype(*t, DType::F32, name);
  if (t->shape != expected)
    fail(codes::kShape, name, " must be ", shape_string(expected), ", got ", shape_string(t->shape));
}

Shape check_gate(const GateInputs& in) {
  if (!in.u) fail(codes::kArg, "the gate needs its input");
  const Tensor& u = *in.u;
  expect_dtype(u, DType::F32, "input");
  expect_rank(u, 4, "input [B, 2p, H, W]");
  if (u.dim(1) % 2 != 0)
    fail(codes::kShape, "the gate's input needs an even channel count (2p), got ",
         shape_string(u.shape));
  check_gate_term(in.extra, "extra", u.shape);
  check_gate_term(in.spatial, "spatial", u.shape);
  check_gate_term(in.bias, "bias", {u.dim(0), u.dim(1)});
  return {u.dim(0), u.dim(1) / 2, u.dim(2), u.dim(3)};
}

void check_gate_backward(const GateInputs& in, const Tensor& grad_out) {
  const Shape out_shape = check_gate(in);
  expect_dtype(grad_out, DType::F32, "gradOutput");
  if (grad_out.shape != out_shape)
    fail(codes::kShape, "gradOutput must be ", shape_string(out_shape), ", got ",
         shape_string(grad_out.shape));
}

static void check_labels(const Tensor& labels) {
  expect_dtype(labels, DType::I32, "labels");
  expect_rank(labels, 1, "labels [B]");
}

Shape check_embedding(const Tensor& table, const Tensor& labels) {
  expect_dtype(table, DType::F32, "table");
  expect_rank(table, 2, "table [N, D]");
  check_labels(labels);
  return {labels.dim(0), table.dim(1)};
}

Shape check_embedding_backward(const Tensor& grad_out, const Tensor& labels, int64_t classes) {
  if (classes < 1) fail(codes::kArg, "classes must be >= 1, got ", classes);
  expect_dtype(grad_out, DType::F32, "gradOutput");
  expect_rank(grad_out, 2, "gradOutput [B, D]");
  check_labels(labels);
  if (grad_out.dim(0) != labels.dim(0))
    fail(codes::kShape, "gradOutput ", shape_string(grad_out.shape), " and labels ",
         shape_string(labels.shape), " must have the same batch size");
  return {classes, grad_out.dim(1)};
}

Shape check_linear(const Tensor& x, const Tensor& w) {
  expect_dtype(x, DType::F32, "input");
  expect_rank(x, 2, "input [B, D]");
  expect_dtype(w, DType::F32, "weight");
  expect_rank(w, 2, "weight [O, D]");
  if (x.dim(1) != w.dim(1))
    fail(codes::kShape, "input ", shape_string(x.shape), " has ", x.dim(1), " features, weight ",
         shape_string(w.shape), " expects ", w.dim(1));
  return {x.dim(0), w.dim(0)};
}

void check_linear_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w) {
  const Shape out_shape = check_linear(x, w);
  expect_dtype(grad_out, DType::F32, "gradOutput");
  if (grad_out.shape != out_shape)
    fail(codes::kShape, "gradOutput must be ", shape_string(out_shape), ", got ",
         shape_string(grad_out.shape));
}

Shape check_head_channels(const Tensor& zs, const Tensor* prev, const Tensor& xt) {
  expect_dtype(zs, DType::F32, "hidden");
  expect_rank(zs, 4, "hidden [B, q, H, W]");
  expect_dtype(xt, DType::F32, "input");
  expect_rank(xt, 4, "input [B, C, H, W]");
  const int64_t q = zs.dim(1), channels = xt.dim(1);
  if (zs.dim(0) != xt.dim(0) || zs.dim(2) != xt.dim(2) || zs.dim(3) != xt.dim(3))
    fail(codes::kShape, "hidden ", shape_string(zs.shape), " and input ", shape_string(xt.shape),
         " must agree in batch, height and width");
  if (prev) {
    expect_dtype(*prev, DType::F32, "prev");
    if (prev->shape != Shape{q, channels, channels})
      fail(codes::kShape, "prev must be ", shape_string({q, channels, channels}), ", got ",
           shape_string(prev->shape));
  } else if (channels > 1) {
    fail(codes::kArg, "prev [q, C, C] is required when the image has more than one channel");
  }
  return {zs.dim(0), channels * q, zs.dim(2), zs.dim(3)};
}

void check_head_channels_backward(const Tensor& grad_out, const Tensor& out, const Tensor& xt,
                                  int64_t q) {
  check_same_f32(grad_out, "gradOutput", out, "output");
  expect_dtype(xt, DType::F32, "input");
  expect_rank(xt, 4, "input [B, C, H, W]");
  expect_rank(out, 4, "output [B, C·q, H, W]");
  const Shape expected{xt.dim(0), xt.dim(1) * q, xt.dim(2), xt.dim(3)};
  if (out.shape != expected)
    fail(codes::kShape, "output must be ", shape_string(expected), ", got ",
         shape_string(out.shape));
}

void check_softmax_cross_entropy(const Tensor& logits, const Tensor& targets) {
  expect_dtype(logits, DType::F32, "logits");
  expect_rank(logits, 5, "logits [B, C, K, H, W]");
  if (targets.dtype != DType::I32 && targets.dtype != DType::U8)
    fail(codes::kDType, "targets must be int32 or uint8, got ", dtype_name(targets.dtype));
  const Shape expected{logits.dim(0), logits.dim(1), logits.dim(3), logits.dim(4)};
  if (targets.shape != expected)
    fail(codes::kShape, "targets must be ", shape_string(expected), " for logits ",
         shape_string(logits.shape), ", got ", shape_string(targets.shape));
}

static void require(bool ok, const char* what, double value) {
  if (!ok) fail(codes::kArg, what, ", got ", value);
}

void check_adam(const std::vector<AdamUpdate>& updates, const AdamParams& p) {
  // A device backend updates every listed tensor at once, so none may be listed twice.
  std::set<const void*> written;
  for (const AdamUpdate& u : updates)
    for (const Tensor* t : {&u.param, &u.m, &u.v})
      if (!written.insert(t->buffer->data()).second)
        fail(codes::kArg, "adamStep lists the same tensor (or a view of it) twice");
  for (const AdamUpdate& u : updates) {
    check_same_f32(u.param, "param", u.grad, "grad");
    check_same_f32(u.param, "param", u.m, "m");
    check_same_f32(u.param, "param", u.v, "v");
    require(u.step >= 1, "step must be an integer >= 1", static_cast<double>(u.step));
  }
  require(std::isfinite(p.lr) && p.lr >= 0, "lr must be a finite number >= 0", p.lr);
  require(p.beta1 >= 0 && p.beta1 < 1, "beta1 must be in [0, 1)", p.beta1);
  require(p.beta2 >= 0 && p.beta2 < 1, "beta2 must be in [0, 1)", p.beta2);
  require(std::isfinite(p.eps) && p.eps > 0, "eps must be a finite number > 0", p.eps);
  require(std::isfinite(p.weight_decay) && p.weight_decay >= 0,
          "weightDecay must be a finite number >= 0", p.weight_decay);
  // The updates run in float: eps must stay above zero there (else a zero gradient
  // gives 0/0), and the step sizes and the decay factor finite.
  require(float(p.eps) > 0, "eps must be at least the smallest float (1.4e-45)", p.eps);
  require(std::isfinite(float(p.weight_decay)), "weightDecay must fit a float", p.weight_decay);
  require(std::isfinite(float(1 - p.lr * p.weight_decay)), "lr × weightDecay must fit a float", p.lr * p.weight_decay);
  for (const AdamUpdate& u : updates) {
    const double step_size = p.lr / (1 - std::pow(p.beta1, double(u.step)));
    require(std::isfinite(float(step_size)), "lr / (1 − beta1^step) must fit a float", step_size);
  }
}

void check_moving_average(const std::vector<Tensor>& averages, const std::vector<Tensor>& values, double decay) {
  if (averages.size() != values.size())
    fail(codes::kLength, "movingAverage needs as many values as averages (", averages.size(), "), got ", values.size());
  // A device backend updates every pair at once: an average written twice, or read as
  // another pair's value, would race.
  std::set<const void*> written;
  for (const Tensor& a : averages)
    if (!written.insert(a.buffer->data()).second)
      fail(codes::kArg, "movingAverage lists the same average (or a view of it) twice");
  for (size_t k = 0; k < values.size(); ++k)
    if (written.count(values[k].buffer->data()) && values[k].buffer->data() != averages[k].buffer->data())
      fail(codes::kArg, "values[", k, "] is another pair's average");
  for (size_t k = 0; k < averages.size(); ++k) check_same_f32(averages[k], "average", values[k], "value");
  require(decay >= 0 && decay <= 1, "decay must be in [0, 1]", decay);
}

}  // namespace gpcnn
