/** Seeded random test data: every test draws from its own stream, so failures reproduce. */
export type Rng = () => number;

/** mulberry32: small, fast, and good enough for test data. Returns values in [0, 1). */
export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale), rounded to float32 so that both sides see the same numbers. */
export function uniform(rng: Rng, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround((rng() * 2 - 1) * scale);
  return out;
}

/** n integers uniform in [0, limit). */
export function integers(rng: Rng, n: number, limit: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng() * limit);
  return out;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
