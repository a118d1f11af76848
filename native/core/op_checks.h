// Shape and dtype checks for every op, shared by all backends. Each returns the
// output shape(s) or throws an Error with ERR_SHAPE / ERR_DTYPE and a message that
// names the argument and both shapes. Value checks (label ranges) are the
// backends' job, since only they can read the data.
#pragma once

#include <initializer_list>

#include "backend.h"
#include "tensor.h"

namespace gpcnn {

void expect_dtype(const Tensor& t, DType dtype, const char* name);
void expect_rank(const Tensor& t, size_t rank, const char* name);
void expect_same_shape(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name);

// x [B,Cin,H,W], w [O,Cin/groups,kh,kw], b [O] -> y [B,O,H,W].
Shape check_conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p);
// grad_y [B,O,H,W], w -> grad_x [B,Cin,H,W].
Shape check_conv_backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p);
// x, grad_y, kernel size -> grad_w [O,Cin/groups,kh,kw] (grad_b is [O]).
Shape check_conv_backward_weights(const Tensor& x, const Tensor& grad_y, int64_t kh, int64_t kw,
                                  const ConvParams& p);

Shape check_gate(const GateInputs& in);  // -> [B, p, H, W]
void check_gate_backward(const GateInputs& in, const Tensor& grad_out);

Shape check_embedding(const Tensor& table, const Tensor& labels);  // -> [B, D]
Shape check_embedding_backward(const Tensor& grad_out, const Tensor& labels, int64_t classes);

Shape check_linear(const Tensor& x, const Tensor& w);  // -> [B, O]
void check_linear_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w);

void check_same_f32(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name);

// An existing tensor that an op adds its result into: float32 of the result's shape,
// and sharing no memory with the op's inputs, which it would overwrite as they are read.
void check_accumulation_target(const Tensor& target, const Shape& result,
                               std::initializer_list<const Tensor*> inputs);

// x [N, C, ...] -> [C].
Shape check_channel_sums(const Tensor& x);

Shape check_head_channels(const Tensor& zs, const Tensor* prev, const Tensor& xt);  // -> [B,C·q,H,W]
void check_head_channels_backward(const Tensor& grad_out, const Tensor& out, const Tensor& xt,
                                  int64_t q);

void check_softmax_cross_entropy(const Tensor& logits, const Tensor& targets);

void check_adam(const std::vector<AdamUpdate>& updates, const AdamParams& p);

// Moving averages: pairs of float32 tensors of one shape, every average written once and
// read by no other pair, decay in [0, 1].
void check_moving_average(const std::vector<Tensor>& averages, const std::vector<Tensor>& values, double decay);

}  // namespace gpcnn
