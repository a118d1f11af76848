/**
 * The Trainer: a short run lowers the loss; a run resumed from a checkpoint
 * continues with exactly the losses of an uninterrupted run, in-process and after
 * a kill -9 of the CLI; callbacks, the metrics log and evaluation.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { BatchSampler, gatherBatch } from '../../src/data/batches';
import { createDataset, type ImageDataset } from '../../src/data/dataset';
import { Adam } from '../../src/optim/adam';
import { WeightAverage } from '../../src/optim/weight-average';
import { evaluate } from '../../src/train/evaluate';
import { Trainer, type BatchEndInfo, type TrainerOptions } from '../../src/train/trainer';
import { cpu } from '../helpers/backend';
import { holdLockInAnotherProcess } from '../helpers/lock-holder';
import { makeRng } from '../helpers/random';
import { tinyDataset, writeIdx } from '../helpers/tiny-data';
import { trackedBackend } from '../helpers/tracked-backend';

const config = { channels: 1, height: 8, width: 8, levels: 4, hidden: 8, layers: 3, firstKernel: 5, kernel: 3, skip: 8, headHidden: 8, classes: 3 };
const train = tinyDataset(96, 8, 3, 1);
const test = tinyDataset(30, 8, 3, 2);
const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

function losses(metricsFile: string): Map<number, number> {
  const byStep = new Map<number, number>();
  for (const line of readFileSync(metricsFile, 'utf8').trim().split('\n')) {
    const entry = JSON.parse(line) as { type: string; step: number; loss: number };
    if (entry.type === 'train') byStep.set(entry.step, entry.loss);
  }
  return byStep;
}

describe('Trainer', () => {
  it('lowers the loss, reports through callbacks, evaluates and writes its files', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-train-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    const batches: BatchEndInfo[] = [];
    const epochs: number[] = [];
    const evals: number[] = [];
    const trainer = new Trainer({
      model, train, test, outDir, batchSize: 16, budget: { epochs: 8 }, optimizer: { lr: 5e-3 },
      clipNorm: 100, evalLimit: null, progress: false,
      callbacks: {
        onBatchEnd: (info) => batches.push(info),
        onEpochEnd: ({ epoch }) => epochs.push(epoch),
        onEval: ({ nll }) => evals.push(nll),
      },
    });
    const result = await trainer.run();
    expect(result.steps).toBe(48);
    expect(batches).toHaveLength(48);
    expect(epochs).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(evals).toHaveLength(8); // once per epoch by default
    const first = batches.slice(0, 3).reduce((a, b) => a + b.loss, 0) / 3;
    const last = batches.slice(-3).reduce((a, b) => a + b.loss, 0) / 3;
    expect(last).toBeLessThan(first * 0.8);
    expect(evals[evals.length - 1]).toBeLessThan(evals[0]);
    expect(batches.every((b) => b.gradNorm > 0 && b.lr === 5e-3 && Number.isFinite(b.bitsPerDim))).toBe(true);
    for (const file of ['checkpoint.safetensors', 'model.safetensors', 'metrics.jsonl']) {
      expect(existsSync(path.join(outDir, file)), file).toBe(true);
    }
    expect(losses(path.join(outDir, 'metrics.jsonl')).size).toBe(48);
    // The saved model is the trained one.
    const loaded = GatedPixelCNN.load(path.join(outDir, 'model.safetensors'), { backend: cpu });
    const images = Uint8Array.from(test.images.subarray(0, 64), (p) => Math.floor((p * 4) / 256));
    expect(loaded.nll(images, { labels: [0] })).toEqual(model.nll(images, { labels: [0] }));
    trainer.dispose();
  });

  it('updates the weights as a loop written here does: Adam at the scheduled rate on clipped gradients', async () => {
    const lr = 2e-3;
    const clipNorm = 0.05; // small enough to bind at every step
    const steps = 5;
    const schedule = { kind: 'cosine', warmupSteps: 2, finalFraction: 0.1 } as const;
    const trained = GatedPixelCNN.create(config, { backend: cpu, seed: 7 });
    const reported: BatchEndInfo[] = [];
    const trainer = new Trainer({
      model: trained, train, batchSize: 16, seed: 3, optimizer: { lr }, clipNorm, schedule, budget: { steps }, progress: false,
      callbacks: { onBatchEnd: (info) => reported.push(info) },
    });
    await trainer.run();
    trainer.dispose();

    const mine = GatedPixelCNN.create(config, { backend: cpu, seed: 7 });
    const adam = new Adam(mine.parameters, { lr });
    const batches = new BatchSampler(train.count, 16, { seed: 3 });
    for (let step = 1; step <= steps; step++) {
      const batch = gatherBatch(train, batches.next().indices, config.levels);
      mine.parameters.zeroGrad();
      mine.backward(batch.images, { labels: batch.labels });
      const grads = mine.parameters.list().flatMap((p) => (p.grad ? [p.grad] : []));
      const norm = Math.sqrt(grads.reduce((sum, g) => sum + g.toFloat32Array().reduce((a, v) => a + v * v, 0), 0));
      expect(norm).toBeGreaterThan(clipNorm);
      for (const g of grads) cpu.write(g, g.toFloat32Array().map((v) => (v * clipNorm) / norm));
      // Warm-up over 2 steps, then half a cosine over the other 3 down to 0.1·lr.
      const rate = step <= 2 ? (lr * step) / 2 : 0.1 * lr + (0.9 * lr * (1 + Math.cos((Math.PI * (step - 2)) / 3))) / 2;
      expect(reported[step - 1].lr).toBeCloseTo(rate, 12);
      expect(reported[step - 1].gradNorm / norm).toBeCloseTo(1, 5); // the norm before clipping
      adam.step(rate);
    }
    for (const [name, values] of mine.weights()) {
      const theirs = trained.weights().get(name)!;
      const scale = Math.max(...values.map(Math.abs), 1e-3);
      expect(Math.max(...values.map((v, i) => Math.abs(v - theirs[i]))) / scale, name).toBeLessThan(1e-5);
    }
    trained.dispose();
    mine.dispose();
  });

  it('trains and evaluates a model conditioned on global vectors and spatial maps with each image\'s own', async () => {
    const conditioned = { ...config, condDim: 2, spatialCond: 1 };
    const rng = makeRng(29);
    const withConditioning = (data: ImageDataset): ImageDataset => createDataset({
      ...data,
      vectors: Float32Array.from({ length: data.count * 2 }, () => rng() * 2 - 1),
      spatial: Float32Array.from({ length: data.count * 64 }, () => rng() * 2 - 1),
    });
    const [conditionedTrain, conditionedTest] = [withConditioning(train), withConditioning(test)];
    const lr = 3e-3;
    const trained = GatedPixelCNN.create(conditioned, { backend: cpu, seed: 8 });
    const trainer = new Trainer({ model: trained, train: conditionedTrain, batchSize: 16, seed: 5, optimizer: { lr }, budget: { steps: 4 }, progress: false });
    await trainer.run();
    trainer.dispose();

    const mine = GatedPixelCNN.create(conditioned, { backend: cpu, seed: 8 });
    const adam = new Adam(mine.parameters, { lr });
    const batches = new BatchSampler(train.count, 16, { seed: 5 });
    for (let step = 1; step <= 4; step++) {
      const indices = batches.next().indices;
      const batch = gatherBatch(train, indices, config.levels);
      const rows = (values: Float32Array, width: number) =>
        Float32Array.from([...indices].flatMap((i) => [...values.subarray(i * width, (i + 1) * width)]));
      mine.parameters.zeroGrad();
      mine.backward(batch.images, { labels: batch.labels, vectors: rows(conditionedTrain.vectors!, 2), spatial: rows(conditionedTrain.spatial!, 64) });
      adam.step(lr);
    }
    for (const [name, values] of mine.weights()) {
      const theirs = trained.weights().get(name)!;
      const scale = Math.max(...values.map(Math.abs), 1e-3);
      expect(Math.max(...values.map((v, i) => Math.abs(v - theirs[i]))) / scale, name).toBeLessThan(1e-5);
    }

    const evaluation = evaluate(trained, conditionedTest, { batchSize: 7, perImage: true });
    const images = Uint8Array.from(conditionedTest.images, (p) => Math.floor((p * config.levels) / 256));
    const expected = trained.nll(images, { labels: conditionedTest.labels, vectors: conditionedTest.vectors!, spatial: conditionedTest.spatial! });
    expect([...evaluation.imageNlls!].map((v, i) => Math.abs(v - expected[i]) / expected[i]).every((e) => e < 1e-5)).toBe(true);

    for (const [data, message] of [
      [test, /this model takes global vectors of 2 values \(condDim\), which the test set does not give/],
      [{ ...conditionedTest, spatial: null }, /this model takes spatial maps of 1 channel \(spatialCond\), which the test set does not give/],
      [{ ...conditionedTest, vectors: conditionedTest.vectors!.subarray(0, 30) }, /this model takes global vectors of 2 values \(condDim\), but the test set's have 1 value/],
    ] as const) {
      expect(() => evaluate(trained, data), String(message)).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(message) }));
    }
    const plain = GatedPixelCNN.create(config, { backend: cpu, seed: 8 });
    expect(() => new Trainer({ model: plain, train: conditionedTrain, batchSize: 16, progress: false }))
      .toThrow(/the training set gives global vectors, which this model does not take \(its condDim is 0\)/);
    for (const model of [trained, mine, plain]) model.dispose();
  });

  it('refuses, for a class-conditional model, a training set without labels, and scores a test set without them by the marginal NLL', async () => {
    const unlabeled = { ...test, labels: new Int32Array(test.count).fill(-1), classes: 0 };
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    expect(() => new Trainer({ model, train: unlabeled, test, batchSize: 8, progress: false })).toThrow(expect.objectContaining({
      code: 'ERR_ARG', message: expect.stringMatching(/the model has 3 classes \(labels 0-2\) but the training set has no labels/),
    }));
    const trainer = new Trainer({ model, train, test: unlabeled, batchSize: 8, budget: { steps: 2 }, evalLimit: 6, progress: false });
    const { lastEval } = await trainer.run();
    expect(lastEval).toMatchObject({ marginal: true, nll: evaluate(model, unlabeled, { limit: 6 }).nll });
    trainer.dispose();
    model.dispose();
  });

  it('leaves an earlier run\'s files in its folder as they were until it takes a step, then replaces them', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-train-relog-'));
    const log = path.join(outDir, 'metrics.jsonl');
    const checkpoint = path.join(outDir, 'checkpoint.safetensors');
    const earlier = [1, 2, 3].map((step) => JSON.stringify({ type: 'train', step, loss: -step }) + '\n').join('');
    writeFileSync(log, earlier);
    writeFileSync(checkpoint, 'the earlier run\'s');
    const options = { train, outDir, batchSize: 16, budget: { steps: 2 }, progress: false };
    new Trainer({ ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 1 }) }).dispose();
    const stop = new AbortController();
    stop.abort();
    const aborted = new Trainer({ ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 1 }), signal: stop.signal });
    expect(await aborted.run()).toMatchObject({ steps: 0, stoppedBy: 'signal', checkpoint: null });
    aborted.dispose();
    expect(readFileSync(log, 'utf8')).toBe(earlier);
    expect(readFileSync(checkpoint, 'utf8')).toBe('the earlier run\'s');
    expect(existsSync(path.join(outDir, 'model.safetensors'))).toBe(false);

    // A run that takes steps but stops before its first checkpoint removes the earlier
    // run's, which could otherwise be resumed beside this run's log.
    writeFileSync(path.join(outDir, 'model.safetensors'), 'the earlier run\'s');
    const failing = new Trainer({
      ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 1 }), checkpointEvery: 1000,
      callbacks: { onBatchEnd: ({ step }) => { if (step === 1) throw new Error('stop'); } },
    });
    await expect(failing.run()).rejects.toThrow('stop');
    failing.dispose();
    expect(existsSync(checkpoint)).toBe(false);
    expect(existsSync(path.join(outDir, 'model.safetensors'))).toBe(false);
    expect([...losses(log).keys()]).toEqual([1]);

    const trainer = new Trainer({ ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 1 }) });
    expect((await trainer.run()).steps).toBe(2);
    trainer.dispose();
    expect([...losses(log).keys()]).toEqual([1, 2]);
    expect([...losses(log).values()].every((loss) => loss > 0)).toBe(true); // none of the earlier run's
    const resumed = Trainer.resume(checkpoint, { train, backend: cpu, progress: false });
    expect(resumed.step).toBe(2);
    resumed.dispose();
    resumed.model.dispose();
  });

  it('stops with ERR_DIVERGED when an update leaves weights whose test NLL is not finite, writing nothing', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-train-overflow-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    let evaluations = 0;
    const trainer = new Trainer({
      model, train, test, outDir, batchSize: 16, budget: { steps: 1 }, evalEvery: 1, optimizer: { lr: 1e30 }, progress: false,
      callbacks: { onEval: () => evaluations++ },
    });
    // The step's loss and gradient are finite; the weights after it overflow the logits.
    await expect(trainer.run()).rejects.toMatchObject({
      code: 'ERR_DIVERGED', message: expect.stringMatching(/^training diverged at step 1: the test NLL is (NaN|Infinity) /),
    });
    expect(evaluations).toBe(0); // no grid of samples drawn from such weights
    for (const name of ['checkpoint.safetensors', 'model.safetensors']) expect(existsSync(path.join(outDir, name))).toBe(false);
    trainer.dispose();
    model.dispose();
  });

  it('stops with ERR_DIVERGED when the loss becomes NaN or infinite, keeping the last checkpoint and writing no model', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-train-diverged-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    const trainer = new Trainer({
      model, train, outDir, batchSize: 16, budget: { steps: 50 }, optimizer: { lr: 1e30 }, checkpointEvery: 1, progress: false,
    });
    const error = await trainer.run().then(() => null, (e: unknown) => e as Error & { code: string });
    expect(error?.code, error?.message).toBe('ERR_DIVERGED');
    expect(error!.message).toMatch(/training diverged at step (\d+): the loss is .* the checkpoint of step \d+ is kept/);
    const step = Number(/at step (\d+)/.exec(error!.message)![1]);
    expect(step).toBeGreaterThan(1);
    expect(existsSync(path.join(outDir, 'model.safetensors'))).toBe(false);
    // The checkpoint is the last step's before the divergence, and every logged loss is finite.
    const logged = losses(path.join(outDir, 'metrics.jsonl'));
    expect([...logged.keys()]).toEqual(Array.from({ length: step - 1 }, (_, k) => k + 1));
    expect([...logged.values()].every(Number.isFinite)).toBe(true);
    const resumed = Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, backend: cpu, progress: false, batchSize: 16, optimizer: { lr: 1e30 } });
    expect(resumed.step).toBe(step - 1);
    resumed.dispose();
    resumed.model.dispose();
    // The run keeps its settings: another value is refused rather than ignored.
    // The run's schedule (constant) spelled out with its defaults is the same schedule.
    const same = Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, backend: cpu, progress: false, schedule: { kind: 'constant', warmupSteps: 0, gamma: 0.5 } });
    same.dispose();
    same.model.dispose();
    for (const other of [{ batchSize: 8 }, { optimizer: { lr: 1e-3 } }, { schedule: { kind: 'cosine' as const } }]) {
      expect(() => Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, backend: cpu, progress: false, ...other }))
        .toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(/a resumed run keeps the settings it was started with/) }));
    }
    // Nor is a model given to it ignored: the run's is the checkpoint's.
    expect(() => Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, backend: cpu, progress: false, model } as never))
      .toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(/takes its model from the checkpoint/) }));
    trainer.dispose();
    model.dispose();
  });

  it('waits for a callback that returns a promise before the next step', async () => {
    const events: string[] = [];
    const trainer = new Trainer({
      model: GatedPixelCNN.create(config, { backend: cpu, seed: 2 }), train, test, batchSize: 16, budget: { steps: 4 },
      evalEvery: 2, evalLimit: 8, progress: false,
      callbacks: {
        onBatchEnd: ({ step }) => events.push(`step ${step}`),
        onEval: async ({ step }) => {
          events.push(`eval ${step}`);
          await new Promise((resolve) => setTimeout(resolve, 30));
          events.push(`eval ${step} done`);
        },
      },
    });
    await trainer.run();
    expect(events).toEqual(['step 1', 'step 2', 'eval 2', 'eval 2 done', 'step 3', 'step 4', 'eval 4', 'eval 4 done']);
    trainer.dispose();
    trainer.model.dispose();
  });

  it('evaluates the final weights when its budget ends between evaluations, not after a stop by its signal', async () => {
    const run = async (steps: number, stopAt?: number) => {
      const stop = new AbortController();
      const evals: number[] = [];
      const model = GatedPixelCNN.create(config, { backend: cpu, seed: 2 });
      const trainer = new Trainer({
        model, train, test, batchSize: 16, budget: { steps }, evalEvery: 2, evalLimit: 8, progress: false, signal: stop.signal,
        callbacks: { onEval: ({ step }) => { evals.push(step); }, onBatchEnd: ({ step }) => { if (step === stopAt) stop.abort(); } },
      });
      const result = await trainer.run();
      const finalNll = evaluate(model, test, { limit: 8 }).nll;
      trainer.dispose();
      model.dispose();
      return { evals, lastEvalStep: result.lastEvalStep, steps: result.steps, evaluatedFinal: result.lastEval!.nll === finalNll };
    };
    expect(await run(5)).toEqual({ evals: [2, 4, 5], lastEvalStep: 5, steps: 5, evaluatedFinal: true });
    expect(await run(4)).toEqual({ evals: [2, 4], lastEvalStep: 4, steps: 4, evaluatedFinal: true });
    // Stopped by the signal: quickly, in the middle of the budget or at its last step.
    expect(await run(10, 3)).toEqual({ evals: [2], lastEvalStep: 2, steps: 3, evaluatedFinal: false });
    expect(await run(5, 5)).toEqual({ evals: [2, 4], lastEvalStep: 4, steps: 5, evaluatedFinal: false });
  });

  it('a last step whose weights overflow the logits is found by its evaluation before any checkpoint of it is written', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-last-step-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 2 });
    const trainer = new Trainer({
      model, train, test, batchSize: 16, budget: { steps: 3 }, evalEvery: 2, checkpointEvery: 3, evalLimit: 8, outDir, progress: false,
      callbacks: {
        onBatchEnd: ({ step }) => {
          if (step === 3) for (const p of model.parameters.list()) cpu.write(p.value, p.value.toFloat32Array().map((v) => v * 1e30));
        },
      },
    });
    await expect(trainer.run()).rejects.toMatchObject({ code: 'ERR_DIVERGED', message: expect.stringMatching(/training diverged at step 3: the test NLL is/) });
    expect(existsSync(path.join(outDir, 'checkpoint.safetensors'))).toBe(false);
    trainer.dispose();
    model.dispose();
  });

  it('resumed from a checkpoint, continues with exactly the same losses', async () => {
    const options = { train, batchSize: 16, optimizer: { lr: 3e-3, weightDecay: 0.01, decoupled: true }, clipNorm: 50, schedule: { kind: 'cosine' as const, warmupSteps: 3 }, progress: false as const };
    const record = (into: Map<number, number>) => ({ onBatchEnd: (i: BatchEndInfo) => into.set(i.step, i.loss) });

    const whole = new Map<number, number>();
    await new Trainer({ ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 4 }), budget: { steps: 20 }, callbacks: record(whole) }).run();

    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-resume-'));
    const pieces = new Map<number, number>();
    // Stop after step 9 (the schedule still spans 20 steps), then resume in a fresh trainer.
    const stop = new AbortController();
    const first = new Trainer({
      ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 4 }), budget: { steps: 20 }, outDir,
      checkpointEvery: 1000, signal: stop.signal,
      callbacks: { onBatchEnd: (i) => { pieces.set(i.step, i.loss); if (i.step === 9) stop.abort(); } },
    });
    const stopped = await first.run();
    first.dispose();
    expect(stopped.stoppedBy).toBe('signal');
    expect(stopped.steps).toBe(9);
    const resumed = Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, backend: cpu, outDir, progress: false, callbacks: record(pieces) });
    expect(resumed.step).toBe(9);
    await resumed.run();
    expect([...pieces.entries()].sort((a, b) => a[0] - b[0])).toEqual([...whole.entries()]);
    // The metrics log reads as one uninterrupted run.
    expect([...losses(path.join(outDir, 'metrics.jsonl'))]).toEqual([...whole]);
  });

  it('with ema, evaluates and saves the averaged weights, and resumes them exactly', async () => {
    const options = { train, test, batchSize: 16, optimizer: { lr: 3e-3 }, evalEvery: 4, evalLimit: 10, ema: 0.9, progress: false as const };
    const wholeDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-ema-'));
    const evals: number[] = [];
    const whole = new Trainer({ ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 6 }), budget: { steps: 12 }, outDir: wholeDir, callbacks: { onEval: ({ nll }) => evals.push(nll) } });
    await whole.run();
    // The last evaluation measured the averaged weights, which model.safetensors holds, not the trained ones.
    const averaged = whole.averagedModel()!;
    const saved = GatedPixelCNN.load(path.join(wholeDir, 'model.safetensors'), { backend: cpu });
    expect(saved.weights()).toEqual(averaged.weights());
    expect(saved.weights()).not.toEqual(whole.model.weights());
    const { evaluate } = await import('../../src/train/evaluate');
    expect(evals[evals.length - 1]).toBe(evaluate(averaged, test, { limit: 10 }).nll);

    // Stopped after step 6 and resumed: the same losses, evaluations and average.
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-ema-resume-'));
    const stop = new AbortController();
    const resumedEvals: number[] = [];
    const first = new Trainer({
      ...options, model: GatedPixelCNN.create(config, { backend: cpu, seed: 6 }), budget: { steps: 12 }, outDir, checkpointEvery: 1000, signal: stop.signal,
      callbacks: { onBatchEnd: (i) => { if (i.step === 6) stop.abort(); }, onEval: ({ nll }) => resumedEvals.push(nll) },
    });
    await first.run();
    first.dispose();
    const resumed = Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, test, backend: cpu, outDir, progress: false, callbacks: { onEval: ({ nll }) => resumedEvals.push(nll) } });
    expect(resumed.settings.ema).toBe(0.9);
    await resumed.run();
    expect(resumedEvals).toEqual(evals);
    expect([...losses(path.join(outDir, 'metrics.jsonl'))]).toEqual([...losses(path.join(wholeDir, 'metrics.jsonl'))]);
    expect(resumed.averagedModel()!.weights()).toEqual(averaged.weights());
    for (const t of [whole, resumed]) t.dispose();
  });

  it('frees the average when it cannot be built (an output folder that is a file)', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpcnn-ema-fail-')), 'a-file');
    writeFileSync(file, 'not a folder');
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    const before = cpu.memoryUsage().allocated;
    expect(() => new Trainer({ model, train, ema: 0.999, outDir: file, progress: false })).toThrow(expect.objectContaining({ code: 'ERR_IO' }));
    expect(cpu.memoryUsage().allocated).toBe(before);
    model.dispose();
  });

  it('refuses an ema decay outside (0, 1) with ERR_ARG', () => {
    for (const ema of [0, 1, 1.5, -0.1]) {
      expect(() => new Trainer({ model: GatedPixelCNN.create(config, { backend: cpu, seed: 1 }), train, ema, progress: false }))
        .toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(/average decay must be a number in \(0, 1\)/) }));
    }
  });

  it('after kill -9 of the CLI, --resume continues with exactly the same losses', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-kill-'));
    const trainFiles = writeIdx(dir, 'train', tinyDataset(160, 8, 3, 5));
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const args = (out: string) => [
      cli, 'train', '--config', configFile, '--dataset', 'idx', '--train-images', trainFiles.images,
      '--train-labels', trainFiles.labels, '--steps', '60', '--batch-size', '8', '--checkpoint-every', '7',
      '--out', out, '--no-progress', '--seed', '3',
    ];
    const straight = spawnSync(process.execPath, args(path.join(dir, 'straight')), { encoding: 'utf8' });
    expect(straight.status, straight.stderr).toBe(0);

    const out = path.join(dir, 'killed');
    const child = spawn(process.execPath, args(out), { stdio: 'ignore' });
    const metrics = path.join(out, 'metrics.jsonl');
    // Kill it mid-run, some steps past a checkpoint, at no particular point of a step.
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        const lines = existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').length : 0;
        if (lines > 25) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => {
        clearInterval(poll);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((resolve) => child.on('exit', resolve));
    const resumed = spawnSync(process.execPath, [...args(out), '--resume'], { encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* at step (7|14|21|28)/);
    expect([...losses(metrics)]).toEqual([...losses(path.join(dir, 'straight', 'metrics.jsonl'))]);
  });

  describe('a checkpoint whose training state is damaged', () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-damaged-'));
    const good = path.join(outDir, 'checkpoint.safetensors');
    beforeAll(async () => {
      const model = GatedPixelCNN.create(config, { backend: cpu, seed: 3 });
      await new Trainer({ model, train, batchSize: 16, budget: { steps: 2 }, outDir, progress: false }).run();
      model.dispose();
    });
    /** The good checkpoint with its training state (parsed JSON) changed by `edit`. */
    const damaged = (name: string, edit: (state: Record<string, unknown>) => void): string => {
      const file = decodeSafetensors(readFileSync(good));
      const state = JSON.parse(file.metadata.training) as Record<string, unknown>;
      edit(state);
      const out = path.join(outDir, `${name}.safetensors`);
      writeFileSync(out, encodeSafetensors({ ...file, metadata: { ...file.metadata, training: JSON.stringify(state) } }));
      return out;
    };
    it.each([
      ['without optimizer step counts', (s: Record<string, unknown>) => delete s.adamSteps, /optimizer step counts/],
      ['with a step that is not a number', (s: Record<string, unknown>) => (s.step = 'x'), /step count/],
      ['without its settings', (s: Record<string, unknown>) => delete s.settings, /lacks the settings batchSize/],
      ['without a batch size', (s: Record<string, unknown>) => delete (s.settings as Record<string, unknown>).batchSize, /lacks the settings batchSize$/],
      ['with an invalid learning rate', (s: Record<string, unknown>) => ((s.settings as { optimizer: { lr: number } }).optimizer.lr = -1), /invalid settings: lr/],
      ['with a malformed summary of the training data', (s: Record<string, unknown>) => (s.data = 'MNIST'), /malformed summary of the training data/],
      ['with a malformed summary of the test data', (s: Record<string, unknown>) => (s.test = { count: -1 }), /malformed summary of the test data/],
      ['with a data order past the data', (s: Record<string, unknown>) => ((s.sampler as { position: number }).position = 999), /data-order-past-the-data\.safetensors: the training state's data order is damaged/],
      ['with an optimizer moment of the wrong shape', null, /optimizer\.blocks\.0\.v\.weight\.m has shape/],
    ])('%s is refused with ERR_CHECKPOINT, and the model built for it freed', (name, edit, reason) => {
      let file: string;
      if (edit) {
        file = damaged(name.replace(/\W+/g, '-'), edit);
      } else {
        const decoded = decodeSafetensors(readFileSync(good));
        const moment = decoded.tensors.get('optimizer.blocks.0.v.weight.m')!;
        decoded.tensors.set('optimizer.blocks.0.v.weight.m', { ...moment, shape: [moment.shape.reduce((a, b) => a * b, 1)] });
        file = path.join(outDir, 'bad-moment.safetensors');
        writeFileSync(file, encodeSafetensors(decoded));
      }
      const tracked = trackedBackend();
      expect(() => Trainer.resume(file, { train, backend: tracked.backend, progress: false }))
        .toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(reason) }));
      expect(tracked.live()).toEqual([]);
    });
  });

  it('a resumed run refuses a training set other than the run\'s (ERR_ARG): the checkpoint does not hold the data', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-otherdata-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 3 });
    await new Trainer({ model, train, batchSize: 16, budget: { steps: 1 }, outDir, progress: false }).run();
    model.dispose();
    const checkpoint = path.join(outDir, 'checkpoint.safetensors');
    const tracked = trackedBackend();
    expect(() => Trainer.resume(checkpoint, { train: tinyDataset(50, 8, 3, 1), backend: tracked.backend, progress: false }))
      .toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(/trained on 96 images of 1×8×8 in 3 classes, this training set holds 50 images/) }));
    expect(tracked.live()).toEqual([]);
    const resumed = Trainer.resume(checkpoint, { train, backend: cpu, progress: false });
    expect(resumed.step).toBe(1);
    resumed.dispose();
    resumed.model.dispose();
  });

  it('a resumed run refuses a test set other than the run\'s, and a budget the run is already past (ERR_ARG)', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-othertest-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 3 });
    await new Trainer({ model, train, test, batchSize: 16, budget: { steps: 3 }, evalEvery: 2, outDir, progress: false }).run();
    model.dispose();
    const checkpoint = path.join(outDir, 'checkpoint.safetensors');
    const unlabeled = { ...test, labels: new Int32Array(test.count).fill(-1), classes: 0 };
    for (const [other, now] of [[undefined, 'no test set'], [tinyDataset(20, 8, 3, 2), '20 images'], [unlabeled, '30 images of 1×8×8:']] as const) {
      expect(() => Trainer.resume(checkpoint, { train, test: other, backend: cpu, progress: false }), now).toThrow(expect.objectContaining({
        code: 'ERR_ARG',
        message: expect.stringContaining(`evaluated on 30 images of 1×8×8 in 3 classes, this run would evaluate on ${now}`),
      }));
    }
    expect(() => Trainer.resume(checkpoint, { train, test, backend: cpu, progress: false, budget: { steps: 2 } })).toThrow(expect.objectContaining({
      code: 'ERR_ARG', message: 'the run being resumed is at step 3, past the 2 steps its new budget allows: give a budget of 3 steps or more',
    }));
    const resumed = Trainer.resume(checkpoint, { train, test, backend: cpu, progress: false, budget: { steps: 3 } });
    expect((await resumed.run()).steps).toBe(3);
    resumed.dispose();
    resumed.model.dispose();
  });

  it('keeps the class names in its checkpoint, model file and average, and refuses data that names the classes otherwise', async () => {
    const classNames = ['circle', 'square', 'star'];
    const named = { ...train, classNames };
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-class-names-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 3, classNames });
    const trainer = new Trainer({ model, train: named, test: { ...test, classNames }, batchSize: 16, budget: { steps: 2 }, ema: 0.9, outDir, progress: false });
    await trainer.run();
    expect(trainer.averagedModel()!.classNames).toEqual(classNames);
    trainer.dispose();
    model.dispose();
    for (const file of ['model.safetensors', 'checkpoint.safetensors']) {
      const saved = GatedPixelCNN.load(path.join(outDir, file), { backend: cpu });
      expect(saved.classNames, file).toEqual(classNames);
      saved.dispose();
    }
    const checkpoint = path.join(outDir, 'checkpoint.safetensors');
    const resumed = Trainer.resume(checkpoint, { train: named, test: { ...test, classNames }, backend: cpu, progress: false });
    expect(resumed.model.classNames).toEqual(classNames);
    resumed.dispose();
    resumed.model.dispose();
    const reordered = { ...train, classNames: ['square', 'circle', 'star'] };
    expect(() => Trainer.resume(checkpoint, { train: reordered, test, backend: cpu, progress: false })).toThrow(expect.objectContaining({
      code: 'ERR_ARG',
      message: "the training set's classes are 0 square, 1 circle, 2 star, the model's 0 circle, 1 square, 2 star",
    }));
    // Data without names fits any model (MNIST's digits are their labels).
    const unnamed = Trainer.resume(checkpoint, { train, test, backend: cpu, progress: false });
    unnamed.dispose();
    unnamed.model.dispose();
  });

  it('refuses an empty test set with ERR_DATA before training', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu });
    const empty = { ...test, count: 0, images: new Uint8Array(0), labels: new Int32Array(0) };
    expect(() => new Trainer({ model, train, test: empty, progress: false })).toThrow(expect.objectContaining({ code: 'ERR_DATA' }));
    model.dispose();
  });

  it('refuses use after dispose with ERR_DISPOSED: the model, its average, the trainer (which would train on from reset moments)', async () => {
    const disposed = expect.objectContaining({ code: 'ERR_DISPOSED' });
    const model = GatedPixelCNN.create(config, { backend: cpu });
    const trainer = new Trainer({ model, train, budget: { steps: 1 }, ema: 0.9, progress: false });
    trainer.dispose();
    await expect(trainer.run()).rejects.toEqual(disposed);
    expect(() => trainer.averagedModel()).toThrow(disposed);
    const other = new Trainer({ model, train, budget: { steps: 1 }, progress: false });
    const average = new WeightAverage(model, 0.9);
    model.dispose();
    await expect(other.run()).rejects.toEqual(disposed);
    for (const use of [() => model.weights(), () => model.save(path.join(os.tmpdir(), 'never.safetensors')), () => average.update(), () => average.model()]) {
      expect(use).toThrow(disposed);
    }
    other.dispose();
    average.dispose();
    expect(() => average.weights()).toThrow(disposed);
  });

  it('refuses bad settings with ERR_ARG', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu });
    const bad = [{ optimizer: { beta1: '0.5' } }, { optimizer: { decoupled: 'yes' } }, { optimizer: { lrr: 1 } }, { optimizer: 'fast' }, { callbacks: 5 }, { callbacks: { onBatchEnd: 1 } }, { signal: {} }, { batchSize: 0 }, { budget: {} }, { budget: { minutes: -1 } }, { clipNorm: -1 }, { optimizer: { lr: NaN } }, { optimizer: { beta1: 1 } }, { optimizer: { eps: 0 } }, { schedule: { kind: 'cosine' as const }, budget: { minutes: 1 } }, { outDir: '' }, { runFiles: ['../elsewhere.png'] }, { runFiles: 'samples.png' }] as Partial<TrainerOptions>[];
    for (const settings of bad) {
      expect(() => new Trainer({ model, train, progress: false, ...settings }), JSON.stringify(settings)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    }
    expect(() => new Trainer(null as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    // null is left out: no files, no callbacks, no signal.
    new Trainer({ model, train, progress: false, outDir: null as never, callbacks: null as never, signal: null as never, optimizer: null as never }).dispose();
    const rgb = { ...train, channels: 3, images: new Uint8Array(train.images.length * 3) };
    expect(() => new Trainer({ model, train: rgb, progress: false })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });

  it('stops a run whose trainer is disposed during it with ERR_DISPOSED, writing nothing more, and frees its state then', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-train-disposed-'));
    const tracked = trackedBackend(); // it records every tensor its ops make
    const model = GatedPixelCNN.create(config, { backend: tracked.backend, seed: 1 });
    const trainer: Trainer = new Trainer({
      model, train, outDir, progress: false, budget: { steps: 6 }, checkpointEvery: 1,
      callbacks: { onBatchEnd: ({ step }) => { if (step === 2) trainer.dispose(); } },
    });
    await expect(trainer.run()).rejects.toMatchObject({ code: 'ERR_DISPOSED', message: expect.stringMatching(/disposed during its run/) });
    const state = JSON.parse(decodeSafetensors(readFileSync(path.join(outDir, 'checkpoint.safetensors'))).metadata.training) as { step: number };
    expect(state.step).toBe(1); // the checkpoint of step 1 stays; step 2's was never written
    await expect(trainer.run()).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    model.dispose();
    expect(tracked.live()).toEqual([]); // Adam's moments freed, none rebuilt
  });

  it('refuses a second run() while one is running, which goes on undisturbed', async () => {
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    const trainer = new Trainer({ model, train, progress: false, budget: { steps: 3 } });
    const first = trainer.run();
    await expect(trainer.run()).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/already running/) });
    expect((await first).steps).toBe(3);
    expect((await trainer.run()).steps).toBe(3); // the budget is spent: a later run takes no step
    trainer.dispose();
    model.dispose();
  });

  it('refuses a second trainer on a model that one is training, and trains it again once that run ends', async () => {
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    const [one, other] = [1, 2].map(() => new Trainer({ model, train, progress: false, budget: { steps: 3 } }));
    const first = one.run();
    await expect(other.run()).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/another trainer is running on this model/) });
    expect((await first).steps).toBe(3);
    expect((await other.run()).steps).toBe(3);
    // A run that failed frees the model too.
    const failing = new Trainer({ model, train, progress: false, budget: { steps: 3 }, callbacks: { onBatchEnd: () => { throw new Error('callback failed'); } } });
    await expect(failing.run()).rejects.toThrow('callback failed');
    expect((await new Trainer({ model, train, progress: false, budget: { steps: 1 } }).run()).steps).toBe(1);
    for (const trainer of [one, other, failing]) trainer.dispose();
    model.dispose();
  });

  it('refuses with ERR_BUSY a run into a folder another run is training into, from this process or another, or wrote a checkpoint into since', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-train-busy-'));
    const [a, b] = [1, 2].map((seed) => GatedPixelCNN.create(config, { backend: cpu, seed }));
    const one = new Trainer({ model: a, train, outDir, progress: false, budget: { steps: 3 }, checkpointEvery: 1 });
    const other = new Trainer({ model: b, train, outDir, progress: false, budget: { steps: 2 } });
    const first = one.run();
    await expect(other.run()).rejects.toMatchObject({ code: 'ERR_BUSY', message: expect.stringContaining(outDir) });
    expect((await first).steps).toBe(3);
    expect([...losses(path.join(outDir, 'metrics.jsonl')).keys()]).toEqual([1, 2, 3]); // the first run's alone
    // Set up before the first run's checkpoints, the other would now overwrite them.
    await expect(other.run()).rejects.toMatchObject({ code: 'ERR_BUSY', message: expect.stringMatching(/wrote .*checkpoint\.safetensors after this one was set up/) });
    const resumed = Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, outDir, backend: cpu, progress: false, budget: { steps: 5 } });
    const stale = Trainer.resume(path.join(outDir, 'checkpoint.safetensors'), { train, outDir, backend: cpu, progress: false, budget: { steps: 5 } });
    expect((await resumed.run()).steps).toBe(5);
    await expect(stale.run()).rejects.toMatchObject({ code: 'ERR_BUSY' }); // it would go back to step 3
    expect([...losses(path.join(outDir, 'metrics.jsonl')).keys()]).toEqual([1, 2, 3, 4, 5]);
    expect((await resumed.run()).steps).toBe(5); // a trainer's own checkpoints are no other run's
    for (const trainer of [resumed, stale]) {
      trainer.dispose();
      trainer.model.dispose();
    }

    // A process holding the folder, then killed: the kernel drops its lock with it.
    const holder = await holdLockInAnotherProcess(path.join(outDir, '.training.lock'));
    const third = new Trainer({ model: b, train, outDir, progress: false, budget: { steps: 1 }, checkpointEvery: 1 });
    await expect(third.run()).rejects.toMatchObject({ code: 'ERR_BUSY' });
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.on('exit', resolve));
    expect((await third.run()).steps).toBe(1);
    for (const trainer of [one, other, third]) trainer.dispose();
    a.dispose();
    b.dispose();
  });

  it('samples, with either sampler, the weights a model has when sample() is called, while a trainer goes on training it', async () => {
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: 1 });
    const options = { count: 3, labels: [0, 1, 2], seed: 4 };
    let started: { weights: Map<string, Float32Array>; samples: Promise<Uint8Array>[] } | undefined;
    const trainer = new Trainer({
      model, train, progress: false, budget: { steps: 12 }, batchSize: 8, optimizer: { lr: 1e-2 },
      callbacks: {
        onBatchEnd: ({ step }) => {
          // Not awaited: the run goes on while both sample.
          if (step === 2) started = { weights: model.weights(), samples: (['naive', 'cached'] as const).map((sampler) => model.sample({ ...options, sampler })) };
        },
      },
    });
    await trainer.run();
    const [naive, cached] = await Promise.all(started!.samples);
    const atStepTwo = GatedPixelCNN.fromWeights(model.config, started!.weights, cpu);
    const expected = await atStepTwo.sample({ ...options, sampler: 'naive' });
    expect(naive).toEqual(expected);
    expect(cached).toEqual(expected);
    // The run went on meanwhile: the final weights draw other images.
    expect(await model.sample({ ...options, sampler: 'naive' })).not.toEqual(expected);
    for (const disposable of [trainer, model, atStepTwo]) disposable.dispose();
  });

  it('refuses, in training and evaluation, a dataset made by hand whose fields disagree (missing images would read as zeros)', () => {
    const model = GatedPixelCNN.create(config, { backend: cpu });
    const one = { ...train, count: 1, images: train.images.slice(0, 64), labels: train.labels.slice(0, 1) };
    for (const [bad, code] of [
      [{ ...one, count: 8 }, 'ERR_LENGTH'],
      [{ ...one, count: 1.5 }, 'ERR_ARG'],
      [{ ...one, count: NaN }, 'ERR_ARG'],
      [{ ...one, images: Float32Array.from(one.images) }, 'ERR_TYPE'],
      [{ ...one, labels: Int32Array.of(7) }, 'ERR_RANGE'],
      [null, 'ERR_ARG'],
    ] as const) {
      const data = bad as unknown as typeof train;
      expect(() => evaluate(model, data), JSON.stringify(bad)).toThrow(expect.objectContaining({ code }));
      expect(() => new Trainer({ model, train: data, progress: false }), JSON.stringify(bad)).toThrow(expect.objectContaining({ code }));
      if (bad !== null) expect(() => new Trainer({ model, train, test: data, progress: false }), JSON.stringify(bad)).toThrow(expect.objectContaining({ code })); // (null: no test set)
    }
    expect(evaluate(model, one).images).toBe(1);
    model.dispose();
  });
});
