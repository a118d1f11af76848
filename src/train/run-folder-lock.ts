/**
 * One training run at a time in a folder: a second process's steps would interleave
 * with the first's in its log, and the checkpoint would be whichever run wrote last.
 * The folder's checks (a run there is refused without --resume) come before any run
 * starts, so two runs started together pass them both; this lock, held while a run
 * runs, stops the second. The kernel drops it when its process ends, however it ends.
 */
import * as path from 'node:path';

import type { Backend } from '../backend/backend';
import { PixelCNNError } from '../errors';

/** The file a running run holds locked in its folder (left there between runs). */
export const LOCK_FILE = '.training.lock';

export function lockRunFolder(backend: Backend, outDir: string): { release(): void } {
  const lock = backend.lockFile(path.join(outDir, LOCK_FILE));
  if (!lock) {
    throw new PixelCNNError('ERR_BUSY', `another run is training into ${outDir} now: wait for it to end, or write to another folder`);
  }
  return lock;
}
