/**
 * SPEC.md §5, exactly, through the real model: with random weights, the logits of
 * channel c at (i, j) depend on every input in their set (no blind spot) and on
 * nothing else (no leak). Each input sub-pixel is perturbed in turn, a whole
 * batch of perturbations per forward pass, and every output compared with the
 * unperturbed image's in the same batch slot, so that an output that does not
 * depend on the input is bit-for-bit equal.
 */
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import type { ConfigInput } from '../../src/nn/config';
import { receptiveRadius } from '../../src/nn/layout';
import { cpu } from '../helpers/backend';
import { integers, makeRng, uniform } from '../helpers/random';

const configs: (ConfigInput & { name: string })[] = [
  { name: 'C=1, n0=7, n=3, L=3, 9×8, classes', channels: 1, height: 9, width: 8, levels: 4, hidden: 6, layers: 3, firstKernel: 7, kernel: 3, skip: 5, headHidden: 8, classes: 3 },
  { name: 'C=3, n0=3, n=5, L=2, 7×7, global vector', channels: 3, height: 7, width: 7, levels: 5, hidden: 5, layers: 2, firstKernel: 3, kernel: 5, skip: 6, headHidden: 8, condDim: 2 },
  { name: 'C=1, n0=5, n=3, L=4, 12×10, spatial map', channels: 1, height: 12, width: 10, levels: 2, hidden: 4, layers: 4, firstKernel: 5, kernel: 3, skip: 4, headHidden: 8, spatialCond: 2 },
  { name: 'C=2, n0=3, n=3, L=1, 5×6', channels: 2, height: 5, width: 6, levels: 3, hidden: 4, layers: 1, firstKernel: 3, kernel: 3, skip: 4, headHidden: 8 },
];

/** Does the output (c, i, j) depend on the input (c2, i2, j2)? SPEC.md §5, clipped to the image. */
function inSet(R: number, c: number, i: number, j: number, c2: number, i2: number, j2: number): boolean {
  if (i2 >= i - R && i2 <= i - 1 && Math.abs(j2 - j) <= R) return true;
  if (i2 === i && j2 >= j - R && j2 <= j - 1) return true;
  return i2 === i && j2 === j && c2 < c;
}

describe.each(configs)('causality: $name', ({ name, ...config }) => {
  it('each logit depends on exactly its SPEC.md §5 set', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 7 });
    const { channels: C, height: H, width: W, levels: K } = model.config;
    const R = receptiveRadius(model.config);
    const rng = makeRng(name.length);
    const plane = H * W;
    const inputs = C * plane;
    const base = Uint8Array.from(integers(rng, inputs, K));
    // One batch slot per input sub-pixel; the slot's image has that sub-pixel moved far.
    const perturbed = new Uint8Array(inputs * inputs);
    for (let s = 0; s < inputs; s++) {
      perturbed.set(base, s * inputs);
      perturbed[s * inputs + s] = base[s] < K / 2 ? K - 1 : 0;
    }
    const cond = {
      labels: model.config.classes ? Int32Array.from({ length: inputs }, () => 1) : undefined,
      vectors: model.config.condDim ? repeat(uniform(rng, model.config.condDim), inputs) : undefined,
      spatial: model.config.spatialCond ? repeat(uniform(rng, model.config.spatialCond * plane), inputs) : undefined,
    };
    const baseBatch = new Uint8Array(inputs * inputs);
    for (let s = 0; s < inputs; s++) baseBatch.set(base, s * inputs);
    const before = model.logits(baseBatch, cond);
    const after = model.logits(perturbed, cond);

    const leaks: string[] = [];
    const blind: string[] = [];
    for (let s = 0; s < inputs; s++) {
      const [c2, i2, j2] = [Math.floor(s / plane), Math.floor((s % plane) / W), s % W];
      for (let c = 0; c < C; c++)
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++) {
            let changed = false;
            for (let k = 0; k < K; k++) {
              const at = (((s * C + c) * K + k) * H + i) * W + j;
              if (before[at] !== after[at]) changed = true;
            }
            const expected = inSet(R, c, i, j, c2, i2, j2);
            if (changed && !expected) leaks.push(`out (${c},${i},${j}) <- in (${c2},${i2},${j2})`);
            if (!changed && expected) blind.push(`out (${c},${i},${j}) </- in (${c2},${i2},${j2})`);
          }
    }
    expect(leaks, 'leaks').toEqual([]);
    expect(blind, 'blind spots').toEqual([]);
    model.dispose();
  });
});

function repeat(values: Float64Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let t = 0; t < times; t++) out.set(values, t * values.length);
  return out;
}
