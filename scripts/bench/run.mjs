// `npm run bench`: runs the benchmark suites and writes bench-results/bench.json
// and bench-results/bench.md. The usage below is what --help prints.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { runConvSuite } from './conv.mjs';
import { runSamplingSuite } from './sampling.mjs';
import { runMemorySuite, runTrainingSuite, torchAvailable } from './training.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '..', '..');
const lib = require(path.join(root, 'dist'));

const usage = `npm run bench [-- OPTIONS]: the CPU benchmarks, side by side with PyTorch where
python3 imports torch; writes bench-results/bench.json and bench-results/bench.md.
  --seconds S     time per measurement (default 2)
  --suites LIST   some of conv,training,memory,sampling (default all)
  --help          this text
Threads: OMP_NUM_THREADS, set before the run, for us and PyTorch alike (default: all cores).`;
const allSuites = ['conv', 'training', 'memory', 'sampling'];
let values;
try {
  ({ values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '2' },
      suites: { type: 'string', default: allSuites.join(',') },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const seconds = Number(values.seconds);
const suites = values.suites.split(',');
const unknown = suites.filter((suite) => !allSuites.includes(suite));
if (!(seconds > 0) || unknown.length > 0) {
  console.error(`${unknown.length ? `unknown suite ${unknown.join(', ')}` : `--seconds must be a number > 0, got ${values.seconds}`}\n\n${usage}`);
  process.exit(2);
}
const backend = lib.loadBackend('cpu');
const threads = backend.features.threads;

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  threads,
  onednn: backend.features.onednn,
  node: process.version,
  torch: torchAvailable(),
  date: new Date().toISOString(),
};
const fmt = (v, digits = 1) => (v == null ? 'n/a' : v.toFixed(digits));
const lines = [
  `# Benchmarks`,
  ``,
  `${machine.cpu}, ${machine.cores} cores, ${threads} threads, oneDNN ${machine.onednn}, Node ${machine.node}, ${machine.date}`,
];
const results = { machine };
process.stderr.write(`machine: ${machine.cpu}, ${machine.cores} cores, ${threads} threads, PyTorch ${machine.torch ? 'found' : 'not found'}\n`);

if (suites.includes('conv')) {
  const settings = { batch: 32, p: 128, size: 28, seconds };
  process.stderr.write('suite conv: offset convolutions of a gated block…\n');
  results.conv = runConvSuite(backend, settings);
  lines.push(
    ``,
    `## Offset convolutions of a gated block (batch ${settings.batch}, p = ${settings.p}, ${settings.size}×${settings.size})`,
    ``,
    `| conv | pass | ours ms | ours GFLOP/s | oneDNN alone, own layout GFLOP/s | oneDNN alone, NCHW GFLOP/s | ours / oneDNN own layout |`,
    `|---|---|---:|---:|---:|---:|---:|`,
    ...results.conv.map(
      (r) => `| ${r.conv} | ${r.pass} | ${fmt(r.ms, 2)} | ${fmt(r.gflops)} | ${fmt(r.onednnGflops)} | ${fmt(r.onednnNchwGflops)} | ${fmt(r.ratioToOnednn, 2)} |`,
    ),
  );
}

if (suites.includes('training')) {
  const settings = { presets: ['mnist-tiny', 'mnist-quick'], batch: 32, samplingBatch: 8, samplingPositions: 28, seconds, threads };
  process.stderr.write('suite training: training and naive sampling, ours and PyTorch…\n');
  results.training = runTrainingSuite(lib, settings);
  lines.push(
    ``,
    `## Training and naive sampling, images/s (${threads} threads each${machine.torch ? '' : '; PyTorch not found'})`,
    ``,
    `Naive sampling is timed over the first ${settings.samplingPositions} positions and scaled to all of them.`,
    ``,
    `| what | preset | batch | ours img/s | PyTorch img/s | ours / PyTorch |`,
    `|---|---|---:|---:|---:|---:|`,
    ...results.training.map(
      (r) => `| ${r.what} | ${r.preset} | ${r.batch} | ${fmt(r.ours, 2)} | ${fmt(r.torch, 2)} | ${fmt(r.ratio, 2)} |`,
    ),
  );
}

if (suites.includes('memory')) {
  const memory = { presets: ['mnist-tiny', 'mnist-quick'], batch: 32, steps: 3, samplingBatch: 8, samplingPositions: 28, threads };
  process.stderr.write('suite memory: peak memory of training and sampling, ours and PyTorch…\n');
  results.memory = runMemorySuite(lib, memory);
  const mb = (bytes) => (bytes == null ? 'n/a' : (bytes / 2 ** 20).toFixed(1));
  lines.push(
    ``,
    `## Peak memory, MiB (each measurement in a fresh process)`,
    ``,
    `Resident memory grown from before the model was made to its peak: training ${memory.steps} steps at batch ${memory.batch} (model, gradients, Adam's moments, activations, and what the libraries took), and sampling a batch of ${memory.samplingBatch} (ours cached; PyTorch's naive over its first ${memory.samplingPositions} positions, each the same full forward pass). Ours also as our allocator counts it (Backend.memoryUsage(); in sampling that is the weights alone, the cached sampler's caches being its own).`,
    ``,
    `| what | preset | batch | ours, resident | ours, allocator | PyTorch, resident | ours / PyTorch |`,
    `|---|---|---:|---:|---:|---:|---:|`,
    ...results.memory.map(
      (r) => `| ${r.what} | ${r.preset} | ${r.batch} | ${mb(r.ours)} | ${mb(r.oursAllocator)} | ${mb(r.torch)} | ${fmt(r.ratio, 2)} |`,
    ),
  );
}

if (suites.includes('sampling')) {
  process.stderr.write('suite sampling: cached and naive samplers, ours and PyTorch…\n');
  results.sampling = await runSamplingSuite(lib, { threads });
  lines.push(
    ``,
    `## Sampling on the CPU, images/s (${threads} threads each)`,
    ``,
    `Naive samplers are timed over the first positions (28 at batch 8, 8 at batch 64) and scaled to all of them.`,
    ``,
    `| preset | batch | cached (ours) | naive (ours) | naive (PyTorch) | cached / our naive | cached / PyTorch naive |`,
    `|---|---:|---:|---:|---:|---:|---:|`,
    ...results.sampling.rows.map(
      (r) => `| ${r.preset} | ${r.batch} | ${fmt(r.cached, 2)} | ${fmt(r.naive, 3)} | ${fmt(r.torchNaive, 3)} | ${fmt(r.vsNaive, 0)}× | ${fmt(r.vsTorch, 0)}× |`,
    ),
    ``,
    `One image at a time against a batch of 8, cached sampler, images/s:`,
    ``,
    `| preset | batch of 1 | batch of 8 | ratio |`,
    `|---|---:|---:|---:|`,
    ...results.sampling.single.map((r) => `| ${r.preset} | ${fmt(r.imagesPerSecond, 2)} | ${fmt(r.batchOf8, 2)} | ${fmt(r.ratio, 2)} |`),
    ``,
    `Cached sampler cost against image size (mnist-quick's network, batch 8):`,
    ``,
    `| size | pixels | images/s | µs per pixel per image |`,
    `|---|---:|---:|---:|`,
    ...results.sampling.scaling.map((r) => `| ${r.size}×${r.size} | ${r.pixels} | ${fmt(r.imagesPerSecond, 2)} | ${fmt(r.microsecondsPerPixel, 1)} |`),
  );
}

const markdown = lines.join('\n') + '\n';
process.stdout.write('\n' + markdown);
const outDir = path.join(root, 'bench-results');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'bench.json'), JSON.stringify(results, null, 2) + '\n');
writeFileSync(path.join(outDir, 'bench.md'), markdown);
process.stderr.write(`wrote bench-results/bench.json and bench.md\n`);
