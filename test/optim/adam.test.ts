/**
 * Adam's state round-trips through a checkpoint's tensors, and a state that does not fit
 * the parameters is refused with ERR_CHECKPOINT, leaving the optimizer as it was.
 */
import { describe, expect, it } from 'vitest';

import { Adam, GatedPixelCNN } from '../../src';
import { rawTensor, toFloat32, type RawTensor } from '../../src/io/safetensors';
import { cpu } from '../helpers/backend';
import { integers, makeRng } from '../helpers/random';

const config = { channels: 1, height: 4, width: 4, levels: 4, hidden: 4, layers: 2, firstKernel: 3, kernel: 3, skip: 4, headHidden: 4 };

/** A model and an optimizer after two steps on random images. */
function stepped(): { model: GatedPixelCNN; adam: Adam } {
  const model = GatedPixelCNN.create(config, { backend: cpu, seed: 5 });
  const adam = new Adam(model.parameters, { lr: 0.01 });
  const rng = makeRng(6);
  for (let step = 0; step < 2; step++) {
    model.parameters.zeroGrad();
    model.backward(Uint8Array.from(integers(rng, 3 * 16, 4)));
    adam.step();
  }
  return { model, adam };
}

/** Sets an entry in the middle of the tensor `name` to `value`, in a copy. */
function corrupt(tensors: Map<string, RawTensor>, name: string, value: number): void {
  const values = Float32Array.from(toFloat32(tensors.get(name)!, name));
  values[values.length >> 1] = value;
  tensors.set(name, rawTensor(values, tensors.get(name)!.shape));
}

describe('Adam state', () => {
  it('loads what it saved: the next steps match', () => {
    const { model, adam } = stepped();
    const saved = adam.stateDict();
    // A second model of the same weights, whose optimizer starts from the saved state.
    const twin = GatedPixelCNN.fromWeights(model.config, model.weights(), cpu);
    const other = new Adam(twin.parameters, { lr: 0.01 });
    other.loadStateDict(saved.tensors, saved.steps);
    expect(other.stateDict()).toEqual(saved);
    const rng = makeRng(7);
    for (let step = 0; step < 2; step++) {
      const images = Uint8Array.from(integers(rng, 3 * 16, 4));
      for (const [m, optimizer] of [[model, adam], [twin, other]] as const) {
        m.parameters.zeroGrad();
        m.backward(images);
        optimizer.step();
      }
    }
    // Bias correction and moments carried over: fresh moments (step counts 0) would step differently.
    expect(twin.weights()).toEqual(model.weights());
    const fresh = GatedPixelCNN.fromWeights(model.config, model.weights(), cpu);
    const restarted = new Adam(fresh.parameters, { lr: 0.01 });
    fresh.parameters.zeroGrad();
    fresh.backward(Uint8Array.from(integers(makeRng(8), 3 * 16, 4)));
    restarted.step();
    model.parameters.zeroGrad();
    model.backward(Uint8Array.from(integers(makeRng(8), 3 * 16, 4)));
    adam.step();
    expect(fresh.weights()).not.toEqual(model.weights());
    for (const m of [model, twin, fresh]) m.dispose();
  });

  it.each([
    ['a moment missing', (tensors: Map<string, unknown>) => tensors.delete('optimizer.head.out.bias.v'), /head\.out\.bias is missing or invalid/],
    ['a moment of the wrong shape', (tensors: Map<string, { shape: number[] }>) => {
      const m = tensors.get('optimizer.blocks.1.v.weight.m')!;
      tensors.set('optimizer.blocks.1.v.weight.m', { ...m, shape: [m.shape.reduce((a, b) => a * b, 1)] });
    }, /optimizer\.blocks\.1\.v\.weight\.m has shape/],
    // Either would turn the weights to NaN at the first step of a resumed run.
    ['a NaN first moment', (tensors: Map<string, RawTensor>) => corrupt(tensors, 'optimizer.blocks.0.h.weight.m', NaN), /optimizer\.blocks\.0\.h\.weight\.m\[\d+\] is NaN: the optimizer's moments must be finite/],
    ['a negative second moment', (tensors: Map<string, RawTensor>) => corrupt(tensors, 'optimizer.head.out.weight.v', -1), /optimizer\.head\.out\.weight\.v\[\d+\] is -1: the optimizer's moments must be finite and ≥ 0/],
  ])('with %s is refused with ERR_CHECKPOINT, and the state before stays', (_, edit, reason) => {
    const { model, adam } = stepped();
    const before = adam.stateDict();
    const damaged = new Map(before.tensors);
    edit(damaged as never);
    expect(() => adam.loadStateDict(damaged, before.steps)).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(reason) }));
    expect(adam.stateDict()).toEqual(before);
    model.dispose();
  });
});
