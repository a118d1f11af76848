/**
 * Training on CUDA follows the CPU's run: the same losses and gradient norms step by
 * step, a CPU checkpoint resumes on CUDA where the CPU would have gone, and a
 * checkpoint written from CUDA evaluates the same on the CPU. Skips without a GPU
 * (or the CUDA emulator).
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadBackend } from '../../src';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { evaluate } from '../../src/train/evaluate';
import { CHECKPOINT_FILE, Trainer, type TrainerOptions } from '../../src/train/trainer';
import { normalizedError } from '../helpers/compare';
import { cudaAvailable, tf32 } from '../helpers/cuda';
import { tinyDataset } from '../helpers/tiny-data';

// Per-step losses drift apart a little as Adam amplifies rounding differences.
const tolerance = tf32 ? 2e-2 : 1e-4;

const config = { channels: 1, height: 8, width: 8, levels: 4, hidden: 8, layers: 3, firstKernel: 5, kernel: 3, skip: 8, headHidden: 8, classes: 3 };
const train = tinyDataset(96, 8, 3, 1);
const test = tinyDataset(30, 8, 3, 2);

type Run = { losses: number[]; gradNorms: number[]; outDir: string };

function settings(epochs: number): Omit<TrainerOptions, 'model'> & { outDir: string } {
  return {
    train, test, batchSize: 16, budget: { epochs }, optimizer: { lr: 5e-3 }, clipNorm: 1, evalLimit: null,
    progress: false, checkpointEvery: 6, outDir: mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cuda-train-')),
  };
}

/** Runs a trainer made with `make(options)`, recording each step's loss and gradient norm. */
async function record(
  options: Omit<TrainerOptions, 'model'> & { outDir: string },
  make: (options: Omit<TrainerOptions, 'model'>) => Trainer,
): Promise<Run> {
  const result: Run = { losses: [], gradNorms: [], outDir: options.outDir };
  const callbacks = {
    onBatchEnd: ({ loss, gradNorm }: { loss: number; gradNorm: number }) => {
      result.losses.push(loss);
      result.gradNorms.push(gradNorm);
    },
  };
  await make({ ...options, callbacks }).run();
  return result;
}

describe.skipIf(!cudaAvailable)('training on CUDA', () => {
  it('follows the CPU run, resumes a CPU checkpoint, and writes checkpoints the CPU reads', async () => {
    const fresh = (backend: 'cpu' | 'cuda', epochs: number) =>
      record(settings(epochs), (options) =>
        new Trainer({ ...options, model: GatedPixelCNN.create(config, { backend: loadBackend(backend), seed: 1 }) }));
    const onCpu = await fresh('cpu', 2);
    const onCuda = await fresh('cuda', 2);
    expect(onCuda.losses).toHaveLength(12);
    expect(normalizedError(onCuda.losses, onCpu.losses)).toBeLessThanOrEqual(tolerance);
    expect(normalizedError(onCuda.gradNorms, onCpu.gradNorms)).toBeLessThanOrEqual(tolerance);

    // Half the run on the CPU, the rest on CUDA from its checkpoint (Adam's state included).
    const firstHalf = await fresh('cpu', 1);
    const resumed = await record({ ...settings(2), outDir: firstHalf.outDir }, (options) =>
      Trainer.resume(path.join(firstHalf.outDir, CHECKPOINT_FILE), { ...options, backend: 'cuda' }));
    expect(resumed.losses).toHaveLength(6);
    expect(normalizedError(resumed.losses, onCpu.losses.slice(6))).toBeLessThanOrEqual(tolerance);

    const trained = GatedPixelCNN.load(path.join(onCuda.outDir, 'model.safetensors'), { backend: 'cuda' });
    const onTheCpu = GatedPixelCNN.load(path.join(onCuda.outDir, 'model.safetensors'), { backend: 'cpu' });
    expect(normalizedError([evaluate(onTheCpu, test).nll], [evaluate(trained, test).nll])).toBeLessThanOrEqual(tf32 ? 1e-3 : 1e-5);
  });

  it('takes the same steps with captured steps as without: warmup and cosine, decay, clipping, an average, evaluations between steps', async () => {
    const run = async (stepGraph: boolean) => {
      const model = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed: 1 });
      const steps: { loss: number; lr: number; gradNorm: number }[] = [];
      await new Trainer({
        model, train: tinyDataset(50, 8, 3, 1), test, batchSize: 16, budget: { epochs: 3 }, evalEvery: 2, evalLimit: null,
        optimizer: { lr: 5e-3, weightDecay: 1e-3 }, schedule: { kind: 'cosine', warmupSteps: 3 }, clipNorm: 0.5, ema: 0.9,
        progress: false, stepGraph, callbacks: { onBatchEnd: ({ loss, lr, gradNorm }) => steps.push({ loss, lr, gradNorm }) },
      }).run();
      const weights = model.parameters.list().flatMap((p) => [...p.value.toFloat32Array()]);
      model.dispose();
      return { steps, weights };
    };
    const captured = await run(true);
    const eager = await run(false);
    expect(captured.steps).toHaveLength(9); // 3 whole batches of 16 in 50 images, 3 epochs
    expect(captured.steps.map((s) => s.lr)).toEqual(eager.steps.map((s) => s.lr));
    expect(new Set(eager.steps.map((s) => s.lr)).size).toBe(9);
    for (const key of ['loss', 'gradNorm'] as const) {
      expect(normalizedError(captured.steps.map((s) => s[key]), eager.steps.map((s) => s[key])), key).toBeLessThanOrEqual(tolerance);
    }
    expect(normalizedError(captured.weights, eager.weights)).toBeLessThanOrEqual(tolerance);
  });
});
