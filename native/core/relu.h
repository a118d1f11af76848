// ReLU as PyTorch computes it: NaN stays NaN (a comparison `x > 0 ? x : 0` or fmaxf
// would turn it into 0 and hide a diverged weight from the loss). Shared by both
// backends' forward passes and samplers, so that they agree on every input.
#pragma once

#include "host_device.h"

namespace gpcnn {

GPCNN_HD inline float relu(float x) { return x <= 0.f ? 0.f : x; }

}  // namespace gpcnn
