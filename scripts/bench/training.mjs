// Benchmark suite: training images/s and naive-sampling images/s for the presets,
// ours beside the PyTorch build of the same model (scripts/torch), measured in
// the same run with the same thread count. PyTorch runs when python3 imports torch.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { timePerRun } from './timing.mjs';

const root = path.resolve(import.meta.dirname, '..', '..');
const torchScript = path.join(root, 'scripts', 'torch', 'bench.py');

export function torchAvailable() {
  return spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

export function torchBench(args) {
  // Ten minutes: far more than any of its runs takes, so that a hang cannot stop a benchmark.
  const result = spawnSync('python3', [torchScript, ...args], { encoding: 'utf8', timeout: 600_000 });
  if (result.status !== 0) throw new Error(`PyTorch bench ${result.signal ? `was killed (${result.signal})` : 'failed'}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

function randomBatch(config, batch) {
  const images = new Uint8Array(batch * config.channels * config.height * config.width);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(Math.random() * config.levels);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % Math.max(1, config.classes));
  return { images, cond: config.classes ? { labels } : {} };
}

/**
 * A model with Adam and a TrainingStep on one random batch: trainStep() runs a step
 * (forward, backward, Adam; the loss read back), dispose() frees them. `graph` is
 * TrainingStep's option: 'auto' replays captured steps where the backend can (CUDA),
 * false runs every step eagerly.
 */
function trainingRig(lib, preset, batch, backend, graph) {
  const model = lib.GatedPixelCNN.create(preset, { seed: 0, backend });
  const adam = new lib.Adam(model.parameters);
  const step = new lib.TrainingStep(model, { graph });
  const { images, cond } = randomBatch(model.config, batch);
  return {
    model,
    /** Whether the last step replayed a captured CUDA graph. */
    get replayed() {
      return step.replayed;
    },
    trainStep() {
      step.run(images, cond);
      adam.step();
    },
    dispose() {
      step.dispose();
      adam.dispose();
      model.dispose();
    },
  };
}

/** Training steps per second × batch (see trainingRig). */
export function oursTraining(lib, preset, batch, seconds, backend = 'auto', graph = 'auto') {
  return oursTrainingRun(lib, preset, batch, seconds, backend, graph).imagesPerSecond;
}

/**
 * As oursTraining, with whether its last step replayed a captured graph: a capture that
 * fails leaves training eager with a warning, which a benchmark must not take for a
 * graph's speed.
 */
export function oursTrainingRun(lib, preset, batch, seconds, backend = 'auto', graph = 'auto') {
  const rig = trainingRig(lib, preset, batch, backend, graph);
  rig.trainStep(); // untimed, as timePerRun's own first call: the first step of a size runs eagerly, the next is captured
  const secs = timePerRun(rig.trainStep, seconds);
  const { replayed } = rig;
  rig.dispose();
  return { imagesPerSecond: batch / secs, replayed };
}

/** Exactly `steps` training steps, then a read-back: for kernel profilers, which slow every kernel down. */
export function oursTrainingSteps(lib, preset, batch, steps, backend = 'auto', graph = 'auto') {
  const rig = trainingRig(lib, preset, batch, backend, graph);
  for (let i = 0; i < steps; i++) rig.trainStep();
  rig.model.backend.globalNorm([rig.model.parameters.list()[0].value]);
  rig.dispose();
}

/**
 * Where a training step's time goes, in ms per step: the forward pass alone (NLL read
 * back), forward + backward (NLL read back), and the whole step with Adam (one small
 * read-back after it, so that the device has finished). For GPU profiling.
 */
export function oursTrainingBreakdown(lib, preset, batch, seconds, backend = 'auto') {
  const model = lib.GatedPixelCNN.create(preset, { seed: 0, backend });
  const adam = new lib.Adam(model.parameters);
  const { images, cond } = randomBatch(model.config, batch);
  const first = model.parameters.list()[0].value;
  const ms = (run) => 1000 * timePerRun(run, seconds);
  const forward = ms(() => model.nll(images, cond));
  const forwardBackward = ms(() => {
    model.parameters.zeroGrad();
    model.backward(images, cond);
  });
  const step = ms(() => {
    model.parameters.zeroGrad();
    model.backward(images, cond);
    adam.step();
    model.backend.globalNorm([first]);
  });
  adam.dispose();
  model.dispose();
  return { forward, forwardBackward, step };
}

/**
 * The most `device`'s allocator held while `work` (sync or async) ran, beyond what it
 * held before, in bytes: `peakAllocated` (in use) and `peakReserved` (with the idle
 * blocks it keeps). Idle blocks are released first, so that none left by earlier work
 * is reused unseen.
 */
export async function allocatorPeakDuring(device, work) {
  device.releaseCachedMemory();
  device.resetPeakMemory();
  const before = device.memoryUsage();
  await work();
  const after = device.memoryUsage();
  return { peakAllocated: after.peakAllocated - before.allocated, peakReserved: after.peakReserved - before.reserved };
}

/**
 * allocatorPeakDuring `steps` training steps from nothing: model, gradients, Adam's
 * moments, activations, workspaces and captured steps.
 */
export function oursTrainingMemory(lib, preset, batch, steps, backend = 'auto', graph = 'auto') {
  const device = typeof backend === 'string' ? lib.loadBackend(backend) : backend;
  return allocatorPeakDuring(device, () => {
    const rig = trainingRig(lib, preset, batch, device, graph);
    for (let i = 0; i < steps; i++) rig.trainStep();
    rig.dispose();
  });
}

/**
 * Peak memory in a fresh process (scripts/bench/peak-memory.mjs): of `steps` training
 * steps (mode 'train') or of one cached-sampling batch ('sample'). Besides our
 * allocator's peak it reports the growth of the process's resident memory (peak RSS
 * over RSS before the model): memory that oneDNN or the runtime take for themselves
 * shows there, as PyTorch's does in its own.
 */
export function oursPeakMemoryProcess(mode, preset, batch, steps, backend = 'auto') {
  const script = path.join(import.meta.dirname, 'peak-memory.mjs');
  const result = spawnSync(process.execPath, [script, mode, JSON.stringify(preset), String(batch), String(steps), backend], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`peak-memory.mjs failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

/** Naive sampling: the first `positions` positions timed, scaled to all C·H·W of them. */
export function oursNaiveSampling(lib, preset, batch, positions) {
  const model = lib.GatedPixelCNN.create(preset, { seed: 0 });
  const { channels, height, width, classes } = model.config;
  const labels = classes ? Int32Array.from({ length: batch }, (_, i) => i % classes) : undefined;
  const run = (limit) => {
    const controller = new AbortController();
    const started = performance.now();
    try {
      lib.sampleNaive(model, { count: batch, labels, signal: controller.signal, onProgress: (done) => { if (done >= limit) controller.abort(); } });
    } catch (error) {
      if (error.code !== 'ERR_ABORTED') throw error;
    }
    return (performance.now() - started) / 1000;
  };
  run(1); // untimed: warms oneDNN's primitive cache
  const secs = (run(positions) / positions) * channels * height * width;
  model.dispose();
  return batch / secs;
}

export function runTrainingSuite(lib, { presets, batch, samplingBatch, samplingPositions, seconds, threads }) {
  const torch = torchAvailable();
  const rows = [];
  for (const preset of presets) {
    const config = JSON.stringify(lib.PRESETS[preset]);
    const ours = oursTraining(lib, preset, batch, seconds);
    const theirs = torch
      ? torchBench(['train', '--config', config, '--batch', String(batch), '--seconds', String(seconds), '--threads', String(threads)]).imagesPerSecond
      : null;
    rows.push({ what: 'training', preset, batch, ours, torch: theirs, ratio: theirs ? ours / theirs : null });
    const oursSampling = oursNaiveSampling(lib, preset, samplingBatch, samplingPositions);
    const theirsSampling = torch
      ? torchBench(['sample', '--config', config, '--batch', String(samplingBatch), '--positions', String(samplingPositions), '--threads', String(threads)]).imagesPerSecond
      : null;
    rows.push({ what: 'naive sampling', preset, batch: samplingBatch, ours: oursSampling, torch: theirsSampling, ratio: theirsSampling ? oursSampling / theirsSampling : null });
  }
  return rows;
}

/**
 * Peak memory on the CPU, each side in a process of its own: of `steps` training steps
 * at `batch`, and of sampling `samplingBatch` images (ours cached, PyTorch's naive over
 * its first `samplingPositions` positions, its memory being the same at every one):
 * resident memory grown from before the model was made (ours and PyTorch's), and our
 * allocator's own peak (`oursAllocator`), in bytes.
 */
export function runMemorySuite(lib, { presets, batch, steps, samplingBatch, samplingPositions, threads }) {
  const torch = torchAvailable();
  const rows = [];
  for (const preset of presets) {
    const config = JSON.stringify(lib.PRESETS[preset]);
    const measures = [
      ['training', batch, () => oursPeakMemoryProcess('train', lib.PRESETS[preset], batch, steps, 'cpu'),
        ['train', '--batch', String(batch), '--steps', String(steps)]],
      ['sampling', samplingBatch, () => oursPeakMemoryProcess('sample', lib.PRESETS[preset], samplingBatch, 0, 'cpu'),
        ['sample', '--batch', String(samplingBatch), '--positions', String(samplingPositions)]],
    ];
    for (const [what, size, measureOurs, torchArgs] of measures) {
      const ours = measureOurs();
      const theirs = torch ? torchBench([...torchArgs, '--config', config, '--threads', String(threads)]).rssGrowthBytes : null;
      rows.push({ what, preset, batch: size, ours: ours.rssGrowth, oursAllocator: ours.peakReserved, torch: theirs, ratio: theirs ? ours.rssGrowth / theirs : null });
    }
  }
  return rows;
}
