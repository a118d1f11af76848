/** Class embeddings (lookup and scatter-add gradient) and the global-vector term. */
import { describe, expect, it } from 'vitest';

import { cpu, f32, i32, read } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { expectGradient, project } from '../helpers/finite-diff';
import { integers, makeRng, uniform } from '../helpers/random';
import { embedding, linear } from '../oracle/conditioning';

describe.each([
  [10, 6, 5],
  [3, 4, 1],
  [2, 8, 9],
])('embedding: %i classes of width %i, batch %i', (classes, width, batch) => {
  const rng = makeRng(classes * 100 + width * 10 + batch);
  const table = uniform(rng, classes * width);
  const labels = integers(rng, batch, classes);
  labels[0] = labels[batch - 1]; // a repeated label exercises the scatter-add

  it('forward looks up rows; backward scatter-adds', () => {
    const tt = f32(table, [classes, width]);
    const lt = i32(labels, [batch]);
    const out = cpu.embedding(tt, lt);
    expect(out.shape).toEqual([batch, width]);
    expectClose(read(out), embedding(table, width, labels), 0);
    const projection = uniform(rng, batch * width);
    const grad = read(cpu.embeddingBackward(f32(projection, [batch, width]), lt, classes));
    expectGradient(grad, (v) => project(embedding(v, width, labels), projection), table.slice(), { rng, what: 'table' });
  });
});

describe.each([
  [3, 4, 6],
  [1, 7, 2],
  [5, 1, 8],
])('linear: batch %i, %i features, %i outputs', (batch, features, outputs) => {
  const rng = makeRng(batch * 100 + features * 10 + outputs);
  const x = uniform(rng, batch * features);
  const w = uniform(rng, outputs * features);

  it('forward matches the oracle; backward matches finite differences', () => {
    const xt = f32(x, [batch, features]);
    const wt = f32(w, [outputs, features]);
    expectClose(read(cpu.linear(xt, wt)), linear(x, w, batch, features, outputs), 1e-6);
    const projection = uniform(rng, batch * outputs);
    const g = f32(projection, [batch, outputs]);
    const { gradWeight, gradInput } = cpu.linearBackward(g, xt, wt, { inputGrad: true });
    expectGradient(read(gradWeight), (v) => project(linear(x, v, batch, features, outputs), projection), w.slice(), { rng, what: 'weight' });
    expectGradient(read(gradInput), (v) => project(linear(v, w, batch, features, outputs), projection), x.slice(), { rng, what: 'input' });
    expect(cpu.linearBackward(g, xt, wt, { inputGrad: false }).gradInput).toBeUndefined();
  });
});
