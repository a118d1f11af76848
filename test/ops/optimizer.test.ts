/** Adam and AdamW against the float64 reference over several steps; moving averages; global norm and clipping. */
import { describe, expect, it } from 'vitest';

import { cpu, f32, read } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { makeRng, uniform } from '../helpers/random';
import { adamStep, type AdamConfig } from '../oracle/adam';

describe.each([
  { decoupled: false, weightDecay: 0 },
  { decoupled: false, weightDecay: 0.1 },
  { decoupled: true, weightDecay: 0.05 },
])('adam (decoupled=$decoupled, weightDecay=$weightDecay)', ({ decoupled, weightDecay }) => {
  it('five steps track the reference', () => {
    const rng = makeRng(decoupled ? 7 : 3 + weightDecay * 100);
    const n = 37;
    const param = uniform(rng, n);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const [pt, mt, vt] = [f32(param, [n]), cpu.zeros([n]), cpu.zeros([n])];
    for (let step = 1; step <= 5; step++) {
      const grad = uniform(rng, n, 0.5);
      const config: AdamConfig = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay, decoupled, step };
      cpu.adamStep([{ param: pt, grad: f32(grad, [n]), m: mt, v: vt, step }], config);
      adamStep(param, grad, m, v, config);
    }
    expectClose(pt.toFloat32Array(), param, 1e-6, 'param');
    expectClose(read(mt), m, 1e-6, 'm');
    expectClose(read(vt), v, 1e-6, 'v');
  });
});

it('one call updates many parameters, each with its own step count', () => {
  const rng = makeRng(21);
  const sizes = [5, 1, 33, 8];
  const config = { lr: 0.02, beta1: 0.8, beta2: 0.95, eps: 1e-8, weightDecay: 0.01, decoupled: false };
  const params = sizes.map((n) => uniform(rng, n));
  const ms = sizes.map((n) => uniform(rng, n, 0.1));
  const vs = sizes.map((n) => uniform(rng, n, 0.1).map(Math.abs));
  const grads = sizes.map((n) => uniform(rng, n));
  const tensors = sizes.map((n, k) => ({ param: f32(params[k], [n]), grad: f32(grads[k], [n]), m: f32(ms[k], [n]), v: f32(vs[k], [n]), step: k + 2 }));
  cpu.adamStep(tensors, config);
  sizes.forEach((_, k) => {
    const [p, m, v] = [Float64Array.from(params[k]), Float64Array.from(ms[k]), Float64Array.from(vs[k])];
    adamStep(p, grads[k], m, v, { ...config, step: k + 2 });
    expectClose(tensors[k].param.toFloat32Array(), p, 1e-6, `param ${k}`);
    expectClose(read(tensors[k].v), v, 1e-6, `v ${k}`);
  });
});

it('global norm and clipping by it', () => {
  const rng = makeRng(11);
  const a = uniform(rng, 50);
  const b = uniform(rng, 13, 3);
  const norm = Math.hypot(...a, ...b);
  const [at, bt] = [f32(a, [5, 10]), f32(b, [13])];
  expect(cpu.globalNorm([at, bt])).toBeCloseTo(norm, 5);
  // Above the limit: scaled down to it (as torch's clip_grad_norm_).
  expect(cpu.clipGradNorm([at, bt], norm / 4)).toBeCloseTo(norm, 5);
  expect(cpu.globalNorm([at, bt])).toBeCloseTo(norm / 4, 4);
  const factor = norm / 4 / (norm + 1e-6);
  expectClose(at.toFloat32Array(), a.map((x) => x * factor), 1e-6);
  // Below the limit: untouched.
  const before = at.toFloat32Array();
  cpu.clipGradNorm([at, bt], norm);
  expect(at.toFloat32Array()).toEqual(before);
});

describe('moving averages', () => {
  it('average = decay·average + (1 − decay)·value for every pair, in one call', () => {
    const rng = makeRng(31);
    const sizes = [7, 1, 300];
    const averages = sizes.map((n) => uniform(rng, n));
    const tensors = averages.map((a, k) => f32(a, [sizes[k]]));
    for (const decay of [0.9, 0.999, 0, 1]) {
      const values = sizes.map((n) => uniform(rng, n, 2));
      cpu.movingAverage(tensors, values.map((v, k) => f32(v, [sizes[k]])), decay);
      averages.forEach((a, k) => a.forEach((x, i) => (a[i] = decay * x + (1 - decay) * values[k][i])));
    }
    tensors.forEach((t, k) => expectClose(read(t), averages[k], 1e-6, `average ${k}`));
  });

  it('refuses mismatched lists, an average listed twice or read as another pair\'s value, and a decay outside [0, 1]', () => {
    const [a, b, v] = [cpu.zeros([4]), cpu.zeros([4]), cpu.zeros([4])];
    const cases: [() => void, string, RegExp][] = [
      [() => cpu.movingAverage([a, b], [v], 0.9), 'ERR_LENGTH', /as many values as averages/],
      [() => cpu.movingAverage([a, a], [v, v], 0.9), 'ERR_ARG', /same average .* twice/],
      [() => cpu.movingAverage([a, b], [v, a], 0.9), 'ERR_ARG', /values\[1\] is another pair's average/],
      [() => cpu.movingAverage([a], [cpu.zeros([5])], 0.9), 'ERR_SHAPE', /value/],
      [() => cpu.movingAverage([a], [v], 1.5), 'ERR_ARG', /decay must be in \[0, 1\]/],
      // Numbers that are not finite are written as JavaScript writes them.
      [() => cpu.movingAverage([a], [v], NaN), 'ERR_ARG', /decay must be finite, got NaN$/],
      [() => cpu.movingAverage([a], [v], -Infinity), 'ERR_ARG', /decay must be finite, got -Infinity$/],
    ];
    for (const [call, code, message] of cases) expect(call).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  });
});
