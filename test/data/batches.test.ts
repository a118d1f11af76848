/** Seeded mini-batches: coverage per epoch, sizes, determinism, and exact resume from a saved state. */
import { describe, expect, it } from 'vitest';

import { BatchSampler, epochPermutation, gatherBatch } from '../../src/data/batches';
import { createDataset } from '../../src/data/dataset';
import { makeRng } from '../helpers/random';

const byCode = (code: string) => expect.objectContaining({ code });
type Batch = ReturnType<BatchSampler['next']>;
const take = (s: BatchSampler, n: number): Batch[] => Array.from({ length: n }, () => s.next());
const plain = (bs: Batch[]) => bs.map((b) => ({ ...b, indices: [...b.indices] }));

describe('BatchSampler', () => {
  it('dropLast false: every index exactly once per epoch, the last batch short', () => {
    const s = new BatchSampler(23, 5, { seed: 1, dropLast: false });
    expect(s.batchesPerEpoch).toBe(5);
    for (let epoch = 0; epoch < 3; epoch++) {
      const batches = take(s, 5);
      expect(batches.map((b) => b.indices.length)).toEqual([5, 5, 5, 5, 3]);
      expect(batches.map((b) => b.epoch)).toEqual([epoch, epoch, epoch, epoch, epoch]);
      expect(batches.map((b) => b.epochStart)).toEqual([true, false, false, false, false]);
      const seen = batches.flatMap((b) => [...b.indices]).sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => i));
    }
  });

  it('dropLast (default): full batches only, distinct indices within an epoch', () => {
    const s = new BatchSampler(23, 5, { seed: 2 });
    expect(s.batchesPerEpoch).toBe(4);
    const batches = take(s, 9);
    expect(batches.every((b) => b.indices.length === 5)).toBe(true);
    expect(batches.map((b) => b.epoch)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2]);
    const epoch0 = batches.slice(0, 4).flatMap((b) => [...b.indices]);
    expect(new Set(epoch0).size).toBe(20);
    expect(epoch0.every((i) => i >= 0 && i < 23)).toBe(true);
  });

  it('epochs differ from each other and from the identity; the same seed repeats, another does not', () => {
    const order = (seed: number, epoch: number) => [...epochPermutation(1000, seed, epoch)];
    const identity = Array.from({ length: 1000 }, (_, i) => i);
    expect(order(3, 0)).not.toEqual(identity);
    expect(order(3, 0)).not.toEqual(order(3, 1));
    expect(order(3, 1)).not.toEqual(order(3, 2));
    expect(order(3, 0)).not.toEqual(order(4, 0));
    expect(order(3, 5)).toEqual(order(3, 5));
    const run = () => plain(take(new BatchSampler(100, 8, { seed: 3 }), 30));
    expect(run()).toEqual(run());
  });

  it('shuffles fairly: each image lands in each position about equally often', () => {
    const n = 5;
    const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const epochs = 5000;
    for (let e = 0; e < epochs; e++) epochPermutation(n, 7, e).forEach((img, pos) => counts[img][pos]++);
    for (const row of counts) for (const c of row) expect(Math.abs(c - epochs / n)).toBeLessThan(120); // sd ≈ 28
  });

  it.each([
    ['dropLast', true],
    ['no dropLast', false],
  ])('resumes exactly from a JSON round-tripped state across an epoch boundary (%s)', (_, dropLast) => {
    const options = { seed: 12345, dropLast };
    const uninterrupted = new BatchSampler(50, 8, options); // 6 or 7 batches per epoch
    const expected = take(uninterrupted, 27);

    const first = new BatchSampler(50, 8, options);
    const before = take(first, 7);
    const saved = JSON.parse(JSON.stringify(first.state));
    expect(saved).toEqual(first.state);
    const resumed = new BatchSampler(50, 8, options, saved);
    const after = take(resumed, 20);

    expect(plain([...before, ...after])).toEqual(plain(expected));
    expect(new Set(after.map((b) => b.epoch)).size).toBeGreaterThan(1); // crossed at least one boundary
  });

  it('state.epoch names the next batch’s epoch (an exhausted epoch rolls over)', () => {
    const s = new BatchSampler(10, 5, { seed: 9 });
    s.next();
    expect(s.state).toEqual({ seed: 9, epoch: 0, position: 5 });
    s.next();
    expect(s.state).toEqual({ seed: 9, epoch: 1, position: 0 });
    // A state left at the end of an epoch (or mid-way, with a short tail) resumes at the next one.
    const tail = { seed: 9, epoch: 2, position: 8 };
    expect(new BatchSampler(10, 4, { seed: 9 }, tail).state).toEqual({ seed: 9, epoch: 3, position: 0 });
    expect(new BatchSampler(10, 4, { seed: 9, dropLast: false }, tail).next().indices.length).toBe(2);
  });

  it('refuses bad arguments and states (ERR_ARG)', () => {
    expect(() => new BatchSampler(0, 1, { seed: 1 })).toThrow(byCode('ERR_ARG'));
    expect(() => new BatchSampler(10, 0, { seed: 1 })).toThrow(byCode('ERR_ARG'));
    expect(() => new BatchSampler(10, 11, { seed: 1 })).toThrow(byCode('ERR_ARG')); // dropLast leaves nothing
    expect(new BatchSampler(10, 11, { seed: 1, dropLast: false }).next().indices.length).toBe(10);
    expect(() => new BatchSampler(10, 2, { seed: 1.5 })).toThrow(byCode('ERR_ARG'));
    expect(() => new BatchSampler(10, 2, { seed: 1 }, { seed: 2, epoch: 0, position: 0 })).toThrow(byCode('ERR_ARG'));
    expect(() => new BatchSampler(10, 2, { seed: 1 }, { seed: 1, epoch: -1, position: 0 })).toThrow(byCode('ERR_ARG'));
    expect(() => new BatchSampler(10, 2, { seed: 1 }, { seed: 1, epoch: 0, position: 11 })).toThrow(byCode('ERR_ARG'));
  });
});

