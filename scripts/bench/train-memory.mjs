// Peak memory of a few training steps, in a process of its own so that nothing else
// has touched its memory: prints one JSON line with our allocator's peak beyond what it
// held before (`peakAllocated`, `peakReserved`, in bytes) and the process's resident
// memory grown over them (`rssGrowth`: peak RSS over RSS before the model, the
// backend already loaded), which also holds what oneDNN and the runtime took. Linux:
// the peak is /proc's VmHWM, reset at the start (getrusage's maxrss would report the
// parent's RSS at the fork when that was higher).
// Usage: node scripts/bench/train-memory.mjs PRESET|CONFIG-JSON BATCH STEPS [BACKEND]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { oursTrainingMemory } from './training.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [preset = 'mnist-quick', batch = '32', steps = '3', backendName = 'auto'] = process.argv.slice(2);
const model = preset.startsWith('{') ? JSON.parse(preset) : preset;
const backend = lib.loadBackend(backendName);
/** The process's peak resident memory since the last reset, in bytes. */
const peakResident = () => 1024 * Number(readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB$/m)[1]);
writeFileSync('/proc/self/clear_refs', '5'); // the peak starts again from now
const rssBefore = process.memoryUsage.rss();
const peak = oursTrainingMemory(lib, model, Number(batch), Number(steps), backend);
const rssGrowth = peakResident() - rssBefore;
process.stdout.write(`${JSON.stringify({ ...peak, rssGrowth, backend: backend.name, batch: Number(batch), steps: Number(steps) })}\n`);
