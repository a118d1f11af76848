/**
 * Parity of the whole training algorithm with PyTorch: the Trainer, run through its
 * public API on a small random model, takes the steps that PyTorch's own
 * torch.optim.Adam / AdamW, torch.nn.utils.clip_grad_norm_ and (with ema)
 * torch.optim.swa_utils.AveragedModel take on the reference model of scripts/torch, in
 * float64, from the same checkpoint on the same batches in the same order, with the
 * learning rate of the documented schedule (scripts/torch/train_steps.py). Compared:
 * every step's loss (the batch's mean NLL), learning rate and gradient norm, and the final
 * weights (and averaged weights). Skipped where python3 cannot import torch.
 *
 * The batches are those the Trainer draws: its BatchSampler (public, seeded) gives the
 * order, and the levels are quantized here by SPEC.md §1 (x = ⌊p·K/256⌋). A wrong order
 * would show at once in the losses.
 *
 * Tolerances, and what was measured (Linux x86-64, PyTorch 2.13 CPU). Losses: relative
 * 1e-5 (measured ≤ 9e-8: the forward alone agrees to 1e-6). Gradient norms before
 * clipping: relative 1e-5 (measured ≤ 2e-6: from step 2 on they are taken at weights
 * that already differ by float32 rounding). Learning rates: relative 1e-12 (the same
 * formula in double on both sides). Weights, final and averaged: for each tensor,
 * max |ours − PyTorch's| ≤ 2e-5 × its scale, the largest |weight| of the tensor (at least
 * 0.1: class tables start at 0). Measured: ≤ 3.5e-6 of the scale. Ours compute in float32,
 * and Adam divides each gradient by its own running magnitude, so that the rounding of a
 * small gradient reaches its weight's step undamped: PyTorch's own run in float32 lands
 * 2e-7 to 1.2e-6 of the scale from its float64 run on these cases. What the test must catch
 * lands far above: a rate 0.1% high moves the weights by ≥ 2.5e-4 of their scale (and the
 * gradient norms by ≥ 2e-4), decay left off or kept off the biases by ≥ 1.8e-3, clipping
 * left off by ≥ 2e-2, the average's ramp off by one step 3e-3.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BatchSampler, GatedPixelCNN, Trainer, readCheckpoint, type BatchEndInfo, type Schedule } from '../../src';
import { cpu } from '../helpers/backend';
import { integers, makeRng } from '../helpers/random';

const script = path.resolve(__dirname, '..', '..', 'scripts', 'torch', 'train_steps.py');
const hasTorch = spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

interface Case {
  name: string;
  config: {
    channels: number; height: number; width: number; levels: number; hidden: number; layers: number;
    firstKernel: number; kernel: number; skip: number; headHidden: number; classes: number;
  };
  decoupled: boolean;
  weightDecay: number;
  clipNorm: number;
  schedule: Schedule;
  ema?: number;
}

const STEPS = 6;
const BATCH = 4;
const IMAGES = 12; // 3 batches an epoch: the 6 steps span two epochs' shuffles
const LR = 1e-2;
const SEED = 5;

const cases: Case[] = [
  {
    name: 'C=1, K=8, 3 classes, AdamW, warm-up + cosine',
    config: { channels: 1, height: 6, width: 5, levels: 8, hidden: 6, layers: 3, firstKernel: 5, kernel: 3, skip: 5, headHidden: 7, classes: 3 },
    decoupled: true, weightDecay: 0.05, clipNorm: 5.5,
    schedule: { kind: 'cosine', warmupSteps: 2, finalFraction: 0.1 },
  },
  {
    name: 'C=3, K=4, 2 classes, Adam (L2), warm-up + cosine',
    config: { channels: 3, height: 5, width: 6, levels: 4, hidden: 5, layers: 2, firstKernel: 3, kernel: 3, skip: 4, headHidden: 6, classes: 2 },
    decoupled: false, weightDecay: 0.02, clipNorm: 6.5,
    schedule: { kind: 'cosine', warmupSteps: 2 },
  },
  {
    name: 'C=3, K=5, 3 classes, AdamW, warm-up + step, moving average',
    config: { channels: 3, height: 6, width: 5, levels: 5, hidden: 4, layers: 3, firstKernel: 3, kernel: 5, skip: 6, headHidden: 5, classes: 3 },
    decoupled: true, weightDecay: 0.1, clipNorm: 9,
    schedule: { kind: 'step', warmupSteps: 1, stepSize: 2, gamma: 0.5 },
    ema: 0.8,
  },
];

interface TorchRun {
  loss: number[];
  lr: number[];
  grad_norm: number[];
  clipped: boolean[];
}

/** The weights of a SPEC §8 file written by train_steps.py, by name (read, and checked, as any checkpoint). */
function readWeights(file: string): Map<string, Float32Array> {
  return readCheckpoint(file).weights;
}

