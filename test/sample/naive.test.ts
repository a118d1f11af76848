/**
 * The naive sampler: reproducible for a seed and independent of batching; known
 * pixels kept; draws that follow softmax(logits / T) at every position, checked
 * against a full forward pass on the finished images.
 */
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { sampleNaive } from '../../src/sample/naive';
import { cpu } from '../helpers/backend';
import { integers, makeRng } from '../helpers/random';

const config = { channels: 2, height: 4, width: 3, levels: 5, hidden: 6, layers: 2, firstKernel: 3, kernel: 3, skip: 6, headHidden: 8, classes: 2 };
const model = GatedPixelCNN.create(config, { backend: cpu, seed: 11 });
const labels = [0, 1, 1, 0, 1];
const perImage = 2 * 4 * 3;

describe('naive sampler', () => {
  it('is reproducible for a seed, differs across seeds, and ignores how images are batched', () => {
    const a = sampleNaive(model, { count: 5, labels, seed: 3 });
    expect(a.every((v) => v < 5)).toBe(true);
    expect(sampleNaive(model, { count: 5, labels, seed: 3 })).toEqual(a);
    expect(sampleNaive(model, { count: 5, labels, seed: 3, batchSize: 2 })).toEqual(a);
    expect(sampleNaive(model, { count: 5, labels, seed: 4 })).not.toEqual(a);
  });

  it('keeps known pixels and draws the rest', () => {
    const rng = makeRng(2);
    const images = Uint8Array.from(integers(rng, 5 * perImage, 5));
    const mask = Uint8Array.from(integers(rng, 5 * perImage, 2));
    const out = sampleNaive(model, { count: 5, labels, seed: 1, known: { images, mask } });
    for (let i = 0; i < out.length; i++) if (mask[i]) expect(out[i]).toBe(images[i]);
    const free = sampleNaive(model, { count: 5, labels, seed: 1 });
    expect(out).not.toEqual(free);
  });

  it('at a low temperature, each drawn level is the argmax of the logits a full pass gives on the result', () => {
    const out = sampleNaive(model, { count: 5, labels, seed: 9, temperature: 1e-3 });
    const logits = model.logits(out, { labels });
    const { channels: C, height: H, width: W, levels: K } = model.config;
    for (let b = 0; b < 5; b++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++) {
          let best = 0;
          for (let k = 1; k < K; k++) {
            if (logits[((b * C + c) * K + k) * H * W + p] > logits[((b * C + c) * K + best) * H * W + p]) best = k;
          }
          expect(out[(b * C + c) * H * W + p]).toBe(best);
        }
  });

  it('draws the first pixel with the frequencies of softmax(logits / T)', () => {
    const tiny = GatedPixelCNN.create({ channels: 1, height: 1, width: 2, levels: 4, hidden: 3, layers: 1, firstKernel: 3, kernel: 3, headHidden: 4 }, { backend: cpu, seed: 2 });
    const count = 4000;
    const temperature = 0.7;
    const out = sampleNaive(tiny, { count, seed: 5, temperature });
    // The first pixel sees nothing: its logits are the same for every image.
    const logits = tiny.logits(new Uint8Array(2));
    const scaled = [0, 1, 2, 3].map((k) => Math.exp(logits[k * 2] / temperature));
    const total = scaled.reduce((a, b) => a + b);
    for (let k = 0; k < 4; k++) {
      const expected = scaled[k] / total;
      let seen = 0;
      for (let n = 0; n < count; n++) if (out[n * 2] === k) seen++;
      // Within 4.5 standard deviations of the binomial count.
      expect(Math.abs(seen - expected * count)).toBeLessThan(4.5 * Math.sqrt(count * expected * (1 - expected)) + 1);
    }
  });

  it('refuses bad options', () => {
    expect(() => sampleNaive(model, { count: 0, labels: [] })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => sampleNaive(model, { count: 2, labels: [0, 1], temperature: 0 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => sampleNaive(model, { count: 2 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => sampleNaive(model, { count: 2, labels: [0, 5] })).toThrow(expect.objectContaining({ code: 'ERR_RANGE' }));
  });
});

it('an AbortSignal stops the sampler with ERR_ABORTED', () => {
  const stop = new AbortController();
  expect(() => sampleNaive(model, {
    count: 2, labels: [0, 1], signal: stop.signal, onProgress: (done) => { if (done === 5) stop.abort(); },
  })).toThrow(expect.objectContaining({ code: 'ERR_ABORTED' }));
});

it('through model.sample it gives the event loop a turn each row: a timer aborts it, and its result is sampleNaive\'s', async () => {
  const options = { count: 2, labels: [0, 1], seed: 3 };
  expect(await model.sample({ ...options, sampler: 'naive' })).toEqual(sampleNaive(model, options));
  // Many rows, so that the timer's turn comes long before the last.
  const tall = GatedPixelCNN.create({ ...config, height: 32 }, { backend: cpu, seed: 1 });
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 0);
  let positions = 0;
  await expect(tall.sample({ ...options, sampler: 'naive', signal: stop.signal, onProgress: (done) => (positions = done) }))
    .rejects.toMatchObject({ code: 'ERR_ABORTED' });
  expect(positions).toBeGreaterThan(0);
  expect(positions).toBeLessThan(32 * config.width * config.channels);
  tall.dispose();
});

it('a progress callback that throws does not stop it (as with the cached sampler)', () => {
  const options = { count: 2, labels: [0, 1], seed: 3 };
  expect(sampleNaive(model, { ...options, onProgress: () => { throw new Error('display failed'); } })).toEqual(sampleNaive(model, options));
});

it('model.sample refuses options that are not an object, an unknown sampler, and known pixels that are not Uint8Arrays', async () => {
  await expect(model.sample(undefined as never)).rejects.toMatchObject({ code: 'ERR_ARG' });
  await expect(model.sample({ count: 2, labels: [0, 1], sampler: 'fast' as never })).rejects.toMatchObject({ code: 'ERR_ARG' });
  const mask = new Uint8Array(2 * perImage).fill(1);
  for (const sampler of ['naive', 'cached'] as const) {
    await expect(model.sample({ count: 2, labels: [0, 1], sampler, known: { mask } as never })).rejects.toMatchObject({ code: 'ERR_TYPE' });
    const images = Float32Array.from({ length: 2 * perImage }, () => 1.5);
    await expect(model.sample({ count: 2, labels: [0, 1], sampler, known: { images, mask } as never })).rejects.toMatchObject({ code: 'ERR_TYPE' });
  }
});
