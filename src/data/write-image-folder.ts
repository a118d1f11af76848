/**
 * Writing images as an image folder, the layout loadImageFolder reads (and torchvision's
 * ImageFolder, and FID tools that take a folder of PNGs): one PNG per image, named by
 * its index zero-padded to one width (`0007.png`), so that name order is index order; in
 * a class folder per label where the images are labeled (named as classFileNames says).
 *
 * The folder appears whole or not at all: the files go into a hidden staging folder
 * beside it, each synced, which is then renamed into place. The target must not exist,
 * or be an empty folder, so that nothing already there is lost or mixed in.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';
import { syncFolderSync } from '../io/atomic-write';
import { classFileNames } from '../io/class-file-names';
import { ensureWritableDirectory } from '../io/directories';
import { encodePngGrid, gridSize } from '../io/png-grid';
import { createDataset, type ImageDataset } from './dataset';

const ioError = (what: string, error: unknown): PixelCNNError =>
  new PixelCNNError('ERR_IO', `${what}: ${(error as Error).message}`, { cause: error });

/**
 * Checks, before long work, that `dir` can become an image folder of images of `channels`
 * channels: it does not exist or is an empty folder, and its parent is writable (ERR_IO);
 * a PNG holds the channels (ERR_ARG).
 */
export function checkImageFolderTarget(dir: string, channels: number): void {
  gridSize({ count: 1, channels, height: 1, width: 1 }, { columns: 1 });
  ensureWritableDirectory(path.dirname(path.resolve(dir)));
  let stats: fs.Stats | undefined;
  let entries: string[] = [];
  try {
    stats = fs.statSync(dir, { throwIfNoEntry: false });
    if (stats?.isDirectory()) entries = fs.readdirSync(dir);
  } catch (error) {
    throw ioError(`cannot read ${dir}`, error);
  }
  if (stats && !stats.isDirectory()) throw new PixelCNNError('ERR_IO', `cannot write the image folder ${dir}: it is a file`);
  if (entries.length > 0) {
    throw new PixelCNNError('ERR_IO', `cannot write the image folder ${dir}: it is not empty (give a new or empty folder)`);
  }
}

/** Writes `data`'s images (8-bit pixels) as the image folder `dir`; returns the files written, relative to it, in dataset order. */
export function writeImageFolder(dir: string, dataset: ImageDataset): string[] {
  checkImageFolderTarget(dir, dataset?.channels);
  const data = createDataset(dataset, 'writeImageFolder');
  const labeled = data.classes > 0;
  const folders = labeled ? classFileNames([...new Set(data.labels)], data.classNames) : new Map<number, string>();
  const digits = String(Math.max(data.count - 1, 0)).length;
  const files = Array.from(data.labels, (label, n) => {
    const name = `${String(n).padStart(digits, '0')}.png`;
    return labeled ? path.join(folders.get(label)!, name) : name;
  });
  const target = path.resolve(dir);
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const shape = { count: 1, channels: data.channels, height: data.height, width: data.width };
  const size = data.channels * data.height * data.width;
  try {
    fs.mkdirSync(staging);
    for (const folder of folders.values()) fs.mkdirSync(path.join(staging, folder));
    files.forEach((file, n) => {
      const png = encodePngGrid(data.images.subarray(n * size, (n + 1) * size), shape, { columns: 1 });
      const fd = fs.openSync(path.join(staging, file), 'wx');
      try {
        fs.writeFileSync(fd, png);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    });
    for (const folder of folders.values()) syncFolderSync(path.join(staging, folder), dir);
    syncFolderSync(staging, dir);
    // rename(2) replaces an empty folder, and fails on one that filled up meanwhile.
    fs.renameSync(staging, target);
    syncFolderSync(path.dirname(target), dir);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error instanceof PixelCNNError ? error : ioError(`could not write the image folder ${dir}`, error);
  }
  return files;
}
