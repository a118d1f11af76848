/**
 * The NLL heatmap grid: each image beside a gray map of its per-pixel NLL summed over
 * channels, on the fixed scale 0 (black) … C·ln K nats (white), clipped; an alpha
 * channel opaque in the map.
 */
import { describe, expect, it } from 'vitest';

import { toDisplay } from '../../src/data/quantize';
import { resolveConfig } from '../../src/nn/config';
import { nllHeatmapGrid } from '../../src/train/nll-heatmap';
import { makeRng } from '../helpers/random';

describe('nllHeatmapGrid', () => {
  it.each([1, 2, 3, 4])('puts each image beside its map, gray from 0 to C·ln K nats (%i channels)', (channels) => {
    const config = resolveConfig({ channels, height: 3, width: 4, levels: 6 });
    const plane = 12;
    const size = channels * plane;
    const rng = makeRng(channels);
    const levels = Uint8Array.from({ length: 2 * size }, () => Math.floor(rng() * 6));
    const white = channels * Math.log(6);
    // Per pixel, a total spread over the scale (two beyond it), shared unevenly by the channels: the last takes half.
    const totals = Array.from({ length: 2 * plane }, (_, k) => (k === 3 ? 2 * white : k === 5 ? -1 : (white * (k % plane)) / (plane - 1)));
    const shares = Array.from({ length: channels }, (_, c) => (channels === 1 ? 1 : c === channels - 1 ? 0.5 : 0.5 / (channels - 1)));
    const pixelNll = new Float32Array(2 * size);
    totals.forEach((nats, k) => {
      for (let c = 0; c < channels; c++) pixelNll[Math.floor(k / plane) * size + c * plane + (k % plane)] = nats * shares[c];
    });
    const grid = nllHeatmapGrid(config, levels, pixelNll);
    expect(grid.length).toBe(4 * size);
    const shown = toDisplay(levels, 6);
    for (let n = 0; n < 2; n++) {
      expect(grid.subarray(2 * n * size, (2 * n + 1) * size)).toEqual(shown.subarray(n * size, (n + 1) * size));
      const map = grid.subarray((2 * n + 1) * size, (2 * n + 2) * size);
      for (let k = 0; k < plane; k++) {
        const gray = Math.round(255 * Math.min(1, Math.max(0, totals[n * plane + k]) / white));
        if (k === 6) expect(gray).toBeGreaterThan(100); // a mid-scale pixel, to which every channel adds
        for (let c = 0; c < channels; c++) {
          const alpha = (channels === 2 || channels === 4) && c === channels - 1;
          expect(map[c * plane + k], `image ${n}, pixel ${k}, channel ${c}`).toBe(alpha ? 255 : gray);
        }
      }
    }
    expect(grid[size + 3]).toBe(255); // 2·C·ln K nats: white
    expect(grid[size + 5]).toBe(0); // negative (rounding): black
  });

  it('sums the channels of a pixel', () => {
    const config = resolveConfig({ channels: 3, height: 1, width: 1, levels: 2 });
    const white = 3 * Math.log(2);
    const grid = nllHeatmapGrid(config, Uint8Array.of(0, 1, 0), Float32Array.of(white / 8, white / 8, white / 4));
    expect([...grid.subarray(3)]).toEqual([128, 128, 128]);
  });
});