describe('gatherBatch', () => {
  const rng = makeRng(51);
  const [N, C, H, W] = [6, 3, 2, 4];
  const ds = createDataset({
    images: Uint8Array.from({ length: N * C * H * W }, () => Math.floor(rng() * 256)),
    labels: Int32Array.from({ length: N }, () => Math.floor(rng() * 10)),
    count: N,
    channels: C,
    height: H,
    width: W,
    classes: 10,
  });

  it('copies the chosen images in order, quantized, with their labels', () => {
    const indices = Int32Array.from([4, 0, 4, 5]);
    const batch = gatherBatch(ds, indices, 4);
    const size = C * H * W;
    expect(batch.images.length).toBe(4 * size);
    expect([...batch.labels]).toEqual([...indices].map((i) => ds.labels[i]));
    indices.forEach((img, b) => {
      for (let k = 0; k < size; k++) expect(batch.images[b * size + k]).toBe(ds.images[img * size + k] >> 6);
    });
  });

  it('copies the chosen images\' vectors and spatial maps, row for row', () => {
    const [D, S] = [3, 2];
    const conditioned = createDataset({
      ...ds,
      vectors: Float32Array.from({ length: N * D }, () => rng()),
      spatial: Float32Array.from({ length: N * S * H * W }, () => rng()),
    });
    const indices = Int32Array.from([5, 1, 1, 3]);
    const batch = gatherBatch(conditioned, indices, 4);
    const rows = (values: Float32Array, width: number) => [...indices].flatMap((i) => [...values.subarray(i * width, (i + 1) * width)]);
    expect([...batch.vectors!]).toEqual(rows(conditioned.vectors!, D));
    expect([...batch.spatial!]).toEqual(rows(conditioned.spatial!, S * H * W));
    expect(gatherBatch(ds, indices, 4)).not.toHaveProperty('vectors');
  });

  it('refuses a dataset made by hand whose arrays are short or of the wrong kind, rather than gather zeros or other rows', () => {
    for (const [change, code] of [
      [{ images: ds.images.subarray(1) }, 'ERR_LENGTH'],
      [{ labels: ds.labels.subarray(1) }, 'ERR_LENGTH'],
      [{ vectors: new Float32Array(N * 2 - 1) }, 'ERR_LENGTH'],
      [{ spatial: new Float32Array(N * H * W - 2) }, 'ERR_LENGTH'],
      [{ vectors: [1, 2, 3, 4, 5, 6] }, 'ERR_TYPE'],
    ] as const) {
      expect(() => gatherBatch({ ...ds, ...change } as typeof ds, Int32Array.from([0, 2]), 4), JSON.stringify(Object.keys(change))).toThrow(byCode(code));
    }
  });

  it('refuses an index outside the dataset (ERR_RANGE) and bad levels (ERR_ARG)', () => {
    expect(() => gatherBatch(ds, Int32Array.from([0, 6]), 2)).toThrow(byCode('ERR_RANGE'));
    expect(() => gatherBatch(ds, Int32Array.from([-1]), 2)).toThrow(byCode('ERR_RANGE'));
    expect(() => gatherBatch(ds, Int32Array.from([0]), 1)).toThrow(byCode('ERR_ARG'));
  });
});
