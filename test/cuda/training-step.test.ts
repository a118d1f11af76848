/**
 * Captured training steps (CUDA graphs): a replayed step computes what an eager step
 * computes on the same weights and batch, step after step with Adam between, with
 * other work (evaluations, a batch of another size) in between; a capture that an
 * op refuses leaves the backend working; Backend.capture() replays its ops on new
 * inputs. Skips without a GPU (or the CUDA emulator).
 */
import { describe, expect, it } from 'vitest';

import { Adam, GatedPixelCNN, TrainingStep, loadBackend, type Tensor } from '../../src';
import { loadAddon } from '../../src/backend/load';
import type { Conditioning } from '../../src/nn/batch-inputs';
import { normalizedError } from '../helpers/compare';
import { cudaAvailable } from '../helpers/cuda';
import { expectCode } from '../helpers/expect-code';
import { makeRng } from '../helpers/random';

// Every op of the model: class labels, global vectors and spatial maps condition it.
const config = {
  channels: 2, height: 6, width: 6, levels: 4, hidden: 6, layers: 2, firstKernel: 3, kernel: 3, skip: 6,
  headHidden: 4, classes: 3, condDim: 2, spatialCond: 1,
};

function randomBatch(seed: number, size: number): { images: Uint8Array; cond: Conditioning } {
  const rng = makeRng(seed);
  const pixels = config.channels * config.height * config.width;
  return {
    images: Uint8Array.from({ length: size * pixels }, () => Math.floor(rng() * config.levels)),
    cond: {
      labels: Int32Array.from({ length: size }, () => Math.floor(rng() * config.classes)),
      vectors: Float32Array.from({ length: size * config.condDim }, () => rng() * 2 - 1),
      spatial: Float32Array.from({ length: size * config.height * config.width }, () => rng() * 2 - 1),
    },
  };
}

function weightsOf(model: GatedPixelCNN): Float32Array {
  return Float32Array.from(model.parameters.list().flatMap((p) => [...p.value.toFloat32Array()]));
}

describe.skipIf(!cudaAvailable)('capture handles', () => {
  it('do not pass for the tensor class\'s own construction token', () => {
    const addon = loadAddon('cuda');
    const tensor = addon.tensorFromArray(new Float32Array([1, 2]), [2]);
    addon.beginCapture();
    const handle = addon.endCapture();
    const NativeTensor = Object.getPrototypeOf(tensor).constructor as new (token: unknown) => unknown;
    expectCode('ERR_TYPE', () => new NativeTensor(handle));
    addon.disposeCapture(handle);
    expect([...tensor.toArray()]).toEqual([1, 2]);
  });

  it('are refused by another backend\'s addon', () => {
    const addon = loadAddon('cuda');
    addon.beginCapture();
    const handle = addon.endCapture();
    expectCode('ERR_TYPE', () => loadAddon('cpu').replayCapture(handle));
    expectCode('ERR_TYPE', () => loadAddon('cpu').disposeCapture(handle));
    addon.replayCapture(handle);
    addon.disposeCapture(handle);
  });
});

