// GPU benchmark, ours on the CUDA backend beside PyTorch eager (cuDNN, its default
// TF32 settings) on the same GPU in the same run: training images/s for mnist-quick
// and mnist-256 at batch 64 (with where our step's time goes), and sampling images/s
// for mnist-quick at batch 256 (our cached sampler against PyTorch's naive one, timed
// over its first 28 positions and scaled).
// Usage: node scripts/bench/gpu.mjs OUT.json [--seconds S]
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { cachedSampling } from './sampling.mjs';
import { oursTraining, oursTrainingBreakdown, torchAvailable, torchBench } from './training.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const { values, positionals } = parseArgs({ allowPositionals: true, options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
const batch = 64;
const backend = lib.loadBackend('cuda');
const rows = [];
for (const preset of ['mnist-quick', 'mnist-256']) {
  const ours = oursTraining(lib, preset, batch, seconds, backend);
  const theirs = torchAvailable()
    ? torchBench(['train', '--config', JSON.stringify(lib.PRESETS[preset]), '--batch', String(batch), '--seconds', String(seconds), '--device', 'cuda']).imagesPerSecond
    : null;
  const breakdownMs = oursTrainingBreakdown(lib, preset, batch, seconds / 4, backend);
  rows.push({ preset, batch, ours, torch: theirs, ratio: theirs ? ours / theirs : null, breakdownMs });
  process.stderr.write(`${preset}: ours ${ours.toFixed(1)} img/s, PyTorch ${theirs?.toFixed(1) ?? 'n/a'} img/s\n`);
}
const sampling = [];
for (const batch of [256]) {
  const preset = 'mnist-quick';
  const ours = await cachedSampling(lib, preset, batch, { backend });
  const theirs = torchAvailable()
    ? torchBench(['sample', '--config', JSON.stringify(lib.PRESETS[preset]), '--batch', String(batch), '--positions', '28', '--device', 'cuda']).imagesPerSecond
    : null;
  sampling.push({ preset, batch, oursCached: ours, torchNaive: theirs, ratio: theirs ? ours / theirs : null });
  process.stderr.write(`${preset} sampling batch ${batch}: ours cached ${ours.toFixed(1)} img/s, PyTorch naive ${theirs?.toFixed(2) ?? 'n/a'} img/s\n`);
}
const result = { device: backend.features, tf32: backend.features.tf32, rows, sampling };
if (positionals[0]) writeFileSync(positionals[0], JSON.stringify(result, null, 2) + '\n');
process.stdout.write(JSON.stringify(result) + '\n');
