// Peak memory of training steps or of cached sampling, in a process of its own so that
// nothing else has touched its memory. Prints one JSON line with our allocator's peak
// beyond what it held before (`peakAllocated`, `peakReserved`, in bytes) and the
// process's resident memory grown over the work (`rssGrowth`: peak RSS over RSS before
// the model, the backend already loaded), which also holds what oneDNN, the CPU
// sampler's caches and the runtime took. Linux: the peak is /proc's VmHWM, reset at the
// start (getrusage's maxrss would report the parent's RSS at the fork when that was higher).
// Usage: node scripts/bench/peak-memory.mjs train|sample PRESET|CONFIG-JSON BATCH [STEPS] [BACKEND]
//   train: STEPS training steps at batch BATCH; sample: one cached-sampling batch of BATCH images.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { allocatorPeakDuring, oursTrainingMemory } from './training.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [mode, preset = 'mnist-quick', batchArg = '32', steps = '3', backendName = 'auto'] = process.argv.slice(2);
if (mode !== 'train' && mode !== 'sample') {
  process.stderr.write('usage: node scripts/bench/peak-memory.mjs train|sample PRESET|CONFIG-JSON BATCH [STEPS] [BACKEND]\n');
  process.exit(2);
}
const config = preset.startsWith('{') ? JSON.parse(preset) : preset;
const batch = Number(batchArg);
const backend = lib.loadBackend(backendName);

/** The allocator's peak over one cached-sampling batch. */
function samplingMemory() {
  return allocatorPeakDuring(backend, async () => {
    const model = lib.GatedPixelCNN.create(config, { seed: 0, backend });
    const labels = model.config.classes ? Int32Array.from({ length: batch }, (_, i) => i % model.config.classes) : undefined;
    await model.sample({ count: batch, labels, seed: 0, batchSize: batch });
    model.dispose();
  });
}

/** The process's peak resident memory since the last reset, in bytes. */
const peakResident = () => 1024 * Number(readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB$/m)[1]);
writeFileSync('/proc/self/clear_refs', '5'); // the peak starts again from now
const rssBefore = process.memoryUsage.rss();
const peak = await (mode === 'train' ? oursTrainingMemory(lib, config, batch, Number(steps), backend) : samplingMemory());
const rssGrowth = peakResident() - rssBefore;
process.stdout.write(`${JSON.stringify({ mode, ...peak, rssGrowth, backend: backend.name, batch, ...(mode === 'train' ? { steps: Number(steps) } : {}) })}\n`);
