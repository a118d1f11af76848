/** The xoshiro128** generator: reference outputs, exact save/restore, independent streams, distributions. */
import { describe, expect, it } from 'vitest';

import { Rng, type RngState } from '../../src/data/rng';

const byCode = (code: string) => expect.objectContaining({ code });

/** An independent xoshiro128** written with BigInt, straight from the reference C. */
function* reference(state: RngState): Generator<number> {
  const M = 0xffffffffn;
  const s = state.map(BigInt);
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
  for (;;) {
    yield Number((rotl((s[1] * 5n) & M, 7n) * 9n) & M);
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
  }
}

describe('Rng', () => {
  it('matches xoshiro128** from state [1, 2, 3, 4] (values worked by hand) and a BigInt reference', () => {
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([11520, 0, 5927040]);
    const start: RngState = [0x9e3779b9, 0xdeadbeef, 0x00000001, 0xffffffff];
    const ours = Rng.fromState(start);
    const ref = reference(start);
    for (let i = 0; i < 2000; i++) expect(ours.nextUint32()).toBe(ref.next().value);
  });

  it('state survives a JSON round trip and continues identically; clone is independent', () => {
    const rng = new Rng(1234, 5);
    for (let i = 0; i < 17; i++) rng.nextUint32();
    const saved = JSON.parse(JSON.stringify(rng.state)) as RngState;
    const copy = rng.clone();
    const expected = Array.from({ length: 50 }, () => rng.nextUint32());
    const resumed = Rng.fromState(saved);
    expect(Array.from({ length: 50 }, () => resumed.nextUint32())).toEqual(expected);
    expect(Array.from({ length: 50 }, () => copy.nextUint32())).toEqual(expected);
    // Setting the state rewinds too.
    rng.state = saved;
    expect(rng.nextUint32()).toBe(expected[0]);
  });

  it('same seed and keys give the same stream; any difference gives an unrelated one', () => {
    const first = (rng: Rng): number[] => Array.from({ length: 8 }, () => rng.nextUint32());
    expect(first(new Rng(7, 1, 2))).toEqual(first(new Rng(7, 1, 2)));
    const variants = [
      new Rng(7), new Rng(7, 0), new Rng(7, 0, 0), new Rng(8), new Rng(7, 1), new Rng(7, 2),
      new Rng(7, 1, 2), new Rng(7, 2, 1), new Rng(0), new Rng(-1), new Rng(2 ** 32 + 7), new Rng(2 ** 53 - 1),
    ].map(first);
    const distinct = new Set(variants.flat());
    expect(distinct.size).toBe(variants.length * 8); // no shared outputs at all
  });

  it('refuses seeds that are not safe integers and malformed states (ERR_ARG)', () => {
    for (const seed of [0.5, NaN, Infinity, 2 ** 53]) expect(() => new Rng(seed)).toThrow(byCode('ERR_ARG'));
    expect(() => new Rng(1, 0.5)).toThrow(byCode('ERR_ARG'));
    for (const state of [[0, 0, 0, 0], [1, 2, 3], [1, 2, 3, 2 ** 32], [1, 2, 3, -1], [1, 2, 3, 0.5]]) {
      expect(() => Rng.fromState(state as RngState)).toThrow(byCode('ERR_ARG'));
    }
  });

  it('nextFloat and nextDouble lie in [0, 1) with mean ≈ 1/2', () => {
    const rng = new Rng(99);
    for (const draw of [() => rng.nextFloat(), () => rng.nextDouble()]) {
      let sum = 0;
      for (let i = 0; i < 20000; i++) {
        const u = draw();
        expect(u >= 0 && u < 1).toBe(true);
        sum += u;
      }
      expect(Math.abs(sum / 20000 - 0.5)).toBeLessThan(0.01);
    }
  });

  it('nextBelow(n) covers 0..n−1 evenly (chi-square), also for n that do not divide 2^32', () => {
    const rng = new Rng(100);
    for (const n of [1, 2, 3, 10, 1000]) {
      const counts = new Array<number>(n).fill(0);
      const draws = 200 * n;
      for (let i = 0; i < draws; i++) counts[rng.nextBelow(n)]++;
      const expected = draws / n;
      const chi2 = counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
      // Mean n−1, sd √(2(n−1)): 5 sd is never reached by chance in practice.
      expect(chi2).toBeLessThanOrEqual(n - 1 + 5 * Math.sqrt(2 * Math.max(n - 1, 1)));
    }
    expect(rng.nextBelow(2 ** 32)).toBeLessThan(2 ** 32);
    for (const n of [0, -1, 1.5, 2 ** 32 + 1]) expect(() => rng.nextBelow(n)).toThrow(byCode('ERR_ARG'));
  });

  it('nextNormal has mean ≈ 0 and variance ≈ 1', () => {
    const rng = new Rng(101);
    const xs = Array.from({ length: 40000 }, () => rng.nextNormal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(xs.every(Number.isFinite)).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.04);
  });
});