describe.skipIf(!cudaAvailable)('while a capture records', () => {
  it('a read-back is refused with ERR_ARG, and the backend keeps working', () => {
    const be = loadBackend('cuda');
    const x = be.tensor(Float32Array.of(1, -2), [2]);
    expectCode('ERR_ARG', () => be.capture(() => be.relu(x).toFloat32Array()));
    expectCode('ERR_ARG', () => be.capture(() => be.globalNorm([x])));
    expect([...be.relu(x).toFloat32Array()]).toEqual([1, 0]);
  });

  it('an optimizer step or a moving average is refused with ERR_ARG: a replay would repeat its learning rate or decay', () => {
    const be = loadBackend('cuda');
    const model = GatedPixelCNN.create({ ...config, layers: 1 }, { backend: be, seed: 1 });
    const { images, cond } = randomBatch(1, 2);
    model.backward(images, cond);
    const adam = new Adam(model.parameters, { lr: 1e-2 });
    const before = model.parameters.list().map((p) => p.value.toFloat32Array());
    expect(expectCode('ERR_ARG', () => be.capture(() => adam.step())).message).toMatch(/change from step to step/);
    const average = model.parameters.list().map((p) => be.zeros(p.value.shape));
    const values = model.parameters.list().map((p) => p.value);
    expectCode('ERR_ARG', () => be.capture(() => be.movingAverage(average, values, 0.5)));
    expect(model.parameters.list().map((p) => p.value.toFloat32Array())).toEqual(before);
    adam.step();
    expect(model.parameters.list().map((p) => p.value.toFloat32Array())).not.toEqual(before);
    adam.dispose();
    for (const t of average) t.dispose();
    model.dispose();
  });

  it('zeros it makes have unknown values until a replay, so the ops that index with them check them on the device', () => {
    const be = loadBackend('cuda');
    const table = be.tensor(Float32Array.of(1, 2, 3, 4, 5, 6), [3, 2]);
    let labels: Tensor | undefined;
    expect(() => be.capture(() => {
      labels = be.zeros([2], 'int32');
      throw new Error('recording stopped');
    })).toThrow('recording stopped');
    // The memset was never run: whatever the memory holds, no row outside the table is read.
    const held = [...labels!.toArray()];
    if (held.every((y) => y >= 0 && y < 3)) {
      expect([...be.embedding(table, labels!).toFloat32Array()]).toEqual(held.flatMap((y) => [2 * y + 1, 2 * y + 2]));
    } else {
      expectCode('ERR_RANGE', () => be.embedding(table, labels!));
    }
  });
});

describe.skipIf(!cudaAvailable)('a sampler job on its worker thread', () => {
  it('records its row graph while the main thread captures work and drops it (device-wide synchronizations wait for captures)', async () => {
    const be = loadBackend('cuda');
    const model = GatedPixelCNN.create({ channels: 1, height: 2, width: 32, levels: 4, hidden: 4, layers: 2, firstKernel: 3, kernel: 3, skip: 4, headHidden: 4 }, { backend: be, seed: 1 });
    const x = be.tensor(new Float32Array(8), [8]);
    const expected = await model.sample({ count: 1, seed: 1 });
    for (let round = 0; round < 10; round++) {
      const works = Array.from({ length: 500 }, () => be.capture(() => be.relu(x)).work);
      // The jobs start at once, on worker threads: the main thread's captures below meet
      // their handles made and memory freed, and the main thread's drops their captures.
      const sampling = Array.from({ length: 3 }, () => model.sample({ count: 1, seed: 1 }));
      works.push(...Array.from({ length: 500 }, () => be.capture(() => be.relu(x)).work));
      for (const work of works) work.dispose();
      for (const levels of await Promise.all(sampling)) expect(levels).toEqual(expected);
    }
    model.dispose();
  });
});

