// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3",
// SC11): a counter-based generator, i.e. a pure function of (counter, key). Every
// draw of every sampler takes its uniform number from it, keyed by the seed and
// counted by (position, image), so any thread on any device computes any draw
// without shared state, and the TypeScript copy (src/sample/philox.ts) gives the
// same numbers.
#pragma once

#include <cstdint>

#include "host_device.h"

namespace gpcnn {

struct Philox4x32 {
  uint32_t v[4];
};

GPCNN_HD inline void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = uint64_t(a) * uint64_t(b);
  hi = uint32_t(product >> 32);
  lo = uint32_t(product);
}

// Ten rounds with the reference multipliers and Weyl key increments.
GPCNN_HD inline Philox4x32 philox4x32_10(Philox4x32 counter, uint32_t key0, uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) key0 += 0x9E3779B9u, key1 += 0xBB67AE85u;
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, counter.v[0], hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, counter.v[2], hi1, lo1);
    counter = {{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
  }
  return counter;
}

// The uniform number in [0, 1), with 53 random bits, for one draw: key = the seed's
// two's-complement words, counter = (position, image low word, image high word, 'SAMP').
GPCNN_HD inline double sample_uniform(int64_t seed, int64_t image, int64_t position) {
  const uint64_t s = uint64_t(seed), im = uint64_t(image);
  const Philox4x32 out =
      philox4x32_10({{uint32_t(position), uint32_t(im), uint32_t(im >> 32), 0x53414d50u}}, uint32_t(s), uint32_t(s >> 32));
  return (double(out.v[0] >> 5) * 67108864.0 + double(out.v[1] >> 6)) / 9007199254740992.0;
}

}  // namespace gpcnn
