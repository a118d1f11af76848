import { describe, expect, it } from 'vitest';

import { philox4x32, sampleUniform } from '../../src/sample/philox';

describe('Philox4x32-10', () => {
  it("matches Random123's known-answer vectors", () => {
    expect(philox4x32([0, 0, 0, 0], 0, 0)).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    const ones = 0xffffffff;
    expect(philox4x32([ones, ones, ones, ones], ones, ones)).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    expect(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], 0xa4093822, 0x299f31d0)).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });

  it('gives uniform numbers in [0, 1) that depend on seed, image and position', () => {
    const values = new Set<number>();
    let sum = 0;
    const n = 20000;
    for (let k = 0; k < n; k++) {
      const u = sampleUniform(7, k % 100, Math.floor(k / 100));
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      values.add(u);
      sum += u;
    }
    expect(values.size).toBe(n);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01); // σ of the mean ≈ 0.002 for n = 20000
    expect(sampleUniform(-3, 2 ** 40, 5)).not.toBe(sampleUniform(-3, 0, 5));
    expect(sampleUniform(-1, 1, 5)).not.toBe(sampleUniform(2 ** 52, 1, 5));
    expect(() => sampleUniform(0.5, 0, 0)).toThrow(/safe integer/);
  });
});
