/**
 * The moving average of a model's weights: it follows average = d·average + (1 − d)·w
 * with d = min(decay, (1 + t) / (10 + t)) from the initial weights, builds a model of
 * the averaged weights, and its checkpoint state loads all or nothing.
 */
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src';
import { rawTensor, toFloat32 } from '../../src/io/safetensors';
import { WeightAverage } from '../../src/optim/weight-average';
import { cpu } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { makeRng, uniform } from '../helpers/random';

const config = { channels: 1, height: 6, width: 6, levels: 4, hidden: 4, layers: 2, firstKernel: 3, kernel: 3, skip: 4, headHidden: 4, classes: 2 };

describe('WeightAverage', () => {
  it('averages the weights with a decay that ramps up to its value, and builds a model of them', () => {
    const rng = makeRng(41);
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    const expected = new Map([...model.weights()].map(([name, w]) => [name, Float64Array.from(w)]));
    const average = new WeightAverage(model, 0.8);
    for (let t = 0; t < 12; t++) {
      for (const p of model.parameters.list()) model.parameters.assign(p.name, Float32Array.from(uniform(rng, p.value.size)));
      average.update();
      const d = Math.min(0.8, (1 + t) / (10 + t));
      for (const [name, w] of model.weights()) expected.get(name)!.forEach((a, i, all) => (all[i] = d * a + (1 - d) * w[i]));
    }
    expect(average.updates).toBe(12);
    const averaged = average.model();
    for (const [name, values] of averaged.weights()) expectClose(values, expected.get(name)!, 1e-5, name);
    expect(averaged.config).toEqual(model.config);
    averaged.dispose();
    average.dispose();
    model.dispose();
  });

  it('round-trips through its checkpoint state, and loads a damaged one not at all (ERR_CHECKPOINT)', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 2 });
    const average = new WeightAverage(model, 0.9);
    average.update();
    const state = average.stateDict();
    const other = new WeightAverage(GatedPixelCNN.create(config, { backend: cpu, seed: 3 }), 0.9);
    const before = other.weights();
    const [first] = state.keys();
    const missing = new Map(state);
    missing.delete(first);
    const reshaped = new Map(state).set(first, rawTensor(new Float32Array(1), [1]));
    const infinite = Float32Array.from(toFloat32(state.get(first)!, first));
    infinite[infinite.length - 1] = Infinity;
    const overflowed = new Map(state).set(first, rawTensor(infinite, state.get(first)!.shape));
    for (const [damaged, updates, message] of [[missing, 1, /missing/], [reshaped, 1, /another shape/], [state, -1, /update count/], [overflowed, 1, /is Infinity: weights must be finite/]] as const) {
      expect(() => other.loadStateDict(damaged, updates)).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(message) }));
      expect(other.weights()).toEqual(before);
    }
    other.loadStateDict(state, 1);
    expect(other.weights()).toEqual(average.weights());
    expect(other.updates).toBe(1);
    for (const w of [average, other]) w.dispose();
    model.dispose();
  });

  it('refuses a decay outside (0, 1) with ERR_ARG', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 2 });
    for (const decay of [0, 1, -0.5, NaN]) expect(() => new WeightAverage(model, decay)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    model.dispose();
  });
});