/**
 * The worst tensor's max |ours − theirs| over its scale (its largest |weight|, at least
 * 0.1), with the tensor's name and the index of that weight.
 */
function worstWeightError(ours: Map<string, Float32Array>, theirs: Map<string, Float32Array>): { name: string; error: number; at: number } {
  expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
  let worst = { name: '', error: 0, at: 0 };
  for (const [name, a] of ours) {
    const b = theirs.get(name)!;
    expect(a.length, name).toBe(b.length);
    let scale = 0.1;
    for (const v of b) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < a.length; i++) {
      const error = Math.abs(a[i] - b[i]) / scale;
      if (!(error <= worst.error)) worst = { name, error, at: i }; // a NaN counts as worst
    }
  }
  return worst;
}

/** The worst step's |ours − theirs| / |theirs| is within `tolerance` (soft: every comparison is reported). */
function expectRelative(ours: readonly number[], theirs: readonly number[], tolerance: number, what: string): void {
  expect(ours.length, what).toBe(theirs.length);
  const errors = ours.map((value, step) => Math.abs(value - theirs[step]) / Math.abs(theirs[step]));
  const step = errors.reduce((worst, e, i) => (!(e <= errors[worst]) ? i : worst), 0);
  expect.soft(errors[step], `${what} at step ${step + 1}: ours ${ours[step]}, PyTorch's ${theirs[step]}`).toBeLessThanOrEqual(tolerance);
}

/** What a case's Trainer did, and the arguments of its PyTorch run. */
interface Ours {
  dir: string;
  args: string[];
  steps: BatchEndInfo[];
  weights: Map<string, Float32Array>;
  averaged: Map<string, Float32Array> | null;
  files: { weights: string; average: string };
}

