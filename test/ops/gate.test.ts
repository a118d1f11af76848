/**
 * The gate fused with its additive terms: forward against the oracle, and the
 * gradients for the input, the extra term, the spatial term and the per-image
 * bias against finite differences, for every combination of terms.
 */
import { describe, expect, it } from 'vitest';

import { cpu, f32, read } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { expectGradient, project } from '../helpers/finite-diff';
import { makeRng, numel, uniform } from '../helpers/random';
import { gate } from '../oracle/gate';

const shapes: [number, number, number, number][] = [
  [2, 6, 4, 5],
  [1, 4, 3, 1],
  [3, 2, 1, 7],
];
const termSets = [[], ['bias'], ['extra', 'bias'], ['extra', 'bias', 'spatial'], ['spatial']] as const;

describe.each(shapes)('gate on [%i, %i, %i, %i]', (...shape) => {
  it.each(termSets.map((t) => [t.join('+') || 'no terms', t] as const))('%s', (_, termNames) => {
    const rng = makeRng(numel(shape) + termNames.length * 101);
    const [batch, twoP, height, width] = shape;
    const u = uniform(rng, numel(shape), 2);
    const data: Record<string, Float64Array> = {};
    if (termNames.includes('extra' as never)) data.extra = uniform(rng, numel(shape));
    if (termNames.includes('spatial' as never)) data.spatial = uniform(rng, numel(shape));
    if (termNames.includes('bias' as never)) data.bias = uniform(rng, batch * twoP);
    const tensors = {
      extra: data.extra && f32(data.extra, shape),
      spatial: data.spatial && f32(data.spatial, shape),
      bias: data.bias && f32(data.bias, [batch, twoP]),
    };
    const ut = f32(u, shape);
    const outShape = [batch, twoP / 2, height, width];

    const y = cpu.gate(ut, tensors);
    expect(y.shape).toEqual(outShape);
    expectClose(read(y), gate(u, shape, data), 1e-5, 'forward');

    const projection = uniform(rng, numel(outShape));
    const g = f32(projection, outShape);
    const { gradInput, gradBias } = cpu.gateBackward(g, ut, tensors);
    const gradA = read(gradInput);
    const loss = (terms: typeof data) => (v: Float64Array) => project(gate(v, shape, terms), projection);
    expectGradient(gradA, loss(data), u.slice(), { rng, what: 'input' });
    // The extra and spatial terms enter additively: their gradient is the input's.
    if (data.extra) {
      expectGradient(gradA, (v) => project(gate(u, shape, { ...data, extra: v }), projection), data.extra.slice(), { rng, what: 'extra' });
    }
    if (data.spatial) {
      expectGradient(gradA, (v) => project(gate(u, shape, { ...data, spatial: v }), projection), data.spatial.slice(), { rng, what: 'spatial' });
    }
    if (data.bias) {
      expectGradient(read(gradBias), (v) => project(gate(u, shape, { ...data, bias: v }), projection), data.bias.slice(), { rng, what: 'bias' });
    } else {
      expect(gradBias).toBeUndefined();
    }
  });
});
