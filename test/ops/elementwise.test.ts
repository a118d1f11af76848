/** Residual add, in-place accumulation (summed skips) and ReLU, forward and backward. */
import { expect, it } from 'vitest';

import { cpu, f32, read } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { expectGradient, project } from '../helpers/finite-diff';
import { makeRng, uniform } from '../helpers/random';

const shape = [2, 3, 5, 7];
const n = 2 * 3 * 5 * 7;

it('add and accumulate sum elementwise', () => {
  const rng = makeRng(1);
  const a = uniform(rng, n);
  const b = uniform(rng, n);
  const sum = a.map((v, i) => v + b[i]);
  expectClose(read(cpu.add(f32(a, shape), f32(b, shape))), sum, 1e-7);
  const target = f32(a, shape);
  cpu.accumulate(target, f32(b, shape));
  cpu.accumulate(target, f32(b, shape));
  expectClose(read(target), a.map((v, i) => v + 2 * b[i]), 1e-6);
});

it('channel sums add every value of a channel, over images and positions', () => {
  const rng = makeRng(3);
  const a = uniform(rng, n);
  const [, C, H, W] = shape;
  const expected = new Float64Array(C);
  a.forEach((v, i) => (expected[Math.floor(i / (H * W)) % C] += v));
  expectClose(read(cpu.channelSums(f32(a, shape))), expected, 1e-6, '4-D');
  // [B, C]: per-image sums (a gate's bias gradient) summed over the images.
  const rows = uniform(rng, 6 * 5);
  const perColumn = new Float64Array(5);
  rows.forEach((v, i) => (perColumn[i % 5] += v));
  expectClose(read(cpu.channelSums(f32(rows, [6, 5]))), perColumn, 1e-6, '2-D');
  expect(() => cpu.channelSums(f32(rows, [30]))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
});

it('relu forward, and its backward against finite differences', () => {
  const rng = makeRng(2);
  // Keep inputs away from the kink at 0, where the derivative is undefined.
  const x = uniform(rng, n).map((v) => Math.fround(Math.abs(v) < 0.01 ? v + 0.05 : v));
  const relu = (v: Float64Array) => v.map((e) => Math.max(e, 0));
  const xt = f32(x, shape);
  expectClose(read(cpu.relu(xt)), relu(x), 0);
  const projection = uniform(rng, n);
  const grad = read(cpu.reluBackward(f32(projection, shape), xt));
  expectGradient(grad, (v) => project(relu(v), projection), x.slice(), { rng, samples: n, what: 'relu' });
  expect(grad.some((g) => g === 0)).toBe(true);
});

it('relu keeps NaN, as PyTorch does, so that a diverged value reaches the loss; its backward passes the gradient there', () => {
  const x = f32(Float64Array.of(NaN, -2, 3, -0), [4]);
  expect([...cpu.relu(x).toFloat32Array()]).toEqual([NaN, 0, 3, 0]);
  expect([...cpu.reluBackward(f32(Float64Array.of(5, 6, 7, 8), [4]), x).toFloat32Array()]).toEqual([5, 0, 7, 0]);
});
