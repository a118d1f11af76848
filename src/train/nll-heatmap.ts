/**
 * Where a model is surprised: a grid with one row an image, the image and beside it a
 * gray map of its per-pixel NLL (summed over the channels), black for a pixel the model
 * was sure of and white for one at least as surprising as a uniform guess (C·ln K
 * nats), a fixed scale so that maps of different images and models compare.
 */
import { toDisplay } from '../data/quantize';
import type { ModelConfig } from '../nn/config';

/** Display pixels [2N, C, H, W] of the grid for levels [N, C, H, W] and their per-sub-pixel NLL (same layout). */
export function nllHeatmapGrid(config: ModelConfig, levels: Uint8Array, pixelNll: Float32Array): Uint8Array {
  const { channels: C, height: H, width: W, levels: K } = config;
  const plane = H * W;
  const size = C * plane;
  const images = levels.length / size;
  const shown = toDisplay(levels, K);
  const white = C * Math.log(K);
  // Gray in the color channels; opaque where the last channel is alpha (2 or 4 channels).
  const colorChannels = C === 2 || C === 4 ? C - 1 : C;
  const grid = new Uint8Array(2 * images * size);
  for (let n = 0; n < images; n++) {
    grid.set(shown.subarray(n * size, (n + 1) * size), 2 * n * size);
    const map = grid.subarray((2 * n + 1) * size, (2 * n + 2) * size);
    for (let k = 0; k < plane; k++) {
      let nats = 0;
      for (let c = 0; c < C; c++) nats += pixelNll[n * size + c * plane + k];
      const gray = Math.round(255 * Math.min(1, Math.max(0, nats) / white));
      for (let c = 0; c < C; c++) map[c * plane + k] = c < colorChannels ? gray : 255;
    }
  }
  return grid;
}
