// `npm run bench`: runs the benchmark suites and writes bench-results/bench.json
// and bench-results/bench.md. Options: --seconds S (time per measurement, default 1).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { runConvSuite } from './conv.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '..', '..');
const { loadBackend } = require(path.join(root, 'dist'));

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '1' } } });
const seconds = Number(values.seconds);
const backend = loadBackend('cpu');

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  threads: backend.features.threads,
  onednn: backend.features.onednn,
  node: process.version,
  date: new Date().toISOString(),
};
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.threads} threads, oneDNN ${machine.onednn}`);

const convSettings = { batch: 32, p: 128, size: 28, seconds };
console.log(`offset convolutions of a gated block: batch ${convSettings.batch}, p ${convSettings.p}, ${convSettings.size}x${convSettings.size}`);
const conv = runConvSuite(backend, convSettings);

const fmt = (v, digits = 1) => (v == null ? 'n/a' : v.toFixed(digits));
const lines = [
  `# Benchmarks`,
  ``,
  `${machine.cpu}, ${machine.cores} cores, ${machine.threads} threads, oneDNN ${machine.onednn}, Node ${machine.node}, ${machine.date}`,
  ``,
  `## Offset convolutions of a gated block (batch ${convSettings.batch}, p = ${convSettings.p}, ${convSettings.size}×${convSettings.size})`,
  ``,
  `| conv | pass | ours ms | ours GFLOP/s | oneDNN alone, own layout GFLOP/s | oneDNN alone, NCHW GFLOP/s | ours / oneDNN own layout |`,
  `|---|---|---:|---:|---:|---:|---:|`,
  ...conv.map(
    (r) =>
      `| ${r.conv} | ${r.pass} | ${fmt(r.ms, 2)} | ${fmt(r.gflops)} | ${fmt(r.onednnGflops)} | ${fmt(r.onednnNchwGflops)} | ${fmt(r.ratioToOnednn, 2)} |`,
  ),
];
const markdown = lines.join('\n') + '\n';
console.log('\n' + markdown);

const outDir = path.join(root, 'bench-results');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'bench.json'), JSON.stringify({ machine, conv }, null, 2) + '\n');
writeFileSync(path.join(outDir, 'bench.md'), markdown);
console.log(`wrote ${path.relative(process.cwd(), outDir)}/bench.json and bench.md`);
