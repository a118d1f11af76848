// GPU benchmark, ours on the CUDA backend beside PyTorch eager (cuDNN, its default
// TF32 settings) on the same GPU in the same run: training images/s for mnist-quick
// and mnist-256 at batch 64 (steps replayed as CUDA graphs, and every step eager, with
// where an eager step's time goes, and the peak device memory of each side), and
// sampling images/s in each of the sampler's designs for mnist-quick at batch 256 (our
// cached sampler against PyTorch's naive one, timed over its first 28 positions and
// scaled). The key numbers come first (ours and PyTorch's training, then sampling),
// the rest after, and the result file is rewritten after every measurement, so that a
// run cut short by a time limit keeps what it measured. Each sampler design runs in a
// process of its own (sample-once.mjs), so that one which faults or hangs costs only
// its own number. A failure of one measurement is recorded in the result and the rest
// still run (the exit status is then 1).
// Usage: node scripts/bench/gpu.mjs OUT.json [--seconds S]
//   [--models '{"name": config, ...}'] [--sample-batch N]   (small runs, e.g. on the CUDA emulator)
import { spawnSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { oursPeakMemoryProcess, oursTraining, oursTrainingBreakdown, oursTrainingRun, torchAvailable, torchBench } from './training.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    models: { type: 'string' },
    'sample-batch': { type: 'string', default: '256' },
  },
});
const seconds = Number(values.seconds);
const models = values.models
  ? JSON.parse(values.models)
  : { 'mnist-quick': lib.PRESETS['mnist-quick'], 'mnist-256': lib.PRESETS['mnist-256'] };
const [trainBatch, sampleBatch] = [64, Number(values['sample-batch'])];
const backend = lib.loadBackend('cuda');
const torch = torchAvailable();
const result = { device: backend.features, tf32: backend.features.tf32, rows: [], sampling: [] };
let failed = false;

/** Writes the result so far, whole or not at all. */
function save() {
  if (!positionals[0]) return;
  const partial = `${positionals[0]}.partial`;
  writeFileSync(partial, JSON.stringify(result, null, 2) + '\n');
  renameSync(partial, positionals[0]);
}

/** The value of measure(), or null with the error recorded under `${name}Error` in row; saves the result. */
async function attempt(row, name, measure) {
  try {
    return await measure();
  } catch (error) {
    failed = true;
    row[`${name}Error`] = String(error.message ?? error).slice(-1500); // a traceback's end says most
    process.stderr.write(`${row.model} ${name}: ${row[`${name}Error`]}\n`);
    return null;
  } finally {
    save();
  }
}

/**
 * Cached sampling images/s of one design (its environment variables) in a process of
 * its own: three batches, the first untimed (the sampler's setup), and how it ran.
 */
function designSampling(config, batch, variables) {
  const script = path.join(import.meta.dirname, 'sample-once.mjs');
  const run = spawnSync(process.execPath, [script, JSON.stringify(config), String(batch), 'cuda', '3', '--json'], {
    encoding: 'utf8', env: { ...process.env, ...variables }, timeout: 120_000,
  });
  if (run.status !== 0) {
    throw new Error(`sample-once.mjs ${run.signal ? `was killed (${run.signal})` : `failed (status ${run.status})`}: ${run.stderr}`);
  }
  const runs = run.stdout.trim().split('\n').map((line) => JSON.parse(line)).slice(1);
  // How the last batch ran, and where its time went (a row's time, the call's setup and tail).
  const { design, vertical, clusterImages, rowGraph, captureRefused, rowMs, setupMs, tailMs } = runs[runs.length - 1];
  const ran = { design, vertical, clusterImages, rowGraph, captureRefused, rowMs, setupMs, tailMs };
  return { imagesPerSecond: runs.reduce((sum, r) => sum + r.imagesPerSecond, 0) / runs.length, ran };
}

