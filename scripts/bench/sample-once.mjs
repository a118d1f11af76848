// One cached sampling of a batch on one backend, for kernel profilers such as ncu
// (scripts/device-check.sh times the sampler's kernels and looks inside one with it),
// or REPEAT of them one after another, each timed, to compare settings (the first one
// includes the sampler's one-time setup), with how the sampler ran (its designs,
// GATED_PIXELCNN_SAMPLER and GATED_PIXELCNN_SAMPLER_VERTICAL, and the images per cluster).
// With --json each run is one JSON line instead ({ seconds, imagesPerSecond, design,
// vertical, clusterImages, rowGraph, captureRefused, rowMs, setupMs, tailMs }), for
// gpu.mjs, which runs each design in a process of its own. From the rows' progress
// reports: a row's time once the first has ended (rowMs), what the call spent before
// its first row beyond that (setupMs: weights, allocations, the graph's capture) and
// after its last (tailMs: the levels' download).
//   node scripts/bench/sample-once.mjs PRESET|CONFIG-JSON BATCH [BACKEND] [REPEAT] [--json]
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const dist = path.resolve(import.meta.dirname, '..', '..', 'dist');
const lib = require(dist);
const { runCachedSampler } = require(path.join(dist, 'sample', 'cached'));
const { values, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
const [preset = 'mnist-quick', batch = '256', backend = 'auto', repeat = '1'] = positionals;
const model = lib.GatedPixelCNN.create(preset.startsWith('{') ? JSON.parse(preset) : preset, {
  seed: 0,
  backend: lib.loadBackend(backend),
});
const count = Number(batch);
const labels = model.config.classes ? Array.from({ length: count }, (_, i) => i % model.config.classes) : undefined;
for (let run = 0; run < Number(repeat); run++) {
  const started = performance.now();
  // When rows' ends were first reported, in ms from the start (reports may skip rows).
  const reports = [];
  const onProgress = (done) => {
    if (done > (reports.at(-1)?.done ?? 0)) reports.push({ done, at: performance.now() - started });
  };
  const result = await runCachedSampler(model, { count, labels, seed: 1 + run, batchSize: count, onProgress }, { keepLogits: false });
  const ms = performance.now() - started;
  const [first, last] = [reports[0], reports.at(-1)];
  const rowMs = last.done > first.done ? (last.at - first.at) / (last.done - first.done) : first.at / first.done;
  const setupMs = first.at - first.done * rowMs, tailMs = ms - last.at;
  const { design, vertical, clusterImages, rowGraph, captureRefused } = result;
  const seconds = ms / 1000;
  if (values.json) {
    process.stdout.write(JSON.stringify({ seconds, imagesPerSecond: count / seconds, design, vertical, clusterImages, rowGraph, captureRefused, rowMs, setupMs, tailMs }) + '\n');
  } else {
    const queued = captureRefused ? ` queued call by call, as the device refused to capture it: ${captureRefused}` : '';
    const how = `${design}${clusterImages ? ` of ${clusterImages} images` : ''}, vertical ${vertical}${queued}`;
    const split = `${rowMs.toFixed(3)} ms a row, ${setupMs.toFixed(1)} ms before the first, ${tailMs.toFixed(1)} ms after the last`;
    process.stdout.write(`sampled ${count} images in ${seconds.toFixed(3)} s (${(count / seconds).toFixed(1)} images/s; ${how}; ${split})\n`);
  }
}
model.dispose();
