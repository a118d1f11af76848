/**
 * Drawing one level from logits at a temperature (SPEC.md §7). Each draw uses its
 * own uniform number from a stream keyed by (seed, image, position), so the
 * images drawn do not depend on how they are split into batches or on which
 * sampler computed the logits.
 */
import { Rng } from '../data/rng';

/** Tags the sampling streams apart from other uses of the same seed. */
const SAMPLE_STREAM = 0x5341_4d50; // 'SAMP'

/** The uniform number in [0, 1) for image `image` (its index in the whole run) at flat position `position`. */
export function drawUniform(seed: number, image: number, position: number): number {
  return new Rng(seed, SAMPLE_STREAM, image, position).nextDouble();
}

/**
 * The level whose cumulative probability first exceeds u, under softmax(logits / T).
 * `logits` holds K values at `stride` apart starting at `offset`.
 */
export function drawLevel(
  logits: Float32Array, offset: number, stride: number, levels: number, temperature: number, u: number,
): number {
  let max = -Infinity;
  for (let k = 0; k < levels; k++) max = Math.max(max, logits[offset + k * stride]);
  let total = 0;
  for (let k = 0; k < levels; k++) total += Math.exp((logits[offset + k * stride] - max) / temperature);
  const target = u * total;
  let cumulative = 0;
  for (let k = 0; k < levels; k++) {
    cumulative += Math.exp((logits[offset + k * stride] - max) / temperature);
    if (target < cumulative) return k;
  }
  return levels - 1; // rounding left target at the very top
}
