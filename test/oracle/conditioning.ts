/** Float64 references of the conditioning terms: class embedding and global-vector term. */
export function embedding(table: ArrayLike<number>, width: number, labels: ArrayLike<number>): Float64Array {
  const out = new Float64Array(labels.length * width);
  for (let n = 0; n < labels.length; n++)
    for (let d = 0; d < width; d++) out[n * width + d] = table[labels[n] * width + d];
  return out;
}

/** out[b,o] = Σ_d w[o,d]·x[b,d] */
export function linear(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  batch: number,
  features: number,
  outputs: number,
): Float64Array {
  const out = new Float64Array(batch * outputs);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < outputs; o++) {
      let sum = 0;
      for (let d = 0; d < features; d++) sum += w[o * features + d] * x[n * features + d];
      out[n * outputs + o] = sum;
    }
  return out;
}
