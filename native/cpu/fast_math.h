// exp, tanh and sigmoid written so that GCC vectorizes loops over them (no calls,
// no branches): Cephes' single-precision exp, a Cody–Waite range reduction and a
// degree-6 polynomial, about 2 ulp. std::exp and std::tanh are scalar calls and
// made the gates the slowest part of a training step.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace gpcnn {

inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // x = n·ln2 + r with |r| ≤ ln2/2; ln2 split in two so that n·ln2 is exact.
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  // 2^n. A NaN x passes the clamp, so that the result is NaN; converting NaN to an int
  // is undefined, so it gives the exponent −127 (a scale of 0, and NaN · 0 is NaN). The
  // shift is unsigned: a negative int shifted left is undefined too.
  const float e = n > -127.0f ? n : -127.0f;
  const uint32_t bits = uint32_t(static_cast<int32_t>(e) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

inline float fast_tanh(float x) { return 2.0f / (1.0f + fast_exp(-2.0f * x)) - 1.0f; }

}  // namespace gpcnn
