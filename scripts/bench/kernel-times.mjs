// Sums an ncu CSV report (`ncu --csv --metrics gpu__time_duration.sum`) by kernel:
// the kernels that took the most GPU time, their launch counts, and the total.
//   node scripts/bench/kernel-times.mjs REPORT.csv [TOP]
import { readFileSync } from 'node:fs';

const [file, top = '15'] = process.argv.slice(2);
const toMicroseconds = { ns: 1e-3, nsecond: 1e-3, us: 1, usecond: 1, ms: 1e3, msecond: 1e3, s: 1e6, second: 1e6 };

function csvFields(line) {
  const fields = [];
  for (const match of line.matchAll(/"((?:[^"]|"")*)"|([^,]+)|(?<=,)(?=,|$)/g)) fields.push((match[1] ?? match[2] ?? '').replaceAll('""', '"'));
  return fields;
}

const lines = readFileSync(file, 'utf8').split('\n');
const headerAt = lines.findIndex((line) => line.startsWith('"ID"'));
if (headerAt < 0) {
  console.log(`${file}: no ncu CSV table (ncu could not profile here?)`);
  process.exit(0);
}
const header = csvFields(lines[headerAt]);
const [nameAt, unitAt, valueAt] = ['Kernel Name', 'Metric Unit', 'Metric Value'].map((h) => header.indexOf(h));
const byKernel = new Map();
let total = 0;
for (const line of lines.slice(headerAt + 1)) {
  if (!line.startsWith('"')) continue;
  const fields = csvFields(line);
  const microseconds = Number(fields[valueAt].replaceAll(',', '')) * (toMicroseconds[fields[unitAt]] ?? NaN);
  if (!Number.isFinite(microseconds)) continue;
  const name = fields[nameAt].replace(/\(.*$/, '').slice(0, 90);
  const entry = byKernel.get(name) ?? { launches: 0, microseconds: 0 };
  entry.launches += 1;
  entry.microseconds += microseconds;
  byKernel.set(name, entry);
  total += microseconds;
}
console.log(`${file}: ${[...byKernel.values()].reduce((n, e) => n + e.launches, 0)} launches, ${(total / 1000).toFixed(2)} ms of kernels`);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].microseconds - a[1].microseconds).slice(0, Number(top)))
  console.log(`  ${(e.microseconds / 1000).toFixed(3).padStart(9)} ms  ${String(e.launches).padStart(5)}×  ${name}`);
