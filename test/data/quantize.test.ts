/** Quantization (SPEC.md §1): the exact formulas over every 8-bit value and every level. */
import { describe, expect, it } from 'vitest';

import { quantize, toDisplay, toExactPixels, toUnit } from '../../src/data/quantize';
import { makeRng } from '../helpers/random';

const byCode = (code: string) => expect.objectContaining({ code });
const allPixels = Uint8Array.from({ length: 256 }, (_, p) => p);

describe('quantize', () => {
  it.each([2, 3, 4, 7, 16, 255, 256])('K = %i: x = floor(p·K/256) for every p', (K) => {
    const x = quantize(allPixels, K);
    for (let p = 0; p < 256; p++) expect(x[p]).toBe(Math.floor((p * K) / 256));
  });

  it('K = 2 is binarization at 128; K = 4 splits at 64, 128, 192; K = 256 is the identity', () => {
    expect([...quantize(allPixels, 2)]).toEqual(Array.from({ length: 256 }, (_, p) => (p >= 128 ? 1 : 0)));
    expect([...quantize(allPixels, 4)]).toEqual(Array.from({ length: 256 }, (_, p) => (p >> 6)));
    expect(quantize(allPixels, 256)).toEqual(allPixels);
  });

  it('keeps random data element by element', () => {
    const rng = makeRng(41);
    const pixels = Uint8Array.from({ length: 1000 }, () => Math.floor(rng() * 256));
    const x = quantize(pixels, 5);
    pixels.forEach((p, i) => expect(x[i]).toBe(Math.floor((p * 5) / 256)));
  });

  it('refuses pixels or levels that are not a Uint8Array (ERR_TYPE)', () => {
    expect(() => quantize(Uint16Array.of(300) as never, 4)).toThrow(byCode('ERR_TYPE'));
    expect(() => toDisplay([0.5, 3] as never, 4)).toThrow(byCode('ERR_TYPE'));
    expect(() => toUnit(Int8Array.of(-1, 1) as never, 4)).toThrow(byCode('ERR_TYPE'));
  });

  it.each([1, 257, 0, 2.5, NaN])('refuses K = %s (ERR_ARG)', (K) => {
    expect(() => quantize(allPixels, K)).toThrow(byCode('ERR_ARG'));
    expect(() => toDisplay(new Uint8Array(1), K)).toThrow(byCode('ERR_ARG'));
    expect(() => toUnit(new Uint8Array(1), K)).toThrow(byCode('ERR_ARG'));
  });
});

describe('toDisplay and toUnit', () => {
  it.each([2, 3, 4, 16, 256])('K = %i: p = round(x·255/(K−1)), x̃ = 2x/(K−1) − 1', (K) => {
    const levels = Uint8Array.from({ length: K }, (_, x) => x);
    const p = toDisplay(levels, K);
    const u = toUnit(levels, K);
    expect(p[0]).toBe(0);
    expect(p[K - 1]).toBe(255);
    expect(u[0]).toBe(-1);
    expect(u[K - 1]).toBe(1);
    for (let x = 0; x < K; x++) {
      expect(p[x]).toBe(Math.round((x * 255) / (K - 1)));
      expect(u[x]).toBe(Math.fround((2 * x) / (K - 1) - 1));
      expect(u[x]).toBeGreaterThanOrEqual(-1);
      expect(u[x]).toBeLessThanOrEqual(1);
    }
  });

  it('K = 3 rounds the half-way level up (127.5 → 128); K = 256 is the identity', () => {
    expect([...toDisplay(Uint8Array.from([0, 1, 2]), 3)]).toEqual([0, 128, 255]);
    expect(toDisplay(allPixels, 256)).toEqual(allPixels);
  });

  it('quantize then toDisplay stays within one level (256 / K) of the input, and is exact at K = 256', () => {
    for (const K of [2, 4, 16]) {
      const back = toDisplay(quantize(allPixels, K), K);
      for (let p = 0; p < 256; p++) expect(Math.abs(back[p] - p)).toBeLessThanOrEqual(256 / K);
    }
    expect(toDisplay(quantize(allPixels, 256), 256)).toEqual(allPixels);
  });

  it('refuses a level ≥ K (ERR_RANGE)', () => {
    expect(() => toDisplay(Uint8Array.from([0, 4]), 4)).toThrow(byCode('ERR_RANGE'));
    expect(() => toUnit(Uint8Array.from([2]), 2)).toThrow(byCode('ERR_RANGE'));
  });
});

describe('toExactPixels', () => {
  it('gives, for every K, pixels that quantize back to their levels, within 1 of toDisplay\'s', () => {
    let moved = 0;
    for (let K = 2; K <= 256; K++) {
      const levels = Uint8Array.from({ length: K }, (_, x) => x);
      const pixels = toExactPixels(levels, K);
      const display = toDisplay(levels, K);
      expect(quantize(pixels, K), `K = ${K}`).toEqual(levels);
      for (let x = 0; x < K; x++) expect(Math.abs(pixels[x] - display[x]), `K = ${K}, x = ${x}`).toBeLessThanOrEqual(1);
      expect([pixels[0], pixels[K - 1]]).toEqual([0, 255]);
      if (!display.every((p, x) => p === pixels[x])) moved++;
    }
    // toDisplay itself does not quantize back for most K: the case this function exists for.
    expect(moved).toBe(206);
    expect(() => toExactPixels(Uint8Array.from([4]), 4)).toThrow(byCode('ERR_RANGE'));
  });
});
