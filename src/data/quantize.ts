/**
 * Quantization of SPEC.md §1: 8-bit pixels p to levels x = floor(p·K/256), levels back
 * to 8-bit display pixels p = round(x·255/(K−1)), and levels to the network's input
 * x̃ = 2x/(K−1) − 1. Each works through a lookup table, so it is exact and fast;
 * K = 2 is binarization at 128.
 */
import { PixelCNNError } from '../errors';

/** Throws ERR_ARG unless K is an integer in 2..256. */
export function checkLevels(levels: number, what = 'levels'): void {
  if (!Number.isInteger(levels) || levels < 2 || levels > 256) {
    throw new PixelCNNError('ERR_ARG', `${what} must be an integer in 2..256, got ${String(levels)}`);
  }
}

/** Throws ERR_TYPE unless `values` is a Uint8Array (the tables below index with its values). */
function checkBytes(values: unknown, fn: string, what: string): void {
  if (!(values instanceof Uint8Array)) throw new PixelCNNError('ERR_TYPE', `${fn}: ${what} must be a Uint8Array`);
}

function checkInRange(levels: Uint8Array, K: number, fn: string): void {
  checkBytes(levels, fn, 'levels');
  for (let i = 0; i < levels.length; i++) {
    if (levels[i] >= K) {
      throw new PixelCNNError('ERR_RANGE', `${fn}: level ${levels[i]} at index ${i} is not below K = ${K}`);
    }
  }
}

/** 8-bit pixels → levels in 0..K−1. */
export function quantize(pixels: Uint8Array, levels: number): Uint8Array {
  checkLevels(levels);
  checkBytes(pixels, 'quantize', 'pixels');
  const table = new Uint8Array(256);
  for (let p = 0; p < 256; p++) table[p] = Math.floor((p * levels) / 256);
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = table[pixels[i]];
  return out;
}

/** Levels in 0..K−1 → 8-bit display pixels (0 → 0, K−1 → 255). ERR_RANGE for a level ≥ K. */
export function toDisplay(levels: Uint8Array, K: number): Uint8Array {
  checkLevels(K, 'K');
  checkInRange(levels, K, 'toDisplay');
  const table = new Uint8Array(K);
  // x·255/(K−1) is exact whenever it is a half-integer, so Math.round (half up) is exact too.
  for (let x = 0; x < K; x++) table[x] = Math.round((x * 255) / (K - 1));
  const out = new Uint8Array(levels.length);
  for (let i = 0; i < levels.length; i++) out[i] = table[levels[i]];
  return out;
}

/**
 * Levels in 0..K−1 → 8-bit pixels that quantize() maps back to the same levels: toDisplay's
 * values, each moved into its level's bin [⌈x·256/K⌉, ⌈(x+1)·256/K⌉ − 1] where the rounding
 * put it outside (for 206 of the 255 K, by a few units at most), so that images saved as
 * PNG files read back as the levels they hold. ERR_RANGE for a level ≥ K.
 */
export function toExactPixels(levels: Uint8Array, K: number): Uint8Array {
  checkLevels(K, 'K');
  checkInRange(levels, K, 'toExactPixels');
  const table = new Uint8Array(K);
  for (let x = 0; x < K; x++) {
    const [low, high] = [Math.ceil((x * 256) / K), Math.ceil(((x + 1) * 256) / K) - 1];
    table[x] = Math.min(high, Math.max(low, Math.round((x * 255) / (K - 1))));
  }
  const out = new Uint8Array(levels.length);
  for (let i = 0; i < levels.length; i++) out[i] = table[levels[i]];
  return out;
}

/** Levels in 0..K−1 → the network's input in [−1, 1]. ERR_RANGE for a level ≥ K. */
export function toUnit(levels: Uint8Array, K: number): Float32Array {
  checkLevels(K, 'K');
  checkInRange(levels, K, 'toUnit');
  const table = new Float32Array(K);
  for (let x = 0; x < K; x++) table[x] = (2 * x) / (K - 1) - 1;
  const out = new Float32Array(levels.length);
  for (let i = 0; i < levels.length; i++) out[i] = table[levels[i]];
  return out;
}
