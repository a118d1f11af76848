/** Output folders, checked before long work, so that the work is not lost at its end, and made when written. */
import { accessSync, constants, mkdirSync, realpathSync, rmSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';

/** The longest file name most file systems take, in bytes. */
const NAME_MAX = 255;
/** What the atomic writer's temporary name adds to a name: a dot, the pid, 12 hex digits, dots and ".tmp". */
const TEMP_NAME_EXTRA = 40;

/** stat() of a path, undefined where nothing is there; any other failure (a link loop, a name too long) is ERR_IO. */
export function statPath(file: string): Stats | undefined {
  try {
    return statSync(file, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined; // a file where a folder would be: nothing there
    throw new PixelCNNError('ERR_IO', `cannot use ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Removes an earlier run's file that a new run replaces (nothing if none is there); a failure is ERR_IO. */
export function removeEarlierRunFile(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `could not remove ${file}, an earlier run's: ${(error as Error).message}`, { cause: error });
  }
}

/** Refuses (ERR_IO) a name too long for a temporary name beside it, as atomic writes make, which would fail only after the work. */
export function checkNameLength(file: string): void {
  if (Buffer.byteLength(path.basename(path.resolve(file))) + TEMP_NAME_EXTRA > NAME_MAX) {
    throw new PixelCNNError('ERR_IO', `cannot write ${file}: its name is longer than ${NAME_MAX - TEMP_NAME_EXTRA} bytes`);
  }
}

/** The deepest of `dir` and its ancestors that exists (stats undefined if none does), and the missing ones below it, top down. */
function deepestExisting(dir: string): { existing: string; stats: Stats | undefined; missing: string[] } {
  const missing: string[] = [];
  let existing = path.resolve(dir);
  let stats = statPath(existing);
  for (; !stats && path.dirname(existing) !== existing; existing = path.dirname(existing), stats = statPath(existing)) {
    missing.unshift(existing);
  }
  return { existing, stats, missing };
}

/**
 * mkdir -p, one level at a time from the deepest existing folder down. (Node 20's
 * mkdirSync(dir, { recursive: true }) spins forever where mkdir fails with ENOENT on
 * an existing parent, as under /proc.)
 */
function makeFolders(dir: string): void {
  const { existing, stats, missing } = deepestExisting(dir);
  if (stats && !stats.isDirectory()) throw new Error(`${existing} is not a folder`);
  for (const folder of missing) {
    try {
      mkdirSync(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // made meanwhile: fine
    }
  }
}

/** Creates `dir` (and its parents) if needed and checks that files can be written in it; ERR_IO if not. */
export function ensureWritableDirectory(dir: string): void {
  try {
    makeFolders(dir);
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `cannot write into ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * ERR_IO unless files can be written in `dir` once it is made: its deepest existing
 * ancestor (itself, if it exists) is a folder we may write in. Creates nothing, so that a
 * check before work that then fails leaves no empty folders behind.
 */
export function checkCanWriteInto(dir: string): void {
  const { existing, stats } = deepestExisting(dir);
  if (!stats?.isDirectory()) throw new PixelCNNError('ERR_IO', `cannot write into ${dir}: ${existing} is not a folder`);
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `cannot write into ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Checks, creating nothing, that `file` can be written: its folder can be written in
 * (checkCanWriteInto), the file is not a folder, and its name is short enough for the
 * atomic writer's temporary name beside it; ERR_IO if not. The writer then makes the
 * folder (ensureFolderOf).
 */
export function checkWritableFile(file: string): void {
  checkNameLength(file);
  checkCanWriteInto(path.dirname(file));
  if (statPath(file)?.isDirectory()) throw new PixelCNNError('ERR_IO', `cannot write ${file}: it is a folder`);
}

/** Makes the folder `file` goes in, if missing (ensureWritableDirectory). */
export function ensureFolderOf(file: string): void {
  ensureWritableDirectory(path.dirname(file));
}

/** A path with links followed as far as it exists: the real path of its deepest existing folder, then the rest. */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    const parent = path.dirname(path.resolve(file));
    return parent === path.resolve(file) ? parent : path.join(realPath(parent), path.basename(file));
  }
}

/** Whether two paths name one file, links followed. */
export function samePath(a: string, b: string): boolean {
  return realPath(a) === realPath(b);
}

/** Whether `file` (which may not exist yet) lies inside the folder `dir`, at any depth, links followed. */
export function liesInside(file: string, dir: string): boolean {
  return realPath(file).startsWith(realPath(dir) + path.sep);
}

/**
 * Refuses (ERR_ARG, naming both) an output that would overwrite an input: the same file
 * (links followed), or a file inside an input folder. Checked before any work, and before
 * any output folder is made, so that a mistyped flag loses nothing.
 */
export function checkOutputsSpareInputs(outputs: readonly string[], inputs: readonly string[]): void {
  for (const output of outputs) {
    for (const input of inputs) {
      const isFolder = statPath(input)?.isDirectory() ?? false;
      if (isFolder ? liesInside(output, input) : samePath(output, input)) {
        throw new PixelCNNError('ERR_ARG', isFolder
          ? `${output} would be written into the input folder ${input} (outputs stay out of the data)`
          : `${output} would overwrite the input ${input}`);
      }
    }
  }
}
