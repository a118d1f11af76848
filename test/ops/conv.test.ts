/**
 * The offset convolution (SPEC.md §3) on the CPU: forward against the float64
 * oracle, backward (input, weights, bias) against finite differences of it, for
 * every kernel the model uses plus the awkward cases: negative pads (the first
 * block's kernels), pads wider than the kernel, a kernel that never overlaps
 * the image, grouped 1×1 (the head), batch 1, odd sizes and H ≠ W.
 */
import { describe, expect, it } from 'vitest';

import { cpu, f32, read } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { expectGradient, project } from '../helpers/finite-diff';
import { makeRng, numel, uniform } from '../helpers/random';
import { offsetConv, type ConvShape } from '../oracle/conv';

interface Case extends ConvShape {
  name: string;
}

const cases: Case[] = [
  // n0 = 3: first vertical 1×3 at (1, 1), first horizontal 1×1 at (0, 1)
  { name: 'first vertical, n0=3', input: [2, 1, 5, 4], weight: [6, 1, 1, 3], dy: 1, dx: 1, groups: 1 },
  { name: 'first horizontal, n0=3', input: [2, 1, 5, 4], weight: [6, 1, 1, 1], dy: 0, dx: 1, groups: 1 },
  // n0 = 7: first vertical 3×7 at (3, 3), first horizontal 1×3 at (0, 3)
  { name: 'first vertical, n0=7', input: [1, 3, 6, 5], weight: [4, 3, 3, 7], dy: 3, dx: 3, groups: 1 },
  { name: 'first horizontal, n0=7', input: [1, 3, 6, 5], weight: [4, 3, 1, 3], dy: 0, dx: 3, groups: 1 },
  // n = 3 and n = 5: vertical (r+1)×n at (r, r), horizontal 1×(r+1) at (0, r)
  { name: 'vertical, n=3', input: [3, 4, 7, 5], weight: [8, 4, 2, 3], dy: 1, dx: 1, groups: 1 },
  { name: 'horizontal, n=3', input: [3, 4, 7, 5], weight: [8, 4, 1, 2], dy: 0, dx: 1, groups: 1 },
  { name: 'vertical, n=5', input: [2, 3, 4, 9], weight: [6, 3, 3, 5], dy: 2, dx: 2, groups: 1 },
  { name: 'horizontal, n=5', input: [2, 3, 4, 9], weight: [6, 3, 1, 3], dy: 0, dx: 2, groups: 1 },
  { name: '1×1', input: [2, 5, 3, 4], weight: [7, 5, 1, 1], dy: 0, dx: 0, groups: 1 },
  { name: 'grouped 1×1 (head.out, C=3)', input: [2, 6, 3, 5], weight: [9, 2, 1, 1], dy: 0, dx: 0, groups: 3 },
  { name: 'pad wider than the kernel', input: [2, 2, 7, 6], weight: [3, 2, 2, 2], dy: 4, dx: 3, groups: 1 },
  { name: 'negative offsets (reads below and right)', input: [2, 2, 5, 6], weight: [3, 2, 2, 3], dy: -1, dx: -2, groups: 1 },
  { name: 'height 1: the vertical kernel sees nothing', input: [2, 2, 1, 5], weight: [4, 2, 1, 3], dy: 1, dx: 1, groups: 1 },
  { name: '1×1 image', input: [1, 3, 1, 1], weight: [2, 3, 2, 3], dy: 1, dx: 1, groups: 1 },
];

