// GPU benchmark, ours on the CUDA backend beside PyTorch eager (cuDNN, its default
// TF32 settings) on the same GPU in the same run: training images/s for mnist-quick
// and mnist-256 at batch 64 (steps replayed as CUDA graphs, and every step eager, with
// where an eager step's time goes), and sampling images/s, the positions as graphs and as clusters,
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
import { oursTraining, oursTrainingBreakdown, torchAvailable, torchBench } from './training.mjs';

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

/** The value of measure() with the sampler's design set (the sampler reads the variables at each job). */
async function withSampler(positions, vertical, measure) {
  const names = { GATED_PIXELCNN_SAMPLER: positions, GATED_PIXELCNN_SAMPLER_VERTICAL: vertical };
  const before = Object.fromEntries(Object.keys(names).map((name) => [name, process.env[name]]));
  Object.assign(process.env, names);
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
  row.torch = torch
    ? await attempt(row, 'torch', () => torchBench(['train', '--config', JSON.stringify(config), '--batch', String(trainBatch), '--seconds', String(seconds), '--device', 'cuda']).imagesPerSecond)
    : null;
  row.ratio = row.ours && row.torch ? row.ours / row.torch : null;
  row.breakdownMs = await attempt(row, 'breakdown', () => oursTrainingBreakdown(lib, config, trainBatch, seconds / 4, backend));
  rows.push(row);
  process.stderr.write(`${model}: ours ${row.ours?.toFixed(1) ?? 'n/a'} img/s (eager steps ${row.oursEager?.toFixed(1) ?? 'n/a'}), PyTorch ${row.torch?.toFixed(1) ?? 'n/a'} img/s\n`);
}

const sampling = [];
const [sampleModel, sampleConfig] = Object.entries(models)[0];
{
  const row = { model: sampleModel, batch: sampleBatch };
  row.oursCached = await attempt(row, 'oursCached', () => cachedSampling(lib, sampleConfig, sampleBatch, { backend }));
  // The positions as thread block clusters (GATED_PIXELCNN_SAMPLER=cluster, sm_90), beside the default graphs,
  // then with the vertical stacks on cuBLAS too (GATED_PIXELCNN_SAMPLER_VERTICAL=cublas).
  const sampled = (positions, vertical) => () => withSampler(positions, vertical, () => cachedSampling(lib, sampleConfig, sampleBatch, { backend }));
  row.oursCachedCluster = await attempt(row, 'oursCachedCluster', sampled('cluster', 'cudnn'));
  row.oursCachedClusterCublas = await attempt(row, 'oursCachedClusterCublas', sampled('cluster', 'cublas'));
  row.torchNaive = torch
    ? await attempt(row, 'torchNaive', () => torchBench(['sample', '--config', JSON.stringify(sampleConfig), '--batch', String(sampleBatch), '--positions', '28', '--device', 'cuda']).imagesPerSecond)
    : null;
  row.ratio = row.oursCached && row.torchNaive ? row.oursCached / row.torchNaive : null;
  row.ratioCluster = row.oursCachedCluster && row.torchNaive ? row.oursCachedCluster / row.torchNaive : null;
  row.ratioClusterCublas = row.oursCachedClusterCublas && row.torchNaive ? row.oursCachedClusterCublas / row.torchNaive : null;
  sampling.push(row);
  process.stderr.write(`${sampleModel} sampling batch ${sampleBatch}: ours cached ${row.oursCached?.toFixed(1) ?? 'n/a'} img/s (clusters ${row.oursCachedCluster?.toFixed(1) ?? 'n/a'}, with cuBLAS ${row.oursCachedClusterCublas?.toFixed(1) ?? 'n/a'}), PyTorch naive ${row.torchNaive?.toFixed(2) ?? 'n/a'} img/s\n`);
}

const result = { device: backend.features, tf32: backend.features.tf32, rows, sampling };
if (positionals[0]) writeFileSync(positionals[0], JSON.stringify(result, null, 2) + '\n');
process.stdout.write(JSON.stringify(result) + '\n');
process.exitCode = failed ? 1 : 0;
