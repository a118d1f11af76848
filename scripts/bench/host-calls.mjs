// Host cost of single ops on one backend, against their device time: each op on a
// mnist-quick block's shapes is queued COUNT times without waiting, timed on the host
// (the queueing alone), then the queue drained and the whole timed again. Where the
// host's time a call exceeds the device's, a step made of such calls keeps the GPU
// waiting (scripts/device-check.sh prints this beside host-times.mjs's per-step view).
// Each op's outputs are freed as it goes, as a training step frees them.
//   node scripts/bench/host-calls.mjs [BACKEND] [COUNT] [BATCH] [HIDDEN] [SIZE]
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { randomTensor } from './timing.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [backendName = 'auto', countArg = '200', batchArg = '64', hidden = '128', size = '28'] = process.argv.slice(2);
const be = lib.loadBackend(backendName);
const count = Number(countArg), B = Number(batchArg);
const P = Number(hidden), H = Number(size), W = Number(size);

const hIn = randomTensor(be, [B, P, H, W]);
const uV = randomTensor(be, [B, 2 * P, H, W]);
const g = randomTensor(be, [B, P, H, W]);
const gradU = randomTensor(be, [B, 2 * P, H, W]);
const gradG = randomTensor(be, [B, P, H, W]);
const vWeight = randomTensor(be, [2 * P, P, 2, 3]);
const vhWeight = randomTensor(be, [2 * P, 2 * P, 1, 1]);
const bias = randomTensor(be, [2 * P]);
const vertical = { dy: 1, dx: 1 };

const ops = {
  'conv2d 1×1 (vh)': () => be.conv2d(uV, vhWeight, bias),
  'conv2d 2×3, padded (v)': () => be.conv2d(hIn, vWeight, bias, vertical),
  'conv2dBackwardData 1×1': () => be.conv2dBackwardData(gradU, vhWeight),
  'conv2dBackwardData 2×3, padded': () => be.conv2dBackwardData(gradU, vWeight, vertical),
  'conv2dBackwardWeights 2×3, padded, with bias': () => {
    const r = be.conv2dBackwardWeights(hIn, gradU, [2, 3], { ...vertical, bias: true });
    r.gradBias.dispose();
    return r.gradWeight;
  },
  'gate (no terms)': () => be.gate(uV),
  'gateBackward (no terms)': () => be.gateBackward(gradG, uV).gradInput,
  add: () => be.add(g, gradG),
};

/** Drains the backend's queue: a read-back of one value. */
const drain = () => be.globalNorm([bias]);

const rows = [];
for (const [name, op] of Object.entries(ops)) {
  for (let i = 0; i < 3; i++) op().dispose(); // warm-up: algorithm choice, allocator
  drain();
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) op().dispose();
  const queued = process.hrtime.bigint();
  drain();
  const done = process.hrtime.bigint();
  const hostUs = Number(queued - start) / 1e3 / count;
  const totalUs = Number(done - start) / 1e3 / count;
  rows.push({ name, hostUs, totalUs });
}
console.log(`host time of one call (queueing) and all-in time a call (queue drained), ${be.name}, batch ${B}, p ${P}, ${H}×${W}, ${count} calls each`);
console.log(`${'host us'.padStart(9)} ${'total us'.padStart(9)}  op`);
for (const r of rows) console.log(`${r.hostUs.toFixed(1).padStart(9)} ${r.totalUs.toFixed(1).padStart(9)}  ${r.name}`);
for (const t of [hIn, uV, g, gradU, gradG, vWeight, vhWeight, bias]) t.dispose();