describe.skipIf(!cudaAvailable)('captured training steps', () => {
  it('replay what eager steps compute, around evaluations and batches of other sizes', () => {
    const backend = loadBackend('cuda');
    expect(backend.canCapture).toBe(true);
    const eagerModel = GatedPixelCNN.create(config, { backend, seed: 3 });
    const graphModel = GatedPixelCNN.create(config, { backend, seed: 3 });
    const eager = new TrainingStep(eagerModel, { graph: false });
    const graphed = new TrainingStep(graphModel, { graph: true });
    const eagerAdam = new Adam(eagerModel.parameters, { lr: 1e-2, weightDecay: 1e-3, decoupled: true });
    const graphAdam = new Adam(graphModel.parameters, { lr: 1e-2, weightDecay: 1e-3, decoupled: true });
    const held = randomBatch(99, 5);
    // Sizes 4, 4, 4, 4, 3, 4, 4: the first 4 warms up, the second is captured, and the
    // size-3 batch, met once, runs eagerly beside the kept graph.
    const sizes = [4, 4, 4, 4, 3, 4, 4];
    const replayedAt: boolean[] = [];
    sizes.forEach((size, step) => {
      const { images, cond } = randomBatch(step + 1, size);
      const expected = eager.run(images, cond);
      const actual = graphed.run(images, cond);
      replayedAt.push(graphed.replayed);
      expect(normalizedError(actual, expected), `NLL at step ${step}`).toBeLessThanOrEqual(1e-6);
      for (const [i, p] of graphModel.parameters.list().entries()) {
        const reference = eagerModel.parameters.list()[i];
        expect(p.grad === null, p.name).toBe(reference.grad === null); // the last block's outputs have none
        if (!p.grad) continue;
        expect(normalizedError(p.grad.toFloat32Array(), reference.grad!.toFloat32Array()), `${p.name}'s gradient at step ${step}`)
          .toBeLessThanOrEqual(1e-6);
      }
      // Clipping scales the gradients in place, which a replay then overwrites.
      const grads = (model: GatedPixelCNN) => model.parameters.list().flatMap((p) => (p.grad ? [p.grad] : []));
      expect(graphModel.backend.clipGradNorm(grads(graphModel), 0.5))
        .toBeCloseTo(eagerModel.backend.clipGradNorm(grads(eagerModel), 0.5), 5);
      eagerAdam.step();
      graphAdam.step();
      // Work between replays allocates from the backend's pool: it must not touch the graph's memory.
      expect(normalizedError(graphModel.nll(held.images, held.cond), eagerModel.nll(held.images, held.cond)))
        .toBeLessThanOrEqual(1e-6);
    });
    // The batch of 3 ran eagerly, and the size-4 graph was kept.
    expect(replayedAt).toEqual([false, true, true, true, false, true, true]);
    expect(graphed.captures).toBe(1);
    expect(normalizedError(weightsOf(graphModel), weightsOf(eagerModel))).toBeLessThanOrEqual(1e-6);

    // A load replaces the parameters' tensors: the next step is captured again, on them.
    graphModel.parameters.assign('head.out.bias', eagerModel.parameters.value('head.out.bias').toFloat32Array());
    const { images, cond } = randomBatch(50, 4);
    expect(normalizedError(graphed.run(images, cond), eager.run(images, cond))).toBeLessThanOrEqual(1e-6);
    expect([graphed.replayed, graphed.captures]).toEqual([true, 2]);

    // Gradients dropped or made eagerly between steps: the replay sets its own again,
    // without a new capture, and they are the step's alone (nothing accumulated).
    graphModel.parameters.zeroGrad();
    expect(graphed.run(images, cond)).toEqual(graphed.run(images, cond));
    graphModel.backward(images, cond);
    const again = randomBatch(51, 4);
    expect(normalizedError(graphed.run(again.images, again.cond), eager.run(again.images, again.cond)))
      .toBeLessThanOrEqual(1e-6);
    for (const [i, p] of graphModel.parameters.list().entries()) {
      const reference = eagerModel.parameters.list()[i].grad;
      if (reference) expect(normalizedError(p.grad!.toFloat32Array(), reference.toFloat32Array()), p.name).toBeLessThanOrEqual(1e-6);
    }
    expect([graphed.replayed, graphed.captures]).toEqual([true, 2]);

    // Bad input is refused before anything runs, and the step still works after.
    expectCode('ERR_RANGE', () => graphed.run(images, { ...cond, labels: Int32Array.of(0, 1, 2, 3) }));
    expect(normalizedError(graphed.run(images, cond), eager.run(images, cond))).toBeLessThanOrEqual(1e-6);

    for (const step of [eager, graphed]) step.dispose();
    for (const adam of [eagerAdam, graphAdam]) adam.dispose();
    for (const model of [eagerModel, graphModel]) model.dispose();
    expect(backend.guardViolations()).toBe(0);
  });

  it('keep a graph for each batch size met twice, with the learning rate changing every step and the cuDNN workspace growing between replays', () => {
    const backend = loadBackend('cuda');
    const eagerModel = GatedPixelCNN.create(config, { backend, seed: 3 });
    const graphModel = GatedPixelCNN.create(config, { backend, seed: 3 });
    // A wider model's backward on a larger batch grows the workspace the graphs were captured with.
    const wider = GatedPixelCNN.create({ ...config, hidden: 16, skip: 16, firstKernel: 7, kernel: 5 }, { backend, seed: 4 });
    const eager = new TrainingStep(eagerModel, { graph: false });
    const graphed = new TrainingStep(graphModel, { graph: true });
    const eagerAdam = new Adam(eagerModel.parameters, { lr: 1e-2, weightDecay: 1e-2, decoupled: false });
    const graphAdam = new Adam(graphModel.parameters, { lr: 1e-2, weightDecay: 1e-2, decoupled: false });
    const sizes = [4, 3, 4, 3, 4, 3, 4, 3, 5, 4, 3, 4];
    const replayedAt: boolean[] = [];
    sizes.forEach((size, step) => {
      const { images, cond } = randomBatch(step + 1, size);
      const expected = eager.run(images, cond);
      expect(normalizedError(graphed.run(images, cond), expected), `NLL at step ${step}`).toBeLessThanOrEqual(1e-6);
      replayedAt.push(graphed.replayed);
      for (const [i, p] of graphModel.parameters.list().entries()) {
        const reference = eagerModel.parameters.list()[i].grad;
        if (reference) {
          expect(normalizedError(p.grad!.toFloat32Array(), reference.toFloat32Array()), `${p.name}'s gradient at step ${step}`)
            .toBeLessThanOrEqual(1e-6);
        }
      }
      const lr = 1e-2 * (1 + Math.cos(step)) / 2 + 1e-4;
      eagerAdam.step(lr);
      graphAdam.step(lr);
      if (step === 5) {
        const larger = randomBatch(77, 8);
        wider.backward(larger.images, larger.cond);
      }
    });
    // Sizes 4 and 3 are each captured at their second step; the single 5 runs eagerly.
    expect(replayedAt).toEqual([false, false, true, true, true, true, true, true, false, true, true, true]);
    expect(graphed.captures).toBe(2);
    expect(normalizedError(weightsOf(graphModel), weightsOf(eagerModel))).toBeLessThanOrEqual(1e-6);
    for (const step of [eager, graphed]) step.dispose();
    for (const adam of [eagerAdam, graphAdam]) adam.dispose();
    for (const model of [eagerModel, graphModel, wider]) model.dispose();
    expect(backend.guardViolations()).toBe(0);
  });

  it('replays recorded ops on new inputs, and survives a capture that an op refuses', () => {
    const backend = loadBackend('cuda');
    const rng = makeRng(7);
    const values = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
    const a = backend.tensor(values(40), [2, 4, 5]);
    const b = backend.tensor(values(40), [2, 4, 5]);
    const { work, result: sum } = backend.capture(() => {
      const relued = backend.relu(a);
      const out = backend.add(relued, b);
      relued.dispose();
      return out;
    });
    for (let round = 0; round < 2; round++) {
      const fresh = values(40);
      backend.write(a, fresh);
      work.replay();
      const bValues = b.toFloat32Array();
      expect(sum.toFloat32Array()).toEqual(Float32Array.from(fresh, (x, i) => Math.max(0, x) + bValues[i]));
    }

    // A tensor from before the capture, freed during it, keeps its memory for the
    // work: the tensors allocated after it (of a size no other test uses, so that
    // they would take its block from the pool) get other memory.
    const [kept, addend] = [values(3001), values(3001)];
    const scratch = backend.tensor(kept, [3001]);
    const other = backend.tensor(addend, [3001]);
    const { work: reads, result: copy } = backend.capture(() => {
      const out = backend.add(scratch, other);
      scratch.dispose();
      return out;
    });
    const later = Array.from({ length: 4 }, () => backend.tensor(values(3001), [3001]));
    reads.replay();
    expect(copy.toFloat32Array()).toEqual(Float32Array.from(kept, (x, i) => x + addend[i]));
    reads.dispose();

    // The recorded work holds the tensors its ops were given: disposing one after the
    // capture leaves its memory to the work, not to the next allocation.
    const [first, second] = [values(3001), values(3001)];
    const input = backend.tensor(first, [3001]);
    const { work: adds, result: total } = backend.capture(() => backend.add(input, other));
    backend.write(input, second);
    input.dispose();
    const reused = Array.from({ length: 4 }, () => backend.tensor(values(3001), [3001]));
    adds.replay();
    expect(total.toFloat32Array()).toEqual(Float32Array.from(second, (x, i) => x + addend[i]));
    adds.dispose();

    // Reading back cannot be recorded: the capture is refused (ERR_ARG), and the backend goes on.
    const error = expectCode('ERR_ARG', () => backend.capture(() => backend.add(a, b).toFloat32Array()));
    expect(error.message).toMatch(/a capture cannot record/);
    const again = backend.add(a, b);
    const [as, bs] = [a.toFloat32Array(), b.toFloat32Array()];
    expect(again.toFloat32Array()).toEqual(Float32Array.from(as, (x, i) => x + bs[i]));

    work.dispose();
    expectCode('ERR_DISPOSED', () => work.replay());
    for (const t of [a, b, sum, other, copy, total, ...later, ...reused, again]) t.dispose();
  });
});

