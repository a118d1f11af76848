/** Float64 reference of softmax cross-entropy: per-image NLL in nats (SPEC.md §6). */
export function crossEntropy(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  shape: readonly [number, number, number, number, number], // B, C, K, H, W
): Float64Array {
  const [batch, channels, levels, height, width] = shape;
  const plane = height * width;
  const nll = new Float64Array(batch);
  for (let n = 0; n < batch; n++)
    for (let c = 0; c < channels; c++)
      for (let i = 0; i < plane; i++) {
        const at = (k: number) => ((n * channels + c) * levels + k) * plane + i;
        let max = -Infinity;
        for (let k = 0; k < levels; k++) max = Math.max(max, logits[at(k)]);
        let sum = 0;
        for (let k = 0; k < levels; k++) sum += Math.exp(logits[at(k)] - max);
        nll[n] += max - logits[at(targets[(n * channels + c) * plane + i])] + Math.log(sum);
      }
  return nll;
}
