// GPU benchmark, ours on the CUDA backend beside PyTorch eager (cuDNN, its default
// TF32 settings) on the same GPU in the same run: training images/s for mnist-quick
// and mnist-256 at batch 64 (steps replayed as CUDA graphs, and every step eager, with
// where an eager step's time goes, and the peak device memory of each side), and sampling images/s in each of the sampler's designs
// for mnist-quick at batch 256 (our cached sampler against PyTorch's naive one, timed
// over its first 28 positions and scaled). A failure of one measurement is recorded
// in the result and the rest still run (the exit status is then 1).
// Usage: node scripts/bench/gpu.mjs OUT.json [--seconds S]
//   [--models '{"name": config, ...}'] [--sample-batch N]   (small runs, e.g. on the CUDA emulator)
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { cachedSampling } from './sampling.mjs';
import { oursPeakMemoryProcess, oursTraining, oursTrainingBreakdown, torchAvailable, torchBench } from './training.mjs';

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
let failed = false;

/** The value of measure() with these environment variables set (the sampler reads them at each batch). */
async function withEnvironment(variables, measure) {
  const before = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await measure();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** The value of measure(), or null with the error recorded under `${name}Error` in row. */
async function attempt(row, name, measure) {
  try {
    return await measure();
  } catch (error) {
    failed = true;
    row[`${name}Error`] = String(error.message ?? error).slice(-1500); // a traceback's end says most
    process.stderr.write(`${row.model} ${name}: ${row[`${name}Error`]}\n`);
    return null;
  }
}

const rows = [];
for (const [model, config] of Object.entries(models)) {
  const row = { model, batch: trainBatch };
  row.ours = await attempt(row, 'ours', () => oursTraining(lib, config, trainBatch, seconds, backend));
  // Every step eagerly (no CUDA graphs): what the graphs save.
  row.oursEager = await attempt(row, 'oursEager', () => oursTraining(lib, config, trainBatch, seconds, backend, false));
  const theirs = torch
    ? await attempt(row, 'torch', () => torchBench(['train', '--config', JSON.stringify(config), '--batch', String(trainBatch), '--seconds', String(seconds), '--device', 'cuda']))
    : null;
  row.torch = theirs?.imagesPerSecond ?? null;
  row.ratio = row.ours && row.torch ? row.ours / row.torch : null;
  // Peak device memory of training, in bytes: our allocator's over a few steps (captured
  // ones included) in a fresh process, so that cuDNN's workspace counts as PyTorch's
  // does, beside PyTorch's caching allocator's over its timed run.
  row.memory = {
    ours: await attempt(row, 'oursMemory', () => oursPeakMemoryProcess('train', config, trainBatch, 4, 'cuda')),
    torch: theirs ? { peakAllocated: theirs.peakAllocatedBytes, peakReserved: theirs.peakReservedBytes } : null,
  };
  row.breakdownMs = await attempt(row, 'breakdown', () => oursTrainingBreakdown(lib, config, trainBatch, seconds / 4, backend));
  rows.push(row);
  process.stderr.write(`${model}: ours ${row.ours?.toFixed(1) ?? 'n/a'} img/s (eager steps ${row.oursEager?.toFixed(1) ?? 'n/a'}), PyTorch ${row.torch?.toFixed(1) ?? 'n/a'} img/s\n`);
}

const sampling = [];
const [sampleModel, sampleConfig] = Object.entries(models)[0];
{
  const row = { model: sampleModel, batch: sampleBatch };
  // The sampler's designs: positions as a graph (the default) or as thread block
  // clusters (sm_90), vertical stacks on cuDNN (the default) or cuBLAS, each batch as
  // one job or split between two that run at once.
  const designs = {
    oursCached: {},
    oursCachedCluster: { GATED_PIXELCNN_SAMPLER: 'cluster' },
    oursCachedClusterCublas: { GATED_PIXELCNN_SAMPLER: 'cluster', GATED_PIXELCNN_SAMPLER_VERTICAL: 'cublas' },
    oursCachedClusterCublas2Jobs: { GATED_PIXELCNN_SAMPLER: 'cluster', GATED_PIXELCNN_SAMPLER_VERTICAL: 'cublas', GATED_PIXELCNN_SAMPLER_JOBS: '2' },
  };
  for (const [name, variables] of Object.entries(designs)) {
    row[name] = await attempt(row, name, () => withEnvironment(variables, () => cachedSampling(lib, sampleConfig, sampleBatch, { backend })));
  }
  row.torchNaive = torch
    ? await attempt(row, 'torchNaive', () => torchBench(['sample', '--config', JSON.stringify(sampleConfig), '--batch', String(sampleBatch), '--positions', '28', '--device', 'cuda']).imagesPerSecond)
    : null;
  row.ratio = row.oursCached && row.torchNaive ? row.oursCached / row.torchNaive : null;
  row.ratios = Object.fromEntries(Object.keys(designs).map((name) => [name, row[name] && row.torchNaive ? row[name] / row.torchNaive : null]));
  sampling.push(row);
  const ours = Object.keys(designs).map((name) => `${name} ${row[name]?.toFixed(1) ?? 'n/a'}`).join(', ');
  process.stderr.write(`${sampleModel} sampling batch ${sampleBatch} (images/s): ${ours}; PyTorch naive ${row.torchNaive?.toFixed(2) ?? 'n/a'}\n`);
}

const result = { device: backend.features, tf32: backend.features.tf32, rows, sampling };
if (positionals[0]) writeFileSync(positionals[0], JSON.stringify(result, null, 2) + '\n');
process.stdout.write(JSON.stringify(result) + '\n');
process.exitCode = failed ? 1 : 0;
