// Host time per eager training step (every op called, no CUDA graph) in each native
// function, first steps excluded: runs train-steps.mjs twice with GATED_PIXELCNN_HOST_TIMING=1, for FEW and MANY steps, and
// divides the differences by MANY − FEW, so that what only the first steps do (cuDNN's
// algorithm choice, the caching allocator's first allocations) cancels out. For
// scripts/device-check.sh, beside the GPU's kernel times of a step. On a GPU the ops
// only queue work, so their times are host work; the calls that copy to or from the
// device (tensorFromArray, and the read-backs inside adamStep or globalNorm, if any)
// also include waiting for the GPU.
//   node scripts/bench/host-times.mjs PRESET|CONFIG-JSON BATCH FEW MANY [BACKEND]
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const [preset = 'mnist-quick', batch = '64', few = '5', many = '25', backend = 'auto'] = process.argv.slice(2);
const script = path.join(import.meta.dirname, 'train-steps.mjs');

/** The host-timing table of one run: function -> { ms, calls }. */
function hostTimes(steps) {
  const run = spawnSync(process.execPath, [script, preset, batch, steps, backend, 'eager'], {
    encoding: 'utf8',
    env: { ...process.env, GATED_PIXELCNN_HOST_TIMING: '1' },
  });
  if (run.status !== 0) throw new Error(`train-steps.mjs failed:\n${run.stderr}`);
  const rows = new Map();
  for (const match of run.stderr.matchAll(/^ +([0-9.]+) +(\d+) +[0-9.]+  (\w+)$/gm))
    rows.set(match[3], { ms: Number(match[1]), calls: Number(match[2]) });
  return rows;
}

const [a, b] = [hostTimes(few), hostTimes(many)];
const steps = Number(many) - Number(few);
const rows = [...b].map(([name, { ms, calls }]) => {
  const before = a.get(name) ?? { ms: 0, calls: 0 };
  return { name, ms: (ms - before.ms) / steps, calls: (calls - before.calls) / steps };
});
rows.sort((x, y) => y.ms - x.ms);
const total = rows.reduce((sum, row) => sum + row.ms, 0);
console.log(`host time in native calls per training step (${preset}, batch ${batch}, ${backend}; steps ${few} to ${many}): ${total.toFixed(3)} ms`);
console.log(`${'ms'.padStart(10)} ${'calls'.padStart(7)} ${'us a call'.padStart(10)}  function`);
for (const row of rows) {
  const perCall = row.calls > 0 ? (1000 * row.ms) / row.calls : 0;
  console.log(`${row.ms.toFixed(3).padStart(10)} ${row.calls.toFixed(1).padStart(7)} ${perCall.toFixed(2).padStart(10)}  ${row.name}`);
}
