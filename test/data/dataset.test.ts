/** createDataset: the one place where a dataset's sizes, labels, vectors and maps are checked. */
import { describe, expect, it } from 'vitest';

import { conditioningSizes, createDataset, type ImageDataset } from '../../src/data/dataset';
import { makeRng } from '../helpers/random';

const byCode = (code: string) => expect.objectContaining({ code });

describe('createDataset', () => {
  const rng = makeRng(71);
  const base: ImageDataset = {
    images: Uint8Array.from({ length: 3 * 2 * 4 * 5 }, () => Math.floor(rng() * 256)),
    labels: Int32Array.from([2, 0, 1]),
    count: 3,
    channels: 2,
    height: 4,
    width: 5,
    classes: 3,
  };

  it('accepts consistent fields, labeled or unlabeled', () => {
    expect(createDataset(base)).toEqual(base);
    expect(createDataset({ ...base, labels: Int32Array.from([-1, -1, -1]), classes: 0 }).classes).toBe(0);
    expect(createDataset({ ...base, classNames: ['x', 'y', 'z'] }).classNames).toEqual(['x', 'y', 'z']);
    expect(createDataset({ ...base, imageNames: ['a.png', 'b.png', 'c.png'] }).imageNames).toEqual(['a.png', 'b.png', 'c.png']);
  });

  const vectors = Float32Array.from({ length: 3 * 2 }, () => rng() * 2 - 1); // D = 2
  const spatial = Float32Array.from({ length: 3 * 3 * 4 * 5 }, () => rng() * 2 - 1); // S = 3

  it('keeps global vectors and spatial maps, whose sizes follow from their lengths', () => {
    const conditioned = createDataset({ ...base, vectors, spatial });
    expect(conditioned.vectors).toBe(vectors);
    expect(conditioned.spatial).toBe(spatial);
    expect(conditioningSizes(conditioned)).toEqual({ condDim: 2, spatialCond: 3 });
    expect(conditioningSizes(base)).toEqual({ condDim: 0, spatialCond: 0 });
    expect(createDataset({ ...base, vectors: null, spatial: undefined })).toEqual(base);
  });

  it.each([
    ['vectors not a Float32Array', { vectors: Array.from(vectors) as unknown as Float32Array }, 'ERR_TYPE'],
    ['vectors not a whole row an image', { vectors: vectors.subarray(1) }, 'ERR_LENGTH'],
    ['empty vectors', { vectors: new Float32Array(0) }, 'ERR_LENGTH'],
    ['a vector value that is NaN', { vectors: vectors.map((v, i) => (i === 4 ? NaN : v)) }, 'ERR_ARG'],
    ['spatial maps not a whole map an image', { spatial: new Float32Array(3 * 7) }, 'ERR_LENGTH'],
    ['a spatial value that is infinite', { spatial: spatial.map((v, i) => (i === 7 ? Infinity : v)) }, 'ERR_ARG'],
    ['vectors for no images', { count: 0, images: new Uint8Array(0), labels: new Int32Array(0), vectors }, 'ERR_LENGTH'],
    ['a pixel too many', { images: new Uint8Array(121) }, 'ERR_LENGTH'],
    ['a label too few', { labels: Int32Array.from([0, 1]) }, 'ERR_LENGTH'],
    ['a label ≥ classes', { labels: Int32Array.from([0, 3, 1]) }, 'ERR_RANGE'],
    ['−1 in a labeled set', { labels: Int32Array.from([0, -1, 1]) }, 'ERR_RANGE'],
    ['a label in an unlabeled set', { classes: 0 }, 'ERR_RANGE'],
    ['zero channels', { channels: 0 }, 'ERR_ARG'],
    ['a fractional width', { width: 2.5 }, 'ERR_ARG'],
    ['a class name too few', { classNames: ['x', 'y'] }, 'ERR_ARG'],
    ['an image name too few', { imageNames: ['a.png', 'b.png'] }, 'ERR_ARG'],
    ['an image name not a string', { imageNames: ['a.png', 'b.png', 3 as unknown as string] }, 'ERR_ARG'],
    ['class names without classes', { classes: 0, labels: Int32Array.from([-1, -1, -1]), classNames: ['x'] }, 'ERR_ARG'],
  ] as const)('refuses %s', (_, change, code) => {
    expect(() => createDataset({ ...base, ...change }, 'my-set')).toThrow(byCode(code));
    expect(() => createDataset({ ...base, ...change }, 'my-set')).toThrow(/^my-set: /);
  });
});
