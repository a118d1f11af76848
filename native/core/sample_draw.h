// Drawing levels exactly as the TypeScript samplers do (src/sample/draw.ts,
// src/data/rng.ts): one xoshiro128** stream per (seed, image, position), hashed
// from those numbers, and the inverse CDF of softmax(logits / T) in double
// precision. Same seed, same logits: same levels, whichever sampler runs.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace gpcnn {

class SampleRng {
 public:
  // new Rng(seed, 'SAMP', image, position) in rng.ts.
  SampleRng(int64_t seed, int64_t image, int64_t position) {
    uint32_t h[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const int64_t values[4] = {seed, kStream, image, position};
    for (int64_t v : values) {
      absorb(h, static_cast<uint32_t>(static_cast<uint64_t>(v)));
      absorb(h, high_word(v));
    }
    absorb(h, 8);  // the number of words
    if ((h[0] | h[1] | h[2] | h[3]) == 0) h[0] = 1;
    for (int k = 0; k < 4; ++k) s_[k] = h[k];
  }

  // 53 random bits in [0, 1), as Rng.nextDouble().
  double next_double() {
    const uint32_t hi = next() >> 5, lo = next() >> 6;
    return (double(hi) * 67108864.0 + double(lo)) / 9007199254740992.0;
  }

 private:
  static constexpr int64_t kStream = 0x53414d50;  // 'SAMP'

  // Math.floor(value / 2^32) >>> 0, as rng.ts splits a safe integer into words.
  static uint32_t high_word(int64_t v) {
    return static_cast<uint32_t>(static_cast<uint64_t>(static_cast<int64_t>(std::floor(double(v) / 4294967296.0))));
  }
  static uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
  }
  static void absorb(uint32_t h[4], uint32_t w) {
    for (uint32_t k = 0; k < 4; ++k) h[k] = mix32((h[k] ^ w) + (k + 1) * 0x9e3779b9u);
  }
  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t next() {
    const uint32_t result = rotl(s_[1] * 5, 7) * 9;
    const uint32_t t = s_[1] << 9;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 11);
    return result;
  }
  uint32_t s_[4];
};

// The level whose cumulative probability first exceeds u under softmax(logits / T);
// logits holds K values `stride` apart.
inline int draw_level(const float* logits, int64_t stride, int64_t levels, double temperature, double u) {
  double max = -INFINITY;
  for (int64_t k = 0; k < levels; ++k) max = std::fmax(max, double(logits[k * stride]));
  double total = 0;
  for (int64_t k = 0; k < levels; ++k) total += std::exp((double(logits[k * stride]) - max) / temperature);
  const double target = u * total;
  double cumulative = 0;
  for (int64_t k = 0; k < levels; ++k) {
    cumulative += std::exp((double(logits[k * stride]) - max) / temperature);
    if (target < cumulative) return int(k);
  }
  return int(levels - 1);
}

}  // namespace gpcnn