describe.each(cases)('offset convolution: $name', (c) => {
  const rng = makeRng(numel(c.input) * 31 + c.weight[2] * 7 + c.dy);
  const x = uniform(rng, numel(c.input));
  const w = uniform(rng, numel(c.weight), 0.5);
  const b = uniform(rng, c.weight[0]);
  const outShape = [c.input[0], c.weight[0], c.input[2], c.input[3]];
  const projection = uniform(rng, numel(outShape));
  const options = { dy: c.dy, dx: c.dx, groups: c.groups };

  it('forward matches the oracle, with and without bias', () => {
    const xt = f32(x, c.input);
    const wt = f32(w, c.weight);
    const bt = f32(b, [c.weight[0]]);
    const y = cpu.conv2d(xt, wt, bt, options);
    expect(y.shape).toEqual(outShape);
    expectClose(read(y), offsetConv(x, w, b, c), 1e-5, 'with bias');
    expectClose(read(cpu.conv2d(xt, wt, null, options)), offsetConv(x, w, null, c), 1e-5, 'no bias');
    [xt, wt, bt].forEach((t) => t.dispose());
  });

  it('backward matches finite differences for input, weight and bias', () => {
    const g = f32(projection, outShape);
    const wt = f32(w, c.weight);
    const xt = f32(x, c.input);
    const gradX = read(cpu.conv2dBackwardData(g, wt, options));
    const { gradWeight, gradBias } = cpu.conv2dBackwardWeights(
      xt, g, [c.weight[2], c.weight[3]], { ...options, bias: true },
    );
    const [gw, gb] = [read(gradWeight), read(gradBias)];
    const what = { rng, what: '' };
    expectGradient(gradX, (v) => project(offsetConv(v, w, b, c), projection), x.slice(), { ...what, what: 'input' });
    expectGradient(gw, (v) => project(offsetConv(x, v, b, c), projection), w.slice(), { ...what, what: 'weight' });
    expectGradient(gb, (v) => project(offsetConv(x, w, v, c), projection), b.slice(), { ...what, what: 'bias' });
    const noBias = cpu.conv2dBackwardWeights(xt, g, [c.weight[2], c.weight[3]], { ...options, bias: false });
    expect(noBias.gradBias).toBeUndefined();
    expectClose(read(noBias.gradWeight), gw, 1e-6, 'weight gradient without bias');
    [g, wt, xt].forEach((t) => t.dispose());
  });

  it('the accumulating input gradient adds the same result into an existing tensor', () => {
    const wt = f32(w, c.weight);
    const g = f32(projection, outShape);
    const startX = uniform(rng, numel(c.input));
    const gradX = f32(startX, c.input);
    cpu.conv2dBackwardDataAccumulate(gradX, g, wt, options);
    const expected = read(cpu.conv2dBackwardData(g, wt, options)).map((v, i) => v + startX[i]);
    expectClose(read(gradX), expected, 1e-6, 'input gradient');
    [wt, g].forEach((t) => t.dispose());
  });
});

it('an accumulation target of the wrong shape, or one sharing memory with an input, is refused', () => {
  const x = cpu.tensor(new Float32Array(2 * 3 * 4 * 4).fill(1), [2, 3, 4, 4]);
  const w = cpu.tensor(new Float32Array(3 * 3).fill(0.5), [3, 3, 1, 1]);
  const wrong = cpu.zeros([2, 3, 4, 5]);
  expect(() => cpu.conv2dBackwardDataAccumulate(wrong, x, w)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
  expect(() => cpu.conv2dBackwardDataAccumulate(x, x, w)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  const view = cpu.reshape(x, [2, 3, 4, 4]);
  expect(() => cpu.conv2dBackwardDataAccumulate(view, x, w)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  expect(Array.from(x.toFloat32Array()).every((v) => v === 1)).toBe(true); // nothing written
  [x, w, wrong, view].forEach((t) => t.dispose());
});

it('repeated calls on one geometry reuse cached primitives and stay correct', () => {
  const rng = makeRng(5);
  const shape: ConvShape = { input: [2, 3, 6, 6], weight: [4, 3, 2, 3], dy: 1, dx: 1, groups: 1 };
  for (let round = 0; round < 3; round++) {
    const x = uniform(rng, numel(shape.input));
    const w = uniform(rng, numel(shape.weight));
    expectClose(read(cpu.conv2d(f32(x, shape.input), f32(w, shape.weight), null, shape)), offsetConv(x, w, null, shape));
  }
});
