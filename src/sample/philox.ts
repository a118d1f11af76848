/**
 * Philox4x32-10 (Salmon et al., SC11), the counter-based generator behind every
 * draw: a pure function of (counter, key), so each draw is computed on its own by
 * whichever sampler and device runs it. native/core/philox.h is the same function in
 * C++ and CUDA. This one is checked against Random123's known-answer vectors, and the
 * native one against this one through the samplers' draws (the same images on every path).
 */
import { PixelCNNError } from '../errors';

export type Words4 = [number, number, number, number];

/** The 64-bit product of two uint32 values as [high, low] words (exact, in 16-bit pieces). */
function mulhilo(a: number, b: number): [number, number] {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const lh = al * bh, hl = ah * bl;
  const carry = (((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff)) >>> 16;
  return [(ah * bh + (lh >>> 16) + (hl >>> 16) + carry) >>> 0, Math.imul(a, b) >>> 0];
}

/** Philox4x32 with ten rounds: four uint32 counter words and two key words in, four words out. */
export function philox4x32(counter: Words4, key0: number, key1: number): Words4 {
  let [c0, c1, c2, c3] = counter;
  let k0 = key0 >>> 0, k1 = key1 >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9) >>> 0;
      k1 = (k1 + 0xbb67ae85) >>> 0;
    }
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

const TWO_POW_32 = 0x1_0000_0000;
const SAMPLE_STREAM = 0x5341_4d50; // 'SAMP'

/** A safe integer's two's-complement low and high words. */
function words(value: number, what: string): [number, number] {
  if (!Number.isSafeInteger(value)) throw new PixelCNNError('ERR_ARG', `${what} must be a safe integer, got ${String(value)}`);
  return [value >>> 0, Math.floor(value / TWO_POW_32) >>> 0];
}

/**
 * The uniform number in [0, 1), with 53 random bits, for the draw of image `image` (its
 * index in the whole run) at flat position `position`: key = the seed's words, counter =
 * (position, image's low and high words, 'SAMP').
 */
export function sampleUniform(seed: number, image: number, position: number): number {
  const [s0, s1] = words(seed, 'seed');
  const [i0, i1] = words(image, 'image');
  const [x0, x1] = philox4x32([position >>> 0, i0, i1, SAMPLE_STREAM], s0, s1);
  return ((x0 >>> 5) * 67108864 + (x1 >>> 6)) / 9007199254740992;
}
