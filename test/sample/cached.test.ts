/**
 * The cached sampler: after sampling, a full forward pass on the finished images
 * reproduces the logits it used at every position; with the same seed it draws the
 * same images as the naive sampler; known pixels are kept; it runs off the event
 * loop, reports progress, and an AbortSignal cancels it.
 */
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { allOrNone, runCachedSampler, splitRange } from '../../src/sample/cached';
import type { NativeSampleResult } from '../../src/backend/native';
import { PixelCNNError } from '../../src/errors';
import { sampleNaive } from '../../src/sample/naive';
import { CONFIG_KEYS } from '../../src/nn/config';
import { cpu, rawAddon } from '../helpers/backend';
import { normalizedError } from '../helpers/compare';
import { randomKnown, samplerConfigs as configs, samplerConditioning as conditioning } from '../helpers/sampler-configs';

describe.each(configs)('cached sampler: $name', ({ name, ...config }) => {
  const model = GatedPixelCNN.create(config, { backend: cpu, seed: name.length });
  const count = 5; // odd: the images are shared unevenly among threads
  const cond = conditioning(model, count, 1);

  it('a full forward pass on the result reproduces the logits of every draw', async () => {
    const { levels, logits } = await runCachedSampler(model, { count, ...cond, seed: 3 }, { keepLogits: true });
    expect(normalizedError(logits!, model.logits(levels, cond))).toBeLessThanOrEqual(1e-4);
  });

  it('draws the same images as the naive sampler for the same seed, at any batching', async () => {
    const naive = sampleNaive(model, { count, ...cond, seed: 8, temperature: 0.8 });
    expect(await model.sample({ count, ...cond, seed: 8, temperature: 0.8 })).toEqual(naive);
    expect(await model.sample({ count, ...cond, seed: 8, temperature: 0.8, batchSize: 2 })).toEqual(naive);
    expect(await model.sample({ count, ...cond, seed: 9, temperature: 0.8 })).not.toEqual(naive);
  });

  it('takes its arrays when called: changing them while it runs changes nothing, with either sampler', async () => {
    for (const sampler of ['cached', 'naive'] as const) {
      // Known pixels as Buffers, as a levels file reads: a Buffer's slice() shares its memory.
      const known = () => {
        const { images, mask } = randomKnown(model.config, count, 6);
        return { images: Buffer.from(images), mask: Buffer.from(mask) };
      };
      const options = () => ({ count, ...conditioning(model, count, 1), known: known(), seed: 4, batchSize: 2, sampler });
      const expected = await model.sample(options());
      const changed = options();
      const running = model.sample(changed);
      for (const values of [changed.labels, changed.vectors, changed.spatial, changed.known.images, changed.known.mask]) values?.fill(0);
      expect(await running).toEqual(expected);
    }
  });

  it('keeps known pixels and completes the rest as the naive sampler does', async () => {
    const known = randomKnown(model.config, count, 4);
    const out = await model.sample({ count, ...cond, seed: 2, known });
    for (let i = 0; i < out.length; i++) if (known.mask[i]) expect(out[i]).toBe(known.images[i]);
    expect(out).toEqual(sampleNaive(model, { count, ...cond, seed: 2, known }));
  });
});