describe.skipIf(!cudaAvailable)('a training step whose capture fails', () => {
  it('warns once and runs eagerly from then on, with the right gradients', async () => {
    const backend = loadBackend('cuda');
    const model = GatedPixelCNN.create(config, { backend, seed: 5 });
    const reference = GatedPixelCNN.create(config, { backend, seed: 5 });
    // A read-back inside the step cannot be recorded.
    const backwardOn = model.backwardOn.bind(model);
    model.backwardOn = (batch, scale) => {
      const nll = backwardOn(batch, scale);
      nll.toFloat32Array();
      return nll;
    };
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => warnings.push(String(warning.code));
    process.on('warning', onWarning);
    try {
      const step = new TrainingStep(model, { graph: true });
      const eager = new TrainingStep(reference, { graph: false });
      for (let i = 0; i < 4; i++) {
        const { images, cond } = randomBatch(10 + i, 3);
        expect(normalizedError(step.run(images, cond), eager.run(images, cond))).toBeLessThanOrEqual(1e-6);
        expect(step.replayed).toBe(false);
        for (const [k, p] of model.parameters.list().entries()) {
          const expected = reference.parameters.list()[k].grad;
          expect(p.grad === null).toBe(expected === null);
          if (expected) expect(normalizedError(p.grad!.toFloat32Array(), expected.toFloat32Array())).toBeLessThanOrEqual(1e-6);
        }
      }
      expect(step.captures).toBe(0);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).toEqual(['GATED_PIXELCNN_STEP_GRAPH']);
    } finally {
      process.off('warning', onWarning);
      model.dispose();
      reference.dispose();
    }
  });
});

describe('captured training steps where the backend cannot capture', () => {
  it('refuse to be asked for, and run eagerly by default', () => {
    const model = GatedPixelCNN.create({ ...config, layers: 1 }, { backend: 'cpu', seed: 1 });
    expect(model.backend.canCapture).toBe(false);
    expectCode('ERR_BACKEND', () => new TrainingStep(model, { graph: true }));
    expectCode('ERR_BACKEND', () => model.backend.capture(() => null));
    const step = new TrainingStep(model);
    const { images, cond } = randomBatch(1, 2);
    const nll = step.run(images, cond);
    expect(step.replayed).toBe(false);
    const grads = model.parameters.list().map((p) => p.grad?.toFloat32Array());
    // A step replaces the gradients; it does not add to them.
    expect(step.run(images, cond)).toEqual(nll);
    model.parameters.list().forEach((p, i) => expect(p.grad?.toFloat32Array()).toEqual(grads[i]));
    step.dispose();
    model.dispose();
  });
});
