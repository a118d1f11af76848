/** Float64 reference of the gate with its additive terms (SPEC.md §3). */
export interface GateTermsData {
  extra?: ArrayLike<number>;
  bias?: ArrayLike<number>; // [B, 2p]
  spatial?: ArrayLike<number>;
}

export function gate(
  u: ArrayLike<number>,
  shape: readonly [number, number, number, number], // B, 2p, H, W
  terms: GateTermsData = {},
): Float64Array {
  const [batch, twoP, height, width] = shape;
  const half = twoP / 2;
  const plane = height * width;
  const pre = (n: number, c: number, i: number) => {
    const at = (n * twoP + c) * plane + i;
    return (
      u[at] +
      (terms.extra ? terms.extra[at] : 0) +
      (terms.spatial ? terms.spatial[at] : 0) +
      (terms.bias ? terms.bias[n * twoP + c] : 0)
    );
  };
  const out = new Float64Array(batch * half * plane);
  for (let n = 0; n < batch; n++)
    for (let c = 0; c < half; c++)
      for (let i = 0; i < plane; i++)
        out[(n * half + c) * plane + i] =
          Math.tanh(pre(n, c, i)) / (1 + Math.exp(-pre(n, c + half, i)));
  return out;
}
