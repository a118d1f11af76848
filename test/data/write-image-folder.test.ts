/**
 * writeImageFolder: what it writes, loadImageFolder reads back exactly (pixels, labels,
 * file names) for every channel count, labeled by name, by label or not at all; it
 * refuses a target that holds anything, and leaves nothing behind when it fails.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { createDataset, type ImageDataset } from '../../src/data/dataset';
import { loadImageFolder } from '../../src/data/image-folder';
import { writeImageFolder } from '../../src/data/write-image-folder';
import { expectCode } from '../helpers/expect-code';
import { makeRng } from '../helpers/random';

/** `count` random images of `channels` channels; labels cycle through `classes` backwards, so that index order is not class order. */
function randomImages(count: number, channels: number, classes: number, classNames: string[] | null, seed: number): ImageDataset {
  const rng = makeRng(seed);
  const images = Uint8Array.from({ length: count * channels * 5 * 4 }, () => Math.floor(rng() * 256));
  const labels = Int32Array.from({ length: count }, (_, n) => (classes > 0 ? classes - 1 - (n % classes) : -1));
  return createDataset({ images, labels, count, channels, height: 5, width: 4, classes, classNames });
}

/** The images of `data` in the order of `order` (indices). */
function reordered(data: ImageDataset, order: number[]): { images: Uint8Array; labels: Int32Array } {
  const size = data.channels * data.height * data.width;
  const images = new Uint8Array(order.length * size);
  order.forEach((n, k) => images.set(data.images.subarray(n * size, (n + 1) * size), k * size));
  return { images, labels: Int32Array.from(order, (n) => data.labels[n]) };
}

const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'gpcnn-write-folder-'));

describe('writeImageFolder', () => {
  for (const channels of [1, 2, 3, 4]) {
    it(`writes ${channels}-channel images that loadImageFolder reads back exactly, in class folders named by class`, () => {
      const data = randomImages(23, channels, 3, ['zebra', 'Apple', 'mango'], channels);
      const dir = path.join(tempDir(), 'samples');
      const files = writeImageFolder(dir, data);
      expect(files[0]).toBe(path.join('mango', '00.png'));
      expect(files[22]).toBe(path.join('Apple', '22.png'));
      const back = loadImageFolder(dir, { channels, classNames: data.classNames });
      // Read back class by class (folders in name order), each in index order.
      const order = [...files.keys()].sort((a, b) => (files[a] < files[b] ? -1 : 1));
      expect(back.imageNames).toEqual(order.map((n) => files[n]));
      const expected = reordered(data, order);
      expect(back.labels).toEqual(expected.labels);
      expect(back.images).toEqual(expected.images);
      expect(readdirSync(path.dirname(dir))).toEqual(['samples']);
    });
  }

  it('names class folders by label where the classes have no names, writes unlabeled images flat, and refuses unfit names', () => {
    const numbered = randomImages(12, 1, 2, null, 7);
    const dir = path.join(tempDir(), 'by-label');
    expect(writeImageFolder(dir, numbered).slice(0, 2)).toEqual([path.join('1', '00.png'), path.join('0', '01.png')]);
    const back = loadImageFolder(dir, { channels: 1, classNames: ['0', '1'] });
    expect(back.labels).toEqual(Int32Array.from([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]));

    const unlabeled = randomImages(11, 3, 0, null, 9);
    const flat = path.join(tempDir(), 'flat');
    expect(writeImageFolder(flat, unlabeled)).toEqual(Array.from({ length: 11 }, (_, n) => `${String(n).padStart(2, '0')}.png`));
    const read = loadImageFolder(flat, { channels: 3 });
    expect([read.classes, read.images]).toEqual([0, unlabeled.images]);

    // A name that cannot be a folder is refused, not replaced by a label that would read back as another class.
    const parent = tempDir();
    for (const names of [['ok', '../escape'], ['Cat', 'cat'], ['ok', '.hidden']]) {
      const error = expectCode('ERR_ARG', () => writeImageFolder(path.join(parent, 'x'), randomImages(4, 1, 2, names, 8)));
      expect(error.message).toMatch(/cannot name a class folder/);
    }
    expect(readdirSync(parent)).toEqual([]);
  });

  it('fills an empty folder, a link to one too, and refuses one that holds anything, or a file, changing nothing', () => {
    const data = randomImages(3, 1, 0, null, 10);
    const empty = path.join(tempDir(), 'empty');
    mkdirSync(empty);
    writeImageFolder(empty, data);
    expect(readdirSync(empty)).toEqual(['0.png', '1.png', '2.png']);
    // A link (or a mount point) is filled, not replaced: the images end up where it points.
    const pointedTo = path.join(tempDir(), 'pointed-to');
    mkdirSync(pointedTo);
    const link = path.join(tempDir(), 'link');
    symlinkSync(pointedTo, link);
    const labeled = randomImages(4, 1, 2, ['a', 'b'], 12);
    writeImageFolder(link, labeled);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(pointedTo)).toEqual(['a', 'b']);
    expect(loadImageFolder(pointedTo, { channels: 1 }).images).toEqual(reordered(labeled, [1, 3, 0, 2]).images);

    const full = path.join(tempDir(), 'full');
    mkdirSync(full);
    writeFileSync(path.join(full, 'keep.txt'), 'mine');
    expect(expectCode('ERR_IO', () => writeImageFolder(full, data)).message).toMatch(/not empty/);
    expect(readdirSync(full)).toEqual(['keep.txt']);
    const file = path.join(tempDir(), 'a-file');
    writeFileSync(file, 'mine');
    expect(expectCode('ERR_IO', () => writeImageFolder(file, data)).message).toMatch(/it is a file/);

    // Five channels make no PNG: refused before anything is written.
    const parent = tempDir();
    const five = createDataset({ ...data, channels: 5, images: new Uint8Array(3 * 5 * 5 * 4) });
    expectCode('ERR_ARG', () => writeImageFolder(path.join(parent, 'five'), five));
    expectCode('ERR_RANGE', () => writeImageFolder(path.join(parent, 'bad-label'), { ...data, classes: 2, labels: Int32Array.from([0, 2, 1]) }));
    expect(readdirSync(parent)).toEqual([]);
  });

  it('leaves no staging folder behind when a write fails', () => {
    const parent = tempDir();
    const data = randomImages(2, 1, 0, null, 11);
    // A new target that someone fills while the images are written fails at the
    // rename, leaving that one's files, and nothing else.
    const target = path.join(parent, 'target');
    let written = 0;
    class RacingPixels extends Uint8Array {
      override subarray(begin?: number, end?: number): Uint8Array<ArrayBuffer> {
        if (written++ === 1) {
          mkdirSync(target);
          writeFileSync(path.join(target, 'late.png'), '');
        }
        return super.subarray(begin, end);
      }
    }
    const racing = { ...data, images: new RacingPixels(data.images) };
    expectCode('ERR_IO', () => writeImageFolder(target, racing));
    expect(readdirSync(parent)).toEqual(['target']);
    expect(readdirSync(target)).toEqual(['late.png']);
  });
});