// Training, ours (steps replayed as graphs) beside PyTorch's, for every model.
for (const [model, config] of Object.entries(models)) {
  const row = { model, batch: trainBatch };
  result.rows.push(row);
  const ours = await attempt(row, 'ours', () => oursTrainingRun(lib, config, trainBatch, seconds, backend));
  [row.ours, row.oursReplayed] = [ours?.imagesPerSecond ?? null, ours?.replayed ?? null];
  row.torchRun = torch
    ? await attempt(row, 'torch', () => torchBench(['train', '--config', JSON.stringify(config), '--batch', String(trainBatch), '--seconds', String(seconds), '--device', 'cuda']))
    : null;
  row.torch = row.torchRun?.imagesPerSecond ?? null;
  row.ratio = row.ours && row.torch ? row.ours / row.torch : null;
  save();
  process.stderr.write(`${model}: ours ${row.ours?.toFixed(1) ?? 'n/a'} img/s (steps replayed: ${row.oursReplayed}), PyTorch ${row.torch?.toFixed(1) ?? 'n/a'} img/s\n`);
}

// Sampling: PyTorch's naive sampler, then each of our designs: positions as tiles of 2
// (the default), 4 or 8 images a thread block, as a graph of launches or as thread
// block clusters (sm_90), vertical stacks on cuBLAS (the default where the addon has
// it) or cuDNN, each batch as one job or split between two that run at once.
const [sampleModel, sampleConfig] = Object.entries(models)[0];
{
  const row = { model: sampleModel, batch: sampleBatch };
  result.sampling.push(row);
  row.torchNaive = torch
    ? await attempt(row, 'torchNaive', () => torchBench(['sample', '--config', JSON.stringify(sampleConfig), '--batch', String(sampleBatch), '--positions', '28', '--device', 'cuda']).imagesPerSecond)
    : null;
  const designs = {
    oursCached: {},
    oursCachedGraph: { GATED_PIXELCNN_SAMPLER: 'graph' },
    oursCachedCudnn: { GATED_PIXELCNN_SAMPLER_VERTICAL: 'cudnn' },
    oursCachedCluster: { GATED_PIXELCNN_SAMPLER: 'cluster' },
    oursCached2Jobs: { GATED_PIXELCNN_SAMPLER_JOBS: '2' },
    oursCachedTile4: { GATED_PIXELCNN_SAMPLER_TILE: '4' },
    oursCachedTile8: { GATED_PIXELCNN_SAMPLER_TILE: '8' },
  };
  row.ratios = {};
  for (const [name, variables] of Object.entries(designs)) {
    const measured = await attempt(row, name, () => designSampling(sampleConfig, sampleBatch, variables));
    row[name] = measured?.imagesPerSecond ?? null;
    row[`${name}Ran`] = measured?.ran ?? null; // the design that ran: cuBLAS or clusters may be unavailable
    row.ratios[name] = row[name] && row.torchNaive ? row[name] / row.torchNaive : null;
    save();
  }
  row.ratio = row.ratios.oursCached;
  const ours = Object.keys(designs).map((name) => `${name} ${row[name]?.toFixed(1) ?? 'n/a'}`).join(', ');
  process.stderr.write(`${sampleModel} sampling batch ${sampleBatch} (images/s): ${ours}; PyTorch naive ${row.torchNaive?.toFixed(2) ?? 'n/a'}\n`);
}

// Then, for every model: every training step eager (no CUDA graphs: what the graphs
// save), the peak device memory of training, and where an eager step's time goes.
for (const [index, [model, config]] of Object.entries(models).entries()) {
  const row = result.rows[index];
  row.oursEager = await attempt(row, 'oursEager', () => oursTraining(lib, config, trainBatch, seconds, backend, false));
  // In bytes: our allocator's over a few steps (captured ones included) in a fresh
  // process, so that cuDNN's workspace counts as PyTorch's does, beside PyTorch's
  // caching allocator's over its timed run.
  row.memory = {
    ours: await attempt(row, 'oursMemory', () => oursPeakMemoryProcess('train', config, trainBatch, 4, 'cuda')),
    torch: row.torchRun ? { peakAllocated: row.torchRun.peakAllocatedBytes, peakReserved: row.torchRun.peakReservedBytes } : null,
  };
  row.breakdownMs = await attempt(row, 'breakdown', () => oursTrainingBreakdown(lib, config, trainBatch, seconds / 4, backend));
  process.stderr.write(`${model}: every step eager ${row.oursEager?.toFixed(1) ?? 'n/a'} img/s\n`);
}

save();
process.stdout.write(JSON.stringify(result) + '\n');
process.exitCode = failed ? 1 : 0;
