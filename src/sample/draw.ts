/**
 * Drawing one level from logits at a temperature (SPEC.md §7). Each draw uses its
 * own uniform number, Philox of (seed, image, position) (./philox.ts), so the
 * images drawn do not depend on how they are split into batches or on which
 * sampler computed the logits.
 */

/**
 * The level whose cumulative probability first exceeds u, under softmax(logits / T).
 * `logits` holds K values at `stride` apart starting at `offset`. -1 where they are not
 * all finite (a NaN, or an infinity, which leaves the weights NaN), as the weights of a
 * run that diverged make them: every comparison would fail, drawing the top level.
 */
export function drawLevel(
  logits: Float32Array, offset: number, stride: number, levels: number, temperature: number, u: number,
): number {
  let max = -Infinity;
  for (let k = 0; k < levels; k++) max = Math.max(max, logits[offset + k * stride]);
  let total = 0;
  for (let k = 0; k < levels; k++) total += Math.exp((logits[offset + k * stride] - max) / temperature);
  if (!(total >= 1 && total <= levels)) return -1; // the largest weight is exp(0) = 1
  const target = u * total;
  let cumulative = 0;
  for (let k = 0; k < levels; k++) {
    cumulative += Math.exp((logits[offset + k * stride] - max) / temperature);
    if (target < cumulative) return k;
  }
  return levels - 1; // rounding left target at the very top
}
