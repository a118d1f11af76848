/**
 * Options and conditioning from JavaScript may be anything: a number or a string where an
 * object belongs is ERR_ARG naming the call (ERR_BACKEND for a backend), a value of the
 * wrong type ERR_TYPE, never a TypeError from deep inside, and left out (undefined or
 * null) means none.
 */
import { describe, expect, it } from 'vitest';

import { createDataset, GatedPixelCNN, PRESETS } from '../../src';
import { loadImageFolder } from '../../src/data/image-folder';
import { decodeSafetensors } from '../../src/io/safetensors';
import { Adam } from '../../src/optim/adam';
import { WeightAverage } from '../../src/optim/weight-average';
import { sampleCached } from '../../src/sample/cached';
import { completionInputs } from '../../src/sample/completion';
import { sampleNaive } from '../../src/sample/naive';
import { writeSampleGrid } from '../../src/sample/grid';
import { evaluate } from '../../src/train/evaluate';
import { Trainer } from '../../src/train/trainer';
import { TrainingStep } from '../../src/train/training-step';
import { cpu } from '../helpers/backend';
import { tinyDataset } from '../helpers/tiny-data';

const config = { channels: 1, height: 8, width: 8, levels: 4, hidden: 4, layers: 1 };
const images = Uint8Array.from({ length: 64 }, (_, i) => (i * 5) % 4);
const code = (c: string) => expect.objectContaining({ code: c });

describe('API arguments that are not objects', () => {
  it('are refused with a code, naming the call', async () => {
    const model = GatedPixelCNN.create(config, { backend: cpu });
    const data = { ...tinyDataset(4, 8, 0, 1), classes: 0, labels: new Int32Array(4).fill(-1) };
    for (const [call, expected, message] of [
      [() => GatedPixelCNN.create(config, 'cpu' as never), 'ERR_ARG', /GatedPixelCNN\.create: options must be an object \(or left out\), got string/],
      [() => GatedPixelCNN.load('x.safetensors', 7 as never), 'ERR_ARG', /GatedPixelCNN\.load: options must be an object/],
      [() => GatedPixelCNN.create(config, { backend: null as never }), 'ERR_BACKEND', /backend must be 'auto', 'cpu', 'cuda' or a Backend, got null/],
      [() => GatedPixelCNN.create(config, { backend: {} as never }), 'ERR_BACKEND', /got an object/],
      [() => model.nll(images, 3 as never), 'ERR_ARG', /the conditioning \(cond\) must be an object/],
      [() => model.backward(images, {}, 2 as never), 'ERR_ARG', /backward: options must be an object/],
      [() => evaluate(model, data, [] as never), 'ERR_ARG', /evaluate: options must be an object/],
      [() => new TrainingStep(model, true as never), 'ERR_ARG', /TrainingStep: options must be an object/],
      [() => new TrainingStep(model, { graph: 'x' as never }), 'ERR_ARG', /graph must be 'auto', true or false, got x/],
      [() => loadImageFolder('/nonexistent', 'gray' as never), 'ERR_ARG', /loadImageFolder: options must be an object/],
      [() => writeSampleGrid('/nonexistent/x.png', images, model.config, undefined as never), 'ERR_ARG', /columns must be an integer ≥ 1, got undefined/],
      [() => decodeSafetensors(null as never), 'ERR_ARG', /decodeSafetensors needs the file's bytes as a Uint8Array, got null/],
      [() => completionInputs(model.config, { levels: images }, 4, 1e9), 'ERR_ARG', /count must be at most \d+ for images of 64 values, got 1000000000/],
    ] as const) {
      expect(call).toThrow(expect.objectContaining({ code: expected, message: expect.stringMatching(message) }));
    }
    // A number given as a string is named as one, not printed as if it were the number.
    expect(() => GatedPixelCNN.create({ ...config, hidden: '4' as never })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/hidden must be an integer ≥ 1, got "4"/) }));
    await expect(model.sample({ count: 1, seed: '3' as never })).rejects.toEqual(expect.objectContaining({ message: expect.stringMatching(/seed must be an integer, got "3"/) }));
    await expect(model.sample({ count: 1, signal: {} as never })).rejects.toEqual(code('ERR_ARG'));
    await expect(model.sample({ count: 1, onProgress: 1 as never })).rejects.toEqual(code('ERR_ARG'));
    // Left out, or null, is none; a signal is judged by what is used of one.
    expect(model.nll(images).length).toBe(1);
    expect(model.nll(images, null as never).length).toBe(1);
    expect(evaluate(model, data, null as never).images).toBe(4);
    const { signal } = new AbortController();
    const likeASignal = { aborted: false, addEventListener: signal.addEventListener.bind(signal), removeEventListener: signal.removeEventListener.bind(signal) };
    for (const options of [{ signal: null, onProgress: null }, { signal: likeASignal }]) {
      expect((await model.sample({ count: 1, ...(options as object) })).length).toBe(64);
    }
    model.dispose();
  });
});

