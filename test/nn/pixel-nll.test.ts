/**
 * Per-sub-pixel NLL: each image's values sum to the native loss's NLL of that image,
 * none is negative, and they sit where their sub-pixels do ([B, C, H, W]): changing one
 * sub-pixel leaves the values of every sub-pixel generated before it as they were
 * (SPEC.md §5), changes its own, and changes none in another image.
 */
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { pixelNllFromLogits } from '../../src/nn/pixel-nll';
import { farLogits } from '../helpers/far-logits';
import { cpu } from '../helpers/backend';
import { integers, makeRng, uniform } from '../helpers/random';

const config = { channels: 3, height: 5, width: 6, levels: 5, hidden: 6, layers: 2, firstKernel: 3, kernel: 3, headHidden: 8, classes: 2, condDim: 2 };
const [C, H, W, K] = [3, 5, 6, 5];
const size = C * H * W;

describe('model.pixelNll', () => {
  const model = GatedPixelCNN.create(config, { backend: cpu, seed: 11 });
  const rng = makeRng(12);
  const images = Uint8Array.from(integers(rng, 3 * size, K));
  const cond = { labels: Int32Array.of(1, 0, 1), vectors: Float32Array.from(uniform(rng, 6, 2)) };

  it('sums, image by image, to the NLL of the native loss, and is never negative', () => {
    const pixels = model.pixelNll(images, cond);
    const nll = model.nll(images, cond);
    expect(pixels.length).toBe(3 * size);
    expect(pixels.every((v) => v >= 0)).toBe(true);
    for (let b = 0; b < 3; b++) {
      const sum = pixels.subarray(b * size, (b + 1) * size).reduce((a, v) => a + v, 0);
      expect(Math.abs(sum - nll[b]) / nll[b], `image ${b}`).toBeLessThan(1e-5);
    }
  });

  it('lays the values out [B, C, H, W]: a changed sub-pixel moves its own value and later ones only, in its image only', () => {
    const before = model.pixelNll(images, cond);
    for (const [b, c, i, j] of [[1, 1, 2, 3], [0, 0, 0, 0], [2, 2, 4, 5]]) {
      const at = b * size + (c * H + i) * W + j;
      const changed = images.slice();
      changed[at] = (changed[at] + 2) % K;
      const after = model.pixelNll(changed, cond);
      expect(after[at], `the changed sub-pixel ${[b, c, i, j]}`).not.toBe(before[at]);
      for (let n = 0; n < 3 * size; n++) {
        const [b2, c2, i2, j2] = [Math.floor(n / size), Math.floor(n / (H * W)) % C, Math.floor(n / W) % H, n % W];
        // Generated before (b, c, i, j): an earlier pixel, or an earlier channel of the same one.
        const earlier = i2 < i || (i2 === i && j2 < j) || (i2 === i && j2 === j && c2 < c);
        if (b2 !== b || earlier) expect(after[n], `sub-pixel ${[b2, c2, i2, j2]}`).toBe(before[n]);
      }
    }
  });

  it('keeps log Σ exp beside logits far from zero (diverged weights)', () => {
    const tiny = { ...model.config, channels: 2, height: 3, width: 4, levels: 6 };
    const { logits, targets, nll } = farLogits(rng, [2, 2, 6, 3, 4]);
    expect(Array.from(pixelNllFromLogits(logits, Uint8Array.from(targets), tiny))).toEqual(Array.from(nll, Math.fround));
  });

  it('refuses what nll() refuses (levels ≥ K)', () => {
    const bad = images.slice();
    bad[4] = K;
    expect(() => model.pixelNll(bad, cond)).toThrow(expect.objectContaining({ code: 'ERR_RANGE' }));
  });
});
