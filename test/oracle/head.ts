/**
 * Float64 reference of the head's per-channel inputs (SPEC.md §4):
 * out[n, c·q+k] = relu(hidden[n,k] + Σ_{c'<c} prev[k,c,c']·x̃[n,c']).
 */
export function headChannels(
  hidden: ArrayLike<number>,
  prev: ArrayLike<number> | null,
  xt: ArrayLike<number>,
  shape: { batch: number; q: number; channels: number; plane: number },
): Float64Array {
  const { batch, q, channels, plane } = shape;
  const out = new Float64Array(batch * channels * q * plane);
  for (let n = 0; n < batch; n++)
    for (let c = 0; c < channels; c++)
      for (let k = 0; k < q; k++)
        for (let i = 0; i < plane; i++) {
          let sum = hidden[(n * q + k) * plane + i];
          for (let cp = 0; cp < c; cp++)
            sum += prev![(k * channels + c) * channels + cp] * xt[(n * channels + cp) * plane + i];
          out[((n * channels + c) * q + k) * plane + i] = Math.max(sum, 0);
        }
  return out;
}
