/**
 * Writing images as an image folder, the layout loadImageFolder reads (and torchvision's
 * ImageFolder, and FID tools that take a folder of PNGs): one PNG per image, named by
 * its index zero-padded to one width (`0007.png`), so that name order is index order; in
 * a folder per class where the images are labeled (classFolderNames).
 *
 * A new folder appears whole or not at all: the files go into a hidden staging folder
 * beside it, each synced, which is then renamed into place. An existing folder must be
 * empty, so that nothing in it is lost or mixed in; it may be a mount point or a link,
 * which a rename cannot replace, so the staging folder goes inside it and its entries
 * are moved out of it at the end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';
import { syncFolderSync } from '../io/atomic-write';
import { classFolderNames } from '../io/class-file-names';
import { checkCanWriteInto, checkNameLength, ensureWritableDirectory, statPath } from '../io/directories';
import { encodePngGrid, gridSize } from '../io/png-grid';
import { removeStaleTemporaries, temporaryName } from '../io/temporary-names';
import { createDataset, type ImageDataset } from './dataset';

const ioError = (what: string, error: unknown): PixelCNNError =>
  new PixelCNNError('ERR_IO', `${what}: ${(error as Error).message}`, { cause: error });

/** The staging folder's name inside an existing target folder. */
const STAGING = 'staging';

/** What the folder will hold, for checks made before the images exist. */
export interface ImageFolderPlan {
  channels: number;
  /** The labels that will have images (none for unlabeled images), and the classes' names. */
  labels?: readonly number[];
  classNames?: readonly string[] | null;
}

/**
 * Checks, before long work, that `dir` can become an image folder as `plan` says: it does
 * not exist or is an empty folder, and its parent is writable (ERR_IO); a PNG holds the
 * channels and the classes can name folders (ERR_ARG). Returns whether `dir` exists.
 * Staging folders that killed runs left in it are removed first.
 */
export function checkImageFolderTarget(dir: string, plan: ImageFolderPlan): boolean {
  if (typeof dir !== 'string' || dir === '') throw new PixelCNNError('ERR_ARG', `an image folder's path must be a non-empty string, got ${JSON.stringify(dir)}`);
  gridSize({ count: 1, channels: plan.channels, height: 1, width: 1 }, { columns: 1 });
  checkNameLength(dir);
  if (plan.labels) classFolderNames(plan.labels, plan.classNames);
  const stats = statPath(dir);
  // A run killed while filling this folder left its staging folder in it.
  if (stats?.isDirectory()) removeStaleTemporaries(dir, STAGING);
  let entries: string[] = [];
  try {
    if (stats?.isDirectory()) entries = fs.readdirSync(dir);
  } catch (error) {
    throw ioError(`cannot read ${dir}`, error);
  }
  if (stats && !stats.isDirectory()) throw new PixelCNNError('ERR_IO', `cannot write the image folder ${dir}: it is a file`);
  if (entries.length > 0) {
    throw new PixelCNNError('ERR_IO', `cannot write the image folder ${dir}: it is not empty (give a new or empty folder)`);
  }
  checkCanWriteInto(stats ? dir : path.dirname(path.resolve(dir)));
  return stats !== undefined;
}

/** Writes one file and syncs it. */
function writeSynced(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data`'s images (8-bit pixels) as the image folder `dir`; returns the files written, relative to it, in dataset order. */
export function writeImageFolder(dir: string, dataset: ImageDataset): string[] {
  const data = createDataset(dataset, 'writeImageFolder');
  const labeled = data.classes > 0;
  const labels = labeled ? [...new Set(data.labels)] : undefined;
  const exists = checkImageFolderTarget(dir, { channels: data.channels, labels, classNames: data.classNames });
  const folders = labels ? classFolderNames(labels, data.classNames) : new Map<number, string>();
  const digits = String(Math.max(data.count - 1, 0)).length;
  const files = Array.from(data.labels, (label, n) => {
    const name = `${String(n).padStart(digits, '0')}.png`;
    return labeled ? path.join(folders.get(label)!, name) : name;
  });
  const target = path.resolve(dir);
  if (!exists) removeStaleTemporaries(path.dirname(target), path.basename(target));
  const staging = exists ? path.join(target, temporaryName(STAGING)) : path.join(path.dirname(target), temporaryName(path.basename(target)));
  const shape = { count: 1, channels: data.channels, height: data.height, width: data.width };
  const size = data.channels * data.height * data.width;
  const top = labeled ? [...folders.values()] : files; // the staging folder's entries
  let moved = 0;
  try {
    if (!exists) ensureWritableDirectory(path.dirname(target));
    fs.mkdirSync(staging);
    for (const folder of folders.values()) fs.mkdirSync(path.join(staging, folder));
    files.forEach((file, n) => {
      writeSynced(path.join(staging, file), encodePngGrid(data.images.subarray(n * size, (n + 1) * size), shape, { columns: 1 }));
    });
    for (const folder of folders.values()) syncFolderSync(path.join(staging, folder), dir);
    syncFolderSync(staging, dir);
    if (exists) {
      for (; moved < top.length; moved++) fs.renameSync(path.join(staging, top[moved]), path.join(target, top[moved]));
      fs.rmdirSync(staging);
      syncFolderSync(target, dir);
    } else {
      // rename(2) fails on a folder that was made and filled meanwhile: nothing there is lost.
      fs.renameSync(staging, target);
      syncFolderSync(path.dirname(target), dir);
    }
  } catch (error) {
    try {
      for (const entry of top.slice(0, moved)) fs.rmSync(path.join(target, entry), { recursive: true, force: true });
      fs.rmSync(staging, { recursive: true, force: true });
    } catch {
      // The error worth reporting is the first one.
    }
    throw error instanceof PixelCNNError ? error : ioError(`could not write the image folder ${dir}`, error);
  }
  return files;
}
