/**
 * Logits far from zero, as diverged weights give: every level sits at 2^57 or one
 * float32 step (2^34) below it, at random, and each target at a top level. Each
 * sub-pixel's NLL is then exactly log(its number of top levels): a loss that adds
 * log Σ exp to the max before subtracting the target's logit loses it (and gives 0).
 */
import type { Rng } from './random';

const TOP = 2 ** 57;
const BELOW = TOP - 2 ** 34;

export function farLogits(rng: Rng, shape: readonly [number, number, number, number, number]) {
  const [batch, channels, levels, height, width] = shape;
  const plane = height * width;
  const logits = new Float32Array(batch * channels * levels * plane).fill(BELOW);
  const targets = new Int32Array(batch * channels * plane);
  const nll = new Float64Array(targets.length); // per sub-pixel, [B, C, H, W]
  for (let slice = 0; slice < batch * channels; slice++) {
    for (let i = 0; i < plane; i++) {
      const top: number[] = [];
      for (let k = 0; k < levels; k++) if (rng() < 0.5) top.push(k);
      if (top.length === 0) top.push(Math.floor(rng() * levels));
      for (const k of top) logits[(slice * levels + k) * plane + i] = TOP;
      targets[slice * plane + i] = top[Math.floor(rng() * top.length)];
      nll[slice * plane + i] = Math.log(top.length);
    }
  }
  const perImage = Array.from({ length: batch }, (_, n) =>
    nll.subarray(n * channels * plane, (n + 1) * channels * plane).reduce((a, b) => a + b, 0));
  return { logits, targets, nll, perImage };
}
