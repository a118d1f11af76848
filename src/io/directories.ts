/** Output folders, made and checked before long work, so that the work is not lost at its end. */
import { accessSync, constants, existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';

/** Creates `dir` (and its parents) if needed and checks that files can be written in it; ERR_IO if not. */
export function ensureWritableDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `cannot write into ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

/** ensureWritableDirectory for the file's folder, and the file, if it exists, not a folder; ERR_IO if not. */
export function checkWritableFile(file: string): void {
  ensureWritableDirectory(path.dirname(file));
  const stats = statSync(file, { throwIfNoEntry: false });
  if (stats?.isDirectory()) throw new PixelCNNError('ERR_IO', `cannot write ${file}: it is a folder`);
}

/** A path with links followed where it exists, else made absolute. */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/** Whether two paths name one file: their real paths (links followed) where they exist, else their absolute paths. */
export function samePath(a: string, b: string): boolean {
  return realPath(a) === realPath(b);
}

/** Whether `file` (which may not exist yet) lies inside the folder `dir`, at any depth. */
function liesInside(file: string, dir: string): boolean {
  const where = existsSync(file) ? realPath(file) : path.join(realPath(path.dirname(file)), path.basename(file));
  return where.startsWith(realPath(dir) + path.sep);
}

/**
 * Refuses (ERR_ARG, naming both) an output that would overwrite an input: the same file
 * (links followed), or a file inside an input folder. Checked before any work, so that
 * a mistyped flag loses nothing.
 */
export function checkOutputsSpareInputs(outputs: readonly string[], inputs: readonly string[]): void {
  for (const output of outputs) {
    for (const input of inputs) {
      const isFolder = statSync(input, { throwIfNoEntry: false })?.isDirectory() ?? false;
      if (isFolder ? liesInside(output, input) : samePath(output, input)) {
        throw new PixelCNNError('ERR_ARG', `${output} would overwrite ${isFolder ? 'a file in ' : ''}the input ${input}`);
      }
    }
  }
}
