// Whether fp32 products may run on TF32 tensor cores, as PyTorch allows for its
// convolutions by default: the CUDA backend's convolutions and the cached sampler's
// vertical stage. GATED_PIXELCNN_TF32=0 turns them off (plain fp32 math: the sampler
// then draws the CPU's images).
#pragma once

#include <cstdlib>
#include <string>

namespace gpcnn {

inline bool tf32_allowed() {
  const char* setting = std::getenv("GATED_PIXELCNN_TF32");
  return !(setting && std::string(setting) == "0");
}

}  // namespace gpcnn
