/**
 * The head's per-channel inputs (SPEC.md §4): relu(hidden + Σ_{c'<c} prev·x̃[c']),
 * for C = 1 (no prev) and C = 3, with gradients for hidden and prev.
 */
import { describe, expect, it } from 'vitest';

import { cpu, f32, read } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { expectGradient, project } from '../helpers/finite-diff';
import { makeRng, numel, uniform } from '../helpers/random';
import { headChannels } from '../oracle/head';

describe.each([
  { batch: 2, q: 4, channels: 1, height: 3, width: 5 },
  { batch: 1, q: 3, channels: 3, height: 4, width: 2 },
  { batch: 3, q: 2, channels: 2, height: 1, width: 3 },
])('head channels: B=$batch q=$q C=$channels H=$height W=$width', (s) => {
  const rng = makeRng(s.batch * 1000 + s.q * 100 + s.channels * 10 + s.height);
  const plane = s.height * s.width;
  const dims = { ...s, plane };
  const hidden = uniform(rng, s.batch * s.q * plane);
  const xt = uniform(rng, s.batch * s.channels * plane);
  const prev = s.channels > 1 ? uniform(rng, s.q * s.channels * s.channels) : null;
  const outShape = [s.batch, s.channels * s.q, s.height, s.width];

  it('forward matches the oracle; backward matches finite differences', () => {
    const ht = f32(hidden, [s.batch, s.q, s.height, s.width]);
    const pt = prev ? f32(prev, [s.q, s.channels, s.channels]) : null;
    const xtt = f32(xt, [s.batch, s.channels, s.height, s.width]);
    const out = cpu.headChannels(ht, pt, xtt);
    expect(out.shape).toEqual(outShape);
    const expected = headChannels(hidden, prev, xt, dims);
    expectClose(out.toFloat32Array(), expected, 1e-6, 'forward');

    const projection = uniform(rng, numel(outShape));
    const { gradHidden, gradPrev } = cpu.headChannelsBackward(f32(projection, outShape), out, xtt, { prev: prev !== null });
    expectGradient(read(gradHidden), (v) => project(headChannels(v, prev, xt, dims), projection), hidden.slice(), { rng, what: 'hidden' });
    if (prev) {
      const gp = read(gradPrev);
      expectGradient(gp, (v) => project(headChannels(hidden, v, xt, dims), projection), prev.slice(), { rng, samples: prev.length, what: 'prev' });
    } else {
      expect(gradPrev).toBeUndefined();
    }
  });
});
