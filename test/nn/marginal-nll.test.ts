/**
 * The marginal NLL of a class-conditional model, −log (1/N) Σ_y p(x | y): against the
 * sum done directly where it does not underflow, stable where it would, between its
 * bounds (the best class's NLL and that plus ln N), and through evaluate() for a test
 * set without labels.
 */
import { describe, expect, it } from 'vitest';

import type { ImageDataset } from '../../src/data/dataset';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { marginalNll } from '../../src/nn/marginal-nll';
import { evaluate } from '../../src/train/evaluate';
import { cpu } from '../helpers/backend';
import { integers, makeRng, uniform } from '../helpers/random';

describe('marginalNll (from each class\'s NLL)', () => {
  it('is −log of the mean likelihood, computed directly where that does not underflow', () => {
    const rng = makeRng(3);
    const perClass = Array.from({ length: 4 }, () => Float32Array.from(uniform(rng, 5, 3), (v) => v + 4)); // 1 … 7 nats
    const direct = Array.from({ length: 5 }, (_, b) => -Math.log(perClass.reduce((sum, nll) => sum + Math.exp(-nll[b]), 0) / 4));
    marginalNll(perClass).forEach((v, b) => expect(v).toBeCloseTo(direct[b], 5));
  });

  it('stays finite and exact where the likelihoods underflow', () => {
    const perClass = [Float32Array.of(1000, 3000), Float32Array.of(1000, 2000), Float32Array.of(1200, 2000)];
    const [tied, dominant] = marginalNll(perClass);
    expect(tied).toBeCloseTo(1000 - Math.log(2) + Math.log(3), 3); // two classes at 1000 nats, one far behind
    expect(dominant).toBeCloseTo(2000 - Math.log(2) + Math.log(3), 3);
  });
});

describe('model.marginalNll', () => {
  const config = { channels: 2, height: 4, width: 5, levels: 3, hidden: 6, layers: 2, firstKernel: 3, kernel: 3, headHidden: 6, classes: 3, condDim: 2 };
  const model = GatedPixelCNN.create(config, { backend: cpu, seed: 4 });
  const rng = makeRng(5);
  const images = Uint8Array.from(integers(rng, 4 * 40, 3));
  const vectors = Float32Array.from(uniform(rng, 8, 1));

  it('lies between the best class\'s NLL and that plus ln N, and is the marginal of the per-class NLLs', () => {
    const perClass = [0, 1, 2].map((y) => model.nll(images, { labels: new Int32Array(4).fill(y), vectors }));
    const marginal = model.marginalNll(images, { vectors });
    expect([...marginal]).toEqual([...marginalNll(perClass)]);
    marginal.forEach((v, b) => {
      const best = Math.min(...perClass.map((nll) => nll[b]));
      expect(v).toBeGreaterThanOrEqual(best - 1e-4);
      expect(v).toBeLessThanOrEqual(best + Math.log(3) + 1e-4);
    });
    expect(new Set(perClass.map((nll) => nll[0])).size).toBe(3); // the classes do differ
  });

  it('refuses labels, and a model without classes (ERR_ARG)', () => {
    expect(() => model.marginalNll(images, { vectors, labels: [0, 1, 2, 0] })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    const plain = GatedPixelCNN.create({ ...config, classes: 0 }, { backend: cpu, seed: 4 });
    expect(() => plain.marginalNll(images, { vectors })).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(/no classes/) }));
    plain.dispose();
  });

  it('scores a test set without labels in evaluate(), image by image', () => {
    const pixels = Uint8Array.from(integers(rng, 4 * 40, 256));
    const data: ImageDataset = { images: pixels, labels: new Int32Array(4).fill(-1), count: 4, channels: 2, height: 4, width: 5, classes: 0, vectors };
    const result = evaluate(model, data, { perImage: true, batchSize: 3 });
    const levels = Uint8Array.from(pixels, (p) => Math.floor((p * 3) / 256));
    expect(result.marginal).toBe(true);
    expect([...result.imageNlls!].map((v) => Math.fround(v))).toEqual([...model.marginalNll(levels, { vectors })]);
    expect(evaluate(model, { ...data, labels: Int32Array.of(0, 1, 2, 0), classes: 3 }).marginal).toBeUndefined();
  });
});