describe('cached sampler, as a user runs it', () => {
  const model = GatedPixelCNN.create({ channels: 1, height: 20, width: 20, levels: 4, hidden: 48, layers: 5, firstKernel: 7, kernel: 3, headHidden: 16, classes: 10 }, { backend: cpu, seed: 1 });
  const labels = Array.from({ length: 48 }, (_, i) => i % 10);

  it('leaves the event loop free (a timer keeps firing) and reports progress up to the end', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const progress: [number, number][] = [];
    const started = performance.now();
    await model.sample({ count: 48, labels, batchSize: 16, onProgress: (done, total) => progress.push([done, total]) });
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(Math.min(5, Math.floor(elapsed / 20)));
    expect(progress.at(-1)).toEqual([60, 60]); // 3 batches × 20 rows
    expect(progress.every(([done], i) => i === 0 || done > progress[i - 1][0])).toBe(true);
  });

  it('an AbortSignal cancels it with ERR_ABORTED', async () => {
    const stop = new AbortController();
    const run = model.sample({ count: 48, labels, onProgress: (done) => { if (done === 2) stop.abort(); }, signal: stop.signal });
    await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const already = new AbortController();
    already.abort();
    await expect(model.sample({ count: 2, labels: [0, 1], signal: already.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('an abort before sample() resolves rejects it, however soon its work ends', async () => {
    // One image of one row: the native job may well end before the abort reaches it, and
    // the naive sampler has drawn every pixel before its first turn of the event loop.
    const tiny = GatedPixelCNN.create({ channels: 1, height: 1, width: 3, levels: 4, hidden: 4, layers: 1 }, { backend: cpu, seed: 3 });
    for (const sampler of ['cached', 'naive'] as const) {
      for (let round = 0; round < 20; round++) {
        const stop = new AbortController();
        const run = tiny.sample({ sampler, count: 1, seed: round, signal: stop.signal });
        stop.abort();
        await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      }
      expect(await tiny.sample({ sampler, count: 1, signal: new AbortController().signal })).toHaveLength(3);
    }
    tiny.dispose();
  });

  it('draws the same images whatever a progress callback throws, or rejects with (an async one), and the process goes on', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const small = GatedPixelCNN.create({ channels: 1, height: 6, width: 6, levels: 4, hidden: 8, layers: 2, classes: 10 }, { backend: cpu, seed: 2 });
      for (const sampler of ['cached', 'naive'] as const) {
        const options = { sampler, count: 2, labels: [3, 7], seed: 5 };
        const plain = await small.sample(options);
        const thrown = await small.sample({ ...options, onProgress: () => { throw new Error('display gone'); } });
        const rejected = await small.sample({ ...options, onProgress: async () => { throw new Error('display gone'); } });
        // A promise of another realm (a vm context, as test runners use) is no instance of this one's Promise.
        const otherRealm = vm.runInNewContext('async () => { throw new Error("display gone"); }') as () => Promise<void>;
        const rejectedElsewhere = await small.sample({ ...options, onProgress: otherRealm });
        expect(thrown).toEqual(plain);
        expect(rejected).toEqual(plain);
        expect(rejectedElsewhere).toEqual(plain);
      }
      small.dispose();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('refuses, with ERR_DIVERGED, a model whose weights are not finite (every draw would be the top level)', async () => {
    const broken = GatedPixelCNN.create({ channels: 1, height: 4, width: 4, levels: 4, hidden: 4, layers: 1 }, { backend: cpu });
    const bias = broken.parameters.list().find((p) => p.name === 'head.out.bias')!;
    const values = bias.value.toFloat32Array();
    values[2] = NaN;
    cpu.write(bias.value, values);
    for (const sampler of ['cached', 'naive'] as const) {
      await expect(broken.sample({ sampler, count: 1 })).rejects.toMatchObject({
        code: 'ERR_DIVERGED', message: expect.stringMatching(/cannot sample this model: head\.out\.bias\[2\] is NaN/),
      });
    }
    broken.dispose();
  });

  it('fails with ERR_DIVERGED where finite weights overflow the logits, as a diverged run leaves them', async () => {
    const huge = GatedPixelCNN.create({ channels: 1, height: 4, width: 4, levels: 4, hidden: 4, layers: 1 }, { backend: cpu });
    for (const p of huge.parameters.list()) cpu.write(p.value, p.value.toFloat32Array().fill(1e30));
    for (const sampler of ['cached', 'naive'] as const) {
      await expect(huge.sample({ sampler, count: 2 })).rejects.toMatchObject({
        code: 'ERR_DIVERGED', message: expect.stringMatching(/the logits of image [01] at row 0, column 0 are not finite/),
      });
    }
    huge.dispose();
  });

  it('refuses a disposed model with ERR_DISPOSED', async () => {
    const gone = GatedPixelCNN.create({ channels: 1, height: 3, width: 3, levels: 2, hidden: 2, layers: 1, firstKernel: 3, kernel: 3 }, { backend: cpu });
    gone.dispose();
    await expect(gone.sample({ count: 1 })).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
  });

  it('the native entry point checks a request on its own', () => {
    const addon = rawAddon();
    const request = () => ({
      config: Object.fromEntries(CONFIG_KEYS.map((k) => [k, model.config[k]])),
      weights: Object.fromEntries(model.weights()),
      batch: 2, firstImage: 0, temperature: 1, seed: 0, keepLogits: false, labels: Int32Array.of(0, 1),
    });
    const short = request();
    short.weights['blocks.0.v.weight'] = new Float32Array(3);
    const missing = request();
    delete (missing.weights as Record<string, Float32Array>)['head.out.bias'];
    const badTemperature = { ...request(), temperature: Infinity };
    const badConfig = request();
    badConfig.config.kernel = 4;
    expect(() => addon.sampleCached!(badTemperature)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    for (const seed of [0.5, 1e300, -(2 ** 60)]) { // beyond an int64 is undefined to convert
      expect(() => addon.sampleCached!({ ...request(), seed })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    }
    expect(() => addon.sampleCached!(badConfig)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => addon.sampleCached!({ ...request(), labels: Int32Array.of(0) })).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
    // Weight sizes are checked by the sampler itself: the promise rejects. The request
    // refused just above had read every weight, and the next request refills those
    // copies (recycled.h): a weight given then must not stand in for one missing now.
    const lacking = addon.sampleCached!(missing).promise;
    return Promise.all([
      expect(lacking).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/needs weight head\.out\.bias/) }),
      expect(addon.sampleCached!(short).promise).rejects.toMatchObject({ code: 'ERR_SHAPE' }),
    ]);
  });

  it('takes the weights as the model\'s tensors or as arrays, alike, and refuses others', async () => {
    const addon = rawAddon();
    const request = (weights: Record<string, unknown>) => ({
      config: Object.fromEntries(CONFIG_KEYS.map((k) => [k, model.config[k]])),
      weights, batch: 2, firstImage: 0, temperature: 1, seed: 4, keepLogits: false, labels: Int32Array.of(0, 1),
    }) as never;
    const arrays = Object.fromEntries(model.weights());
    const tensors = Object.fromEntries(model.parameters.list().map((p) => [p.name, p.value.handle]));
    const [fromArrays, fromTensors] = await Promise.all([addon.sampleCached!(request(arrays)).promise, addon.sampleCached!(request(tensors)).promise]);
    expect(fromTensors.levels).toEqual(fromArrays.levels);
    const labels = addon.tensorFromArray(Int32Array.of(1, 2), [2]);
    for (const wrong of [labels, {}, Int32Array.of(1, 2)]) {
      expect(() => addon.sampleCached!(request({ ...tensors, 'head.out.bias': wrong }))).toThrow(expect.objectContaining({ code: 'ERR_TYPE' }));
    }
    // A getter runs JavaScript while the request is read: one that disposes a tensor
    // given before it makes the request fail, not read freed memory.
    const victim = GatedPixelCNN.create(model.config, { backend: cpu, seed: 1 });
    const victimTensors = Object.fromEntries(victim.parameters.list().map((p) => [p.name, p.value.handle]));
    const lastName = Object.keys(victimTensors).at(-1)!, lastTensor = victimTensors[lastName];
    Object.defineProperty(victimTensors, lastName, { enumerable: true, get: () => (victim.parameters.list()[0].value.dispose(), lastTensor) });
    expect(() => addon.sampleCached!(request(victimTensors))).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
    victim.dispose();
    const infinite = Float32Array.from(arrays['blocks.0.h.weight']);
    infinite[7] = -Infinity;
    expect(() => addon.sampleCached!(request({ ...tensors, 'blocks.0.h.weight': infinite }))).toThrow(
      expect.objectContaining({ code: 'ERR_DIVERGED', message: expect.stringMatching(/blocks\.0\.h\.weight\[7\] is -Infinity/) }),
    );
  });

  it('refuses bad options', async () => {
    await expect(model.sample({ count: 0, labels: [] })).rejects.toMatchObject({ code: 'ERR_ARG' });
    await expect(model.sample({ count: 2 })).rejects.toMatchObject({ code: 'ERR_ARG' });
    await expect(model.sample({ count: 2, labels: [0, 10] })).rejects.toMatchObject({ code: 'ERR_RANGE' });
    await expect(model.sample({ count: 2, labels: [0, 1], temperature: -1 })).rejects.toMatchObject({ code: 'ERR_ARG' });
  });
});

describe('splitRange (a batch between concurrent jobs)', () => {
  it('covers the range in order with contiguous, non-empty parts that differ by at most one', () => {
    for (const [start, end] of [[0, 1], [3, 10], [5, 261], [0, 256]]) {
      for (let parts = 1; parts <= 8; parts++) {
        const split = splitRange(start, end, parts);
        expect(split).toHaveLength(Math.min(parts, end - start));
        expect(split[0][0]).toBe(start);
        expect(split.at(-1)![1]).toBe(end);
        const sizes = split.map(([a, b]) => b - a);
        split.slice(1).forEach(([a], k) => expect(a).toBe(split[k][1]));
        expect(Math.min(...sizes)).toBeGreaterThan(0);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('allOrNone (the jobs of one batch)', () => {
  /** A job that resolves after `ms`, or rejects with ERR_ABORTED once stopped; it records when it ended. */
  function job(ms: number, ended: string[], name: string) {
    let cancel = () => {};
    const promise = new Promise<NativeSampleResult>((resolve, reject) => {
      const timer = setTimeout(() => resolve({ levels: Uint8Array.of(ms), design: 'graph', vertical: 'cudnn', clusterImages: 0, rowGraph: true, captureRefused: '' }), ms);
      cancel = () => {
        clearTimeout(timer);
        setTimeout(() => reject(new PixelCNNError('ERR_ABORTED', 'stopped')), 20);
      };
    }).finally(() => ended.push(name));
    return { promise, cancel: () => cancel() };
  }

  it('returns every result in order', async () => {
    const ended: string[] = [];
    const results = await allOrNone([job(30, ended, 'a'), job(5, ended, 'b')], () => {});
    expect(results.map((r) => r.levels[0])).toEqual([30, 5]);
  });

  it("stops the others at the first failure and throws its error, not the stopped jobs', once all have ended", async () => {
    const ended: string[] = [];
    const long = job(10_000, ended, 'long');
    const failing = { promise: Promise.reject(new PixelCNNError('ERR_CUDA', 'device fault')).finally(() => ended.push('failing')), cancel: () => {} };
    let stops = 0;
    const run = allOrNone([long, failing], () => { stops++; long.cancel(); });
    await expect(run).rejects.toMatchObject({ code: 'ERR_CUDA' });
    expect(stops).toBe(1);
    expect(ended.sort()).toEqual(['failing', 'long']);
  });
});
