/** holdOut: a fixed fraction of random images split off, disjoint and complete, the same on every call, in order. */
import { describe, expect, it } from 'vitest';

import type { ImageDataset } from '../../src/data/dataset';
import { holdOut } from '../../src/data/hold-out';
import { makeRng } from '../helpers/random';

/** `count` random 2×3×2 images whose first pixel is the image's index (mod 256), labeled in 4 classes. */
function indexed(count: number): ImageDataset {
  const rng = makeRng(count);
  const images = Uint8Array.from({ length: count * 12 }, (_, k) => (k % 12 === 0 ? Math.floor(k / 12) % 256 : Math.floor(rng() * 256)));
  const labels = Int32Array.from({ length: count }, () => Math.floor(rng() * 4));
  const imageNames = Array.from({ length: count }, (_, i) => `image${i}.png`);
  return { images, labels, count, channels: 2, height: 3, width: 2, classes: 4, classNames: ['a', 'b', 'c', 'd'], imageNames };
}

/** Which image of `data` each image of `split` is, by its whole pixels. */
function sources(data: ImageDataset, split: ImageDataset): number[] {
  const key = (ds: ImageDataset, i: number) => ds.images.subarray(i * 12, (i + 1) * 12).join();
  const index = new Map(Array.from({ length: data.count }, (_, i) => [key(data, i), i]));
  return Array.from({ length: split.count }, (_, i) => index.get(key(split, i))!);
}

describe('holdOut', () => {
  it.each([[200, 0.1], [37, 0.5], [5, 0.2]])('of %i images holds out round(%f·N), the rest trains', (count, fraction) => {
    const data = indexed(count);
    const { train, test } = holdOut(data, fraction);
    expect(test.count).toBe(Math.round(count * fraction));
    const [fromTrain, fromTest] = [sources(data, train), sources(data, test)];
    expect([...fromTrain, ...fromTest].sort((a, b) => a - b)).toEqual([...data.labels.keys()]); // disjoint and complete
    for (const [split, from] of [[train, fromTrain], [test, fromTest]] as const) {
      expect(from).toEqual([...from].sort((a, b) => a - b)); // in the data's order
      expect([...split.labels]).toEqual(from.map((i) => data.labels[i]));
      expect(split.imageNames).toEqual(from.map((i) => `image${i}.png`));
      expect(split).toMatchObject({ channels: 2, height: 3, width: 2, classes: 4, classNames: ['a', 'b', 'c', 'd'] });
    }
    expect(sources(data, holdOut(data, fraction).test)).toEqual(fromTest); // the same images every time
  });

  it('splits global vectors and spatial maps with their images', () => {
    const data = indexed(40);
    const rng = makeRng(4);
    const vectors = Float32Array.from({ length: 40 * 2 }, () => rng());
    const spatial = Float32Array.from({ length: 40 * 6 }, () => rng()); // one 3×2 map an image
    const { train, test } = holdOut({ ...data, vectors, spatial }, 0.25);
    for (const split of [train, test]) {
      const from = sources(data, split);
      expect([...split.vectors!]).toEqual(from.flatMap((i) => [...vectors.subarray(2 * i, 2 * i + 2)]));
      expect([...split.spatial!]).toEqual(from.flatMap((i) => [...spatial.subarray(6 * i, 6 * i + 6)]));
    }
  });

  it('names the images of data without names by their place in it', () => {
    const { imageNames: _, ...unnamed } = indexed(50);
    const { train, test } = holdOut(unnamed, 0.2);
    expect(test.imageNames).toEqual(sources(unnamed, test).map((i) => `#${i}`));
    expect(train.imageNames).toEqual(sources(unnamed, train).map((i) => `#${i}`));
  });

  it('holds out a spread of the images, not the first or last ones', () => {
    const held = sources(indexed(1000), holdOut(indexed(1000), 0.1).test);
    expect(held.filter((i) => i < 500).length).toBeGreaterThan(30);
    expect(held.filter((i) => i >= 500).length).toBeGreaterThan(30);
  });

  it.each([[0], [1], [NaN], [0.01]])('refuses fraction %f where a side would be empty (ERR_ARG)', (fraction) => {
    expect(() => holdOut(indexed(10), fraction)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});