/** Trains a case's model with the Trainer, leaving its checkpoint and batches for train_steps.py. */
async function trainOurs(c: Case): Promise<Ours> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-torch-train-'));
  const { config, schedule } = c;
  const rng = makeRng(c.name.length);
  const pixelsPerImage = config.channels * config.height * config.width;
  const train = {
    images: Uint8Array.from(integers(rng, IMAGES * pixelsPerImage, 256)),
    labels: Int32Array.from(integers(rng, IMAGES, config.classes)),
    count: IMAGES, channels: config.channels, height: config.height, width: config.width, classes: config.classes,
  };
  const model = GatedPixelCNN.create(config, { backend: cpu, seed: c.name.length });
  const files = {
    checkpoint: path.join(dir, 'initial.safetensors'), batches: path.join(dir, 'x.u8'), labels: path.join(dir, 'y.i32'),
    weights: path.join(dir, 'torch.safetensors'), average: path.join(dir, 'torch-average.safetensors'),
  };
  model.save(files.checkpoint);

  // The batches the Trainer will take, in its order, as levels.
  const sampler = new BatchSampler(IMAGES, BATCH, { seed: SEED });
  const levels = new Uint8Array(STEPS * BATCH * pixelsPerImage);
  const labels = new Int32Array(STEPS * BATCH);
  for (let s = 0; s < STEPS; s++) {
    const { indices } = sampler.next();
    expect(indices.length).toBe(BATCH);
    indices.forEach((image, k) => {
      const n = s * BATCH + k;
      for (let i = 0; i < pixelsPerImage; i++) {
        levels[n * pixelsPerImage + i] = Math.floor((train.images[image * pixelsPerImage + i] * config.levels) / 256);
      }
      labels[n] = train.labels[image];
    });
  }
  writeFileSync(files.batches, levels);
  writeFileSync(files.labels, Buffer.from(labels.buffer));

  const steps: BatchEndInfo[] = [];
  const trainer = new Trainer({
    model, train, batchSize: BATCH, seed: SEED, budget: { steps: STEPS },
    optimizer: { lr: LR, weightDecay: c.weightDecay, decoupled: c.decoupled }, // betas and eps: the defaults
    clipNorm: c.clipNorm, schedule, ema: c.ema, progress: false,
    callbacks: { onBatchEnd: (info) => void steps.push(info) },
  });
  const result = await trainer.run();
  expect(result.steps).toBe(STEPS);
  const weights = new Map(model.parameters.list().map((p) => [p.name, p.value.toFloat32Array()]));
  const averagedModel = trainer.averagedModel();
  const averaged = averagedModel && new Map(averagedModel.parameters.list().map((p) => [p.name, p.value.toFloat32Array()]));
  averagedModel?.dispose();
  trainer.dispose();
  model.dispose();

  const args = [
    '--checkpoint', files.checkpoint, '--batches', files.batches, '--labels', files.labels,
    '--steps', String(STEPS), '--batch-size', String(BATCH), '--total-steps', String(STEPS),
    '--lr', String(LR), '--weight-decay', String(c.weightDecay), '--clip', String(c.clipNorm),
    '--schedule', schedule.kind, '--warmup', String(schedule.warmupSteps ?? 0),
    ...(schedule.finalFraction === undefined ? [] : ['--final-fraction', String(schedule.finalFraction)]),
    ...(schedule.stepSize === undefined ? [] : ['--step-size', String(schedule.stepSize)]),
    ...(schedule.gamma === undefined ? [] : ['--gamma', String(schedule.gamma)]),
    ...(c.decoupled ? ['--decoupled'] : []),
    ...(c.ema === undefined ? [] : ['--ema', String(c.ema), '--average-out', files.average]),
    '--weights-out', files.weights,
  ];
  return { dir, args, steps, weights, averaged, files };
}

describe.skipIf(!hasTorch)('training parity with PyTorch', () => {
  const ours: Ours[] = [];
  const theirs: TorchRun[] = [];

  // Every case's Trainer first, then one PyTorch process for all of them (importing torch
  // takes most of its time).
  beforeAll(async () => {
    for (const c of cases) ours.push(await trainOurs(c));
    const runs = path.join(ours[0].dir, 'runs.json');
    writeFileSync(runs, JSON.stringify(ours.map((o) => o.args)));
    const run = spawnSync('python3', [script, '--each', runs], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    expect(run.status, run.stderr.slice(-4000)).toBe(0);
    for (const line of run.stdout.trim().split('\n')) theirs.push(JSON.parse(line) as TorchRun);
    expect(theirs).toHaveLength(cases.length);
  }, 120_000);

  afterAll(() => {
    for (const { dir } of ours) rmSync(dir, { recursive: true, force: true });
  });

  it.each(cases.map((c, i) => ({ ...c, i })))('$name: the same losses, rates and weights', ({ i, ema }) => {
    const [mine, torch] = [ours[i], theirs[i]];
    // The settings exercise what they are meant to: clipping on some steps and not others.
    expect.soft(torch.clipped.some(Boolean) && !torch.clipped.every(Boolean), `clipped: ${torch.clipped}`).toBe(true);
    expect(mine.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expectRelative(mine.steps.map((s) => s.lr), torch.lr, 1e-12, 'learning rate');
    expectRelative(mine.steps.map((s) => s.loss), torch.loss, 1e-5, 'loss');
    expectRelative(mine.steps.map((s) => s.gradNorm), torch.grad_norm, 1e-5, 'gradient norm');
    const check = (weights: Map<string, Float32Array>, file: string, what: string) => {
      const worst = worstWeightError(weights, readWeights(file));
      expect.soft(worst.error, `${what}: ${worst.name}[${worst.at}] differs by ${worst.error.toExponential(2)} of its scale`).toBeLessThanOrEqual(2e-5);
    };
    check(mine.weights, mine.files.weights, 'final weights');
    if (ema !== undefined) check(mine.averaged!, mine.files.average, 'averaged weights');
  });
});
