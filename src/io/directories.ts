/** Output folders, made and checked before long work, so that the work is not lost at its end. */
import { accessSync, constants, mkdirSync, realpathSync, statSync } from 'node:fs';
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

/** Whether two paths name one file: their real paths (links followed) where they exist, else their absolute paths. */
export function samePath(a: string, b: string): boolean {
  const real = (file: string) => {
    try {
      return realpathSync(file);
    } catch {
      return path.resolve(file);
    }
  };
  return real(a) === real(b);
}
