/**
 * A pass that fails midway (an op refusing, device memory running out) frees every
 * tensor it made at once, instead of leaving them held until garbage collection, and
 * the model keeps working; only the gradients it had already added stay.
 */
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN, resolveConfig } from '../../src';
import { trackedBackend } from '../helpers/tracked-backend';
import { integers, makeRng } from '../helpers/random';

const config = { channels: 3, height: 5, width: 4, levels: 4, hidden: 6, layers: 3, firstKernel: 3, kernel: 3, skip: 6, headHidden: 4, classes: 2 };
const rng = makeRng(17);
const images = Uint8Array.from(integers(rng, 2 * 3 * 5 * 4, 4));
const cond = { labels: Int32Array.of(0, 1) };

/** The passes that call each op, and so can fail there. */
const FORWARD = ['logits', 'nll', 'backward'];
describe.each([
  ['gate', 4, FORWARD], // in the third block's forward
  ['headChannels', 1, FORWARD],
  ['softmaxCrossEntropy', 1, ['nll', 'backward']],
  ['conv2dBackwardData', 3, ['backward']], // in a block's backward
  ['gateBackward', 2, ['backward']],
])('a failure of %s (its call %i)', (op, call, failing) => {
  const passes = {
    logits: (model: GatedPixelCNN) => model.logits(images, cond),
    nll: (model: GatedPixelCNN) => model.nll(images, cond),
    backward: (model: GatedPixelCNN) => model.backward(images, cond),
  };
  it.each(Object.keys(passes) as (keyof typeof passes)[])('in %s frees every tensor the pass made', (pass) => {
    const tracked = trackedBackend();
    const model = GatedPixelCNN.create(config, { backend: tracked.backend, seed: 2 });
    const before = new Set(tracked.live());
    const expected = passes[pass](model);
    model.parameters.zeroGrad();
    tracked.failAt(op, call);
    let thrown: unknown;
    try {
      passes[pass](model);
    } catch (error) {
      thrown = error;
    }
    if (failing.includes(pass)) expect(thrown).toMatchObject({ code: 'ERR_CUDA_OOM' });
    else expect(thrown).toBeUndefined();
    const grads = new Set(model.parameters.list().flatMap((p) => (p.grad ? [p.grad] : [])));
    expect(tracked.live().filter((t) => !before.has(t) && !grads.has(t))).toEqual([]);
    // The model still works, and computes what it did before.
    model.parameters.zeroGrad();
    expect(passes[pass](model)).toEqual(expected);
    model.dispose();
  });
});

describe('building a model from weights', () => {
  const weights = () => GatedPixelCNN.create(config, { backend: 'cpu', seed: 3 }).weights();

  it.each([
    ['missing', (w: Map<string, Float32Array>) => w.delete('head.out.bias'), /head\.out\.bias must be a Float32Array of 12 values \(\[12\]\), and is missing/],
    ['of the wrong length', (w: Map<string, Float32Array>) => w.set('blocks.1.vh.weight', new Float32Array(3)), /blocks\.1\.vh\.weight must be a Float32Array of 144 values/],
    ['of the wrong type', (w: Map<string, Float32Array>) => w.set('blocks.0.v.bias', new Float64Array(12) as never), /blocks\.0\.v\.bias must be a Float32Array/],
  ])('refuses a weight %s (ERR_ARG, naming it) before allocating any', (_, edit, message) => {
    const tracked = trackedBackend();
    const w = weights();
    edit(w);
    expect(() => GatedPixelCNN.fromWeights(resolveConfig(config), w, tracked.backend)).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(message) }));
    expect(tracked.live()).toEqual([]);
  });

  it('frees the weights already uploaded when one upload fails', () => {
    const tracked = trackedBackend();
    tracked.failAt('tensor', 7);
    expect(() => GatedPixelCNN.fromWeights(resolveConfig(config), weights(), tracked.backend)).toThrow(expect.objectContaining({ code: 'ERR_CUDA_OOM' }));
    expect(tracked.live()).toEqual([]);
  });
});
