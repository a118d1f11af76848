/**
 * Checks of Backend.memoryUsage() shared by the CPU and GPU suites: the allocator's
 * counts follow tensors made, freed and reused, the peaks and their reset, and a
 * whole training step (model, Adam, TrainingStep) gives back every byte it took.
 */
import { expect } from 'vitest';

import { Adam, GatedPixelCNN, TrainingStep, type Backend, type MemoryUsage } from '../../src';
import { makeRng, uniform } from './random';

// Whole blocks: up to a 64 KiB granule above 1 MiB, and guard regions around each.
const slack = 64 * 1024 + 1024;

export function checkTensorAccounting(backend: Backend): void {
  const rng = makeRng(11);
  backend.releaseCachedMemory();
  const start = backend.memoryUsage();
  expect(start.reserved).toBe(start.allocated); // nothing idle once released

  const small = backend.tensor(Float32Array.from(uniform(rng, 1000)), [10, 100]);
  const held = backend.memoryUsage();
  const block = held.allocated - start.allocated;
  expect(block).toBeGreaterThanOrEqual(4000);
  expect(block).toBeLessThan(4000 + 2048);
  expect(held.reserved - start.reserved).toBe(block);
  expect(held.peakAllocated).toBeGreaterThanOrEqual(held.allocated);

  small.dispose();
  const idle = backend.memoryUsage();
  expect(idle.allocated).toBe(start.allocated);
  expect(idle.reserved).toBe(held.reserved); // kept for reuse

  const again = backend.zeros([1000]);
  expect(backend.memoryUsage().allocated).toBe(held.allocated);
  expect(backend.memoryUsage().reserved).toBe(held.reserved); // the idle block, handed out again
  again.dispose();

  backend.resetPeakMemory();
  const reset = backend.memoryUsage();
  expect(reset.peakAllocated).toBe(reset.allocated);
  expect(reset.peakReserved).toBe(reset.reserved);

  const big = backend.zeros([3 << 18]); // 3 MiB
  big.dispose();
  const peaks = backend.memoryUsage();
  expect(peaks.allocated).toBe(reset.allocated);
  expect(peaks.peakAllocated - reset.allocated).toBeGreaterThanOrEqual(3 << 20);
  expect(peaks.peakAllocated - reset.allocated).toBeLessThan((3 << 20) + slack);
  expect(peaks.peakReserved).toBeGreaterThanOrEqual(peaks.reserved);

  backend.releaseCachedMemory();
  const released = backend.memoryUsage();
  expect(released.reserved).toBe(released.allocated);
  expect(released.allocated).toBe(start.allocated);
}

const config = {
  channels: 1, height: 8, width: 8, levels: 4, hidden: 8, layers: 2, firstKernel: 3, kernel: 3, skip: 8,
  headHidden: 4, classes: 3, condDim: 0, spatialCond: 0,
};

/**
 * Trains a small model with Adam and a TrainingStep on `backend` (captured steps where
 * it captures), and disposes all of it. Returns what memoryUsage() said between two
 * steps and after the next one, whose peak it measures.
 */
function trainAndDispose(backend: Backend): { between: MemoryUsage; after: MemoryUsage; replayed: boolean } {
  const rng = makeRng(12);
  const model = GatedPixelCNN.create(config, { seed: 3, backend });
  const adam = new Adam(model.parameters);
  const step = new TrainingStep(model);
  const images = Uint8Array.from({ length: 4 * 64 }, () => Math.floor(rng() * config.levels));
  const labels = Int32Array.from({ length: 4 }, () => Math.floor(rng() * config.classes));
  for (let i = 0; i < 4; i++) {
    step.run(images, { labels });
    adam.step();
  }
  const between = backend.memoryUsage();
  backend.resetPeakMemory();
  step.run(images, { labels });
  adam.step();
  const after = backend.memoryUsage();
  const replayed = step.replayed;
  step.dispose();
  adam.dispose();
  model.dispose();
  return { between, after, replayed };
}

/**
 * A training step's peak exceeds what the model and Adam hold between steps (by its
 * activations, where it runs eagerly), nothing is kept from step to step, and once
 * all is disposed `allocated` is back where it started. (The first round grows what a
 * backend keeps for good, cuDNN's workspace: the second is measured.)
 */
export function checkTrainingReturnsEveryByte(backend: Backend): void {
  trainAndDispose(backend);
  const start = backend.memoryUsage().allocated;
  const { between, after, replayed } = trainAndDispose(backend);
  expect(after.peakAllocated).toBeGreaterThanOrEqual(between.allocated);
  if (!replayed) expect(after.peakAllocated).toBeGreaterThan(between.allocated);
  expect(after.allocated).toBe(between.allocated);
  expect(backend.memoryUsage().allocated).toBe(start);
}

/** How many convolution plans a backend keeps at most (native/core/backend.h). */
export const KEPT_CONVOLUTION_PLANS = 512;

/**
 * A process meeting a new batch size on every call keeps no more than the most recent
 * KEPT_CONVOLUTION_PLANS plans (it kept one per shape for good), and a convolution
 * whose plan was dropped computes what it did. Returns the count after.
 */
export function checkConvolutionPlansBounded(backend: Backend): number {
  const rng = makeRng(13);
  const weight = backend.tensor(Float32Array.from(uniform(rng, 2 * 2 * 3 * 3)), [2, 2, 3, 3]);
  const convolve = (batch: number, values: Float32Array) => {
    const x = backend.tensor(values, [batch, 2, 3, 3]);
    const y = backend.conv2d(x, weight, null, { dy: 1, dx: 1 });
    const result = y.toFloat32Array();
    x.dispose();
    y.dispose();
    return result;
  };
  const first = Float32Array.from(uniform(rng, 2 * 3 * 3));
  const before = backend.memoryUsage().cachedPlans;
  const expected = convolve(1, first);
  expect(backend.memoryUsage().cachedPlans).toBe(Math.min(before + 1, KEPT_CONVOLUTION_PLANS));
  for (let batch = 2; batch <= KEPT_CONVOLUTION_PLANS + 20; batch++) convolve(batch, new Float32Array(batch * 2 * 3 * 3).fill(0.5));
  expect(backend.memoryUsage().cachedPlans).toBe(KEPT_CONVOLUTION_PLANS);
  expect(convolve(1, first)).toEqual(expected); // its plan made again
  weight.dispose();
  return backend.memoryUsage().cachedPlans;
}