describe('API arguments of the wrong type or kind', () => {
  it('sample() refuses options it does not know, which would silently be their defaults', async () => {
    const model = GatedPixelCNN.create(config, { backend: cpu });
    const known = { images: new Uint8Array(64), mask: new Uint8Array(64) };
    for (const [options, message] of [
      [{ count: 1, temprature: 0.1 }, /unknown sample options: temprature/],
      [{ count: 1, known: { ...known, masks: known.mask } }, /unknown keys of known: masks/],
    ] as const) {
      await expect(model.sample(options as never)).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(message) });
    }
    model.dispose();
  });

  it('logits, nll and pixelNll refuse conditioning keys they do not know, as a misspelt `label`', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu });
    const images = new Uint8Array(64).map((_, i) => (i * 7) % config.levels);
    for (const call of [() => model.logits(images, { label: [1] } as never), () => model.nll(images, { label: [1] } as never), () => model.pixelNll(images, { labels: undefined, label: [1] } as never)]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(/unknown conditioning keys: label/) }));
    }
    expect(model.nll(images, {}).length).toBe(1);
    model.dispose();
  });

  it('a Trainer refuses a disposed model when made, not at its first step', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu });
    model.dispose();
    expect(() => new Trainer({ model, train: tinyDataset(4, 8, 3, 1) })).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });

  it('a sampler given something other than a model rejects with ERR_TYPE', async () => {
    await expect(sampleCached({} as never, { count: 1 })).rejects.toMatchObject({
      code: 'ERR_TYPE', message: expect.stringMatching(/sampleCached: model must be a GatedPixelCNN, got an object/),
    });
  });

  it('are refused with ERR_TYPE or ERR_ARG naming what is wrong', () => {
    const model = GatedPixelCNN.create({ ...config, classes: 3 }, { backend: cpu });
    const data = tinyDataset(4, 8, 3, 1);
    const t = cpu.tensor(Float32Array.of(1, 2), [2]);
    for (const [call, expected, message] of [
      [() => new Trainer({ train: data } as never), 'ERR_TYPE', /Trainer: model must be a GatedPixelCNN, got undefined/],
      [() => new Trainer({ model: {}, train: data } as never), 'ERR_TYPE', /Trainer: model must be a GatedPixelCNN, got an object/],
      [() => evaluate(null as never, data), 'ERR_TYPE', /evaluate: model must be a GatedPixelCNN, got null/],
      [() => evaluate(model, data, { onProgress: 5 as never }), 'ERR_ARG', /evaluate: onProgress must be a function/],
      [() => new TrainingStep(undefined as never), 'ERR_TYPE', /TrainingStep: model must be a GatedPixelCNN/],
      [() => createDataset({ ...data, labels: Uint8Array.from(data.labels) } as never), 'ERR_TYPE', /dataset: labels must be an Int32Array of 4, got a Uint8Array/],
      // A misspelled option would silently be its default.
      [() => GatedPixelCNN.create(config, { sed: 1 } as never), 'ERR_ARG', /unknown GatedPixelCNN\.create options: sed/],
      [() => GatedPixelCNN.create(config, { seed: '1' as never }), 'ERR_ARG', /GatedPixelCNN\.create: seed must be an integer, got "1"/],
      [() => GatedPixelCNN.load('x.safetensors', { backnd: 'cpu' } as never), 'ERR_ARG', /unknown GatedPixelCNN\.load options: backnd/],
      [() => evaluate(model, data, { limt: 1 } as never), 'ERR_ARG', /unknown evaluate options: limt/],
      // A whole number too large to be exact is said to be so, not only "not an integer".
      [() => evaluate(model, data, { limit: 2 ** 60 }), 'ERR_ARG', /limit must be an integer ≥ 1, got 1152921504606847000, beyond the largest exact integer 2\^53 − 1/],
      [() => new Trainer({ model, train: data, callbacks: { onStep: () => {} } as never }), 'ERR_ARG', /unknown Trainer callbacks: onStep/],
      [() => new WeightAverage(null as never, 0.5), 'ERR_TYPE', /WeightAverage: model must be a GatedPixelCNN, got null/],
      [() => new WeightAverage({} as never, 0.5), 'ERR_TYPE', /WeightAverage: model must be a GatedPixelCNN, got an object/],
      [() => sampleNaive({} as never, { count: 1 }), 'ERR_TYPE', /sampleNaive: model must be a GatedPixelCNN, got an object/],
      [() => new Adam({} as never), 'ERR_TYPE', /Adam: params must be a model's parameters \(model\.parameters\), got an object/],
      [() => new Adam(model.parameters, { lr: '1' as never }), 'ERR_ARG', /lr must be a number > 0, got "1"/],
      [() => new Adam(model.parameters, { momentum: 0.9 } as never), 'ERR_ARG', /unknown Adam settings: momentum/],
      [() => completionInputs(model.config, null as never, 4, 1), 'ERR_TYPE', /completionInputs: sources must be an object/],
      [() => completionInputs(null as never, { levels: images }, 4, 1), 'ERR_TYPE', /completionInputs: config must be a model configuration/],
      [() => writeSampleGrid('/nonexistent/x.png', images, null as never, { columns: 1 }), 'ERR_TYPE', /writeSampleGrid: config must be a model configuration/],
      [() => cpu.tensor(Float32Array.of(1), null as never), 'ERR_TYPE', /shape must be an array of sizes, got null/],
      [() => cpu.globalNorm(t as never), 'ERR_TYPE', /tensors must be an array, got a Tensor/],
      [() => cpu.adamStep({} as never, { lr: 1e-3 }), 'ERR_TYPE', /updates must be an array/],
      [() => cpu.adamStep([{}] as never, { lr: 1e-3 }), 'ERR_TYPE', /updates\[0\]\.param must be a Tensor/],
      [() => cpu.adamStep([], {} as never), 'ERR_ARG', /options\.lr must be a number/],
      [() => cpu.gate(t, 5 as never), 'ERR_TYPE', /the gate's terms must be an object/],
      [() => model.nll(images, { labels: ['0'] as never }), 'ERR_TYPE', /cond\.labels\[0\] is "0", not a number/],
      [() => model.nll(images, { labels: BigInt64Array.of(0n) as never }), 'ERR_TYPE', /cond\.labels\[0\] is 0n, not a number/],
      [() => model.nll(images, { labels: 1 as never }), 'ERR_TYPE', /cond\.labels must be an Int32Array or an array of numbers, got number/],
      [() => model.nll(images, { labels: { length: 1, 0: 0 } as never }), 'ERR_TYPE', /cond\.labels must be an Int32Array or an array of numbers, got an object/],
      [() => evaluate(model, { ...data, labels: Uint8Array.from(data.labels) as never }), 'ERR_TYPE', /labels must be an Int32Array of 4, got a Uint8Array/],
      [() => model.save('/nonexistent/x.safetensors', { metadata: { note: 5 as never } }), 'ERR_ARG', /metadata "note" must be a string, got number/],
      [() => new Trainer({ model, train: data, batchsize: 4 } as never), 'ERR_ARG', /unknown Trainer options: batchsize/],
      [() => new Trainer({ model, train: data, progress: 'yes' as never }), 'ERR_ARG', /progress must be true, false or 'auto', got "yes"/],
      [() => new Trainer({ model, train: data, schedule: { kind: 'step', step_size: 3 } as never }), 'ERR_ARG', /unknown schedule settings: step_size/],
    ] as const) {
      expect(call).toThrow(expect.objectContaining({ code: expected, message: expect.stringMatching(message) }));
    }
    t.dispose();
    model.dispose();
  });

  it('takes a configuration key given as undefined as left out, and keeps the presets and a model\'s configuration as they are', () => {
    const given: { levels?: number; hidden?: number } = {};
    const model = GatedPixelCNN.create({ ...config, levels: given.levels, hidden: given.hidden }, { backend: cpu });
    expect(model.config.levels).toBe(256);
    expect(model.config.hidden).toBe(64);
    expect(model.config.skip).toBe(64);
    expect(() => {
      (model.config as { levels: number }).levels = 4; // the blocks were built for 256
    }).toThrow(TypeError);
    model.dispose();
    expect(() => {
      (PRESETS['mnist-tiny'] as { levels: number }).levels = 256;
    }).toThrow(TypeError);
    expect(PRESETS['mnist-tiny'].levels).toBe(4);
  });
});
