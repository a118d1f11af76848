// Benchmark suite: the offset convolutions of one gated block (batch 32, p = 128,
// 28×28), forward and backward, through the addon, beside oneDNN alone on the
// same shapes (scripts/bench/onednn_conv_bench.cc). Reports GFLOP/s.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { randomTensor, timePerRun } from './timing.mjs';

const root = path.resolve(import.meta.dirname, '..', '..');

export function convShapes(p) {
  return [
    { conv: 'vertical 2x3', in: p, out: 2 * p, kh: 2, kw: 3, dy: 1, dx: 1 },
    { conv: 'horizontal 1x2', in: p, out: 2 * p, kh: 1, kw: 2, dy: 0, dx: 1 },
    { conv: '1x1', in: 2 * p, out: 2 * p, kh: 1, kw: 1, dy: 0, dx: 0 },
  ];
}

function oursOn(backend, { batch, p, size, seconds }) {
  const rows = [];
  for (const c of convShapes(p)) {
    const x = randomTensor(backend, [batch, c.in, size, size]);
    const w = randomTensor(backend, [c.out, c.in, c.kh, c.kw]);
    const b = randomTensor(backend, [c.out]);
    const gy = randomTensor(backend, [batch, c.out, size, size]);
    const options = { dy: c.dy, dx: c.dx };
    const flops = 2 * batch * size * size * c.out * c.in * c.kh * c.kw;
    const passes = {
      forward: () => backend.conv2d(x, w, b, options).dispose(),
      'backward-data': () => backend.conv2dBackwardData(gy, w, options).dispose(),
      'backward-weights': () => {
        const g = backend.conv2dBackwardWeights(x, gy, [c.kh, c.kw], { ...options, bias: true });
        g.gradWeight.dispose();
        g.gradBias.dispose();
      },
    };
    for (const [pass, run] of Object.entries(passes)) {
      const secs = timePerRun(run, seconds);
      rows.push({ conv: c.conv, pass, ms: secs * 1e3, gflops: flops / secs / 1e9 });
    }
    [x, w, b, gy].forEach((t) => t.dispose());
  }
  return rows;
}

function onednnAlone({ batch, p, size, seconds }) {
  try {
    execFileSync('cmake', ['--build', path.join(root, 'build'), '--target', 'onednn_conv_bench'], {
      stdio: 'ignore',
    });
  } catch {
    return null;
  }
  const binary = ['onednn_conv_bench', 'Release/onednn_conv_bench']
    .map((name) => path.join(root, 'build', name))
    .find((file) => existsSync(file));
  if (!binary) return null;
  const output = execFileSync(binary, [batch, p, size, seconds].map(String)).toString();
  return output.trim().split('\n').map((line) => JSON.parse(line));
}

export function runConvSuite(backend, settings) {
  const ours = oursOn(backend, settings);
  const alone = onednnAlone(settings) ?? [];
  const find = (row, layout) =>
    alone.find((a) => a.conv === row.conv && a.pass === row.pass && a.layout === layout);
  return ours.map((row) => {
    const best = find(row, 'onednn');
    const plain = find(row, 'nchw');
    return {
      ...row,
      onednnGflops: best?.gflops ?? null,
      onednnImpl: best?.impl ?? null,
      onednnNchwGflops: plain?.gflops ?? null,
      ratioToOnednn: best ? row.gflops / best.gflops : null,
    };
  });
}
