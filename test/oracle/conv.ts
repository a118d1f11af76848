/**
 * Float64 reference of the offset convolution, written straight from SPEC.md §3:
 * out[n,o,i,j] = b[o] + Σ_{c,a,e} w[o,c,a,e]·x[n, g·Cg+c, i−dy+a, j−dx+e], zero outside.
 */
export interface ConvShape {
  input: readonly [number, number, number, number]; // B, C, H, W
  weight: readonly [number, number, number, number]; // O, C/groups, kh, kw
  dy: number;
  dx: number;
  groups: number;
}

export function offsetConv(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  s: ConvShape,
): Float64Array {
  const [batch, , height, width] = s.input;
  const [outChannels, groupIn, kh, kw] = s.weight;
  const inChannels = s.input[1];
  const groupOut = outChannels / s.groups;
  const out = new Float64Array(batch * outChannels * height * width);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < outChannels; o++) {
      const firstIn = Math.floor(o / groupOut) * groupIn;
      for (let i = 0; i < height; i++)
        for (let j = 0; j < width; j++) {
          let sum = b ? b[o] : 0;
          for (let c = 0; c < groupIn; c++)
            for (let a = 0; a < kh; a++) {
              const row = i - s.dy + a;
              if (row < 0 || row >= height) continue;
              for (let e = 0; e < kw; e++) {
                const col = j - s.dx + e;
                if (col < 0 || col >= width) continue;
                sum +=
                  w[((o * groupIn + c) * kh + a) * kw + e] *
                  x[((n * inChannels + firstIn + c) * height + row) * width + col];
              }
            }
          out[((n * outChannels + o) * height + i) * width + j] = sum;
        }
    }
  return out;
}
