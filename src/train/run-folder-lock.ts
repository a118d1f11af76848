/**
 * One training run at a time in a folder: a second process's steps would interleave
 * with the first's in its log, and the checkpoint would be whichever run wrote last.
 * A run holds the folder's lock while it runs (the kernel drops it when its process
 * ends, however it ends). The folder's checks (a run there is refused without
 * --resume) and a resume's reading of the checkpoint come earlier, when the trainer is
 * made; so once it holds the lock, a run also checks that no other run has written a
 * checkpoint there since.
 */
import * as path from 'node:path';

import type { Backend } from '../backend/backend';
import { PixelCNNError } from '../errors';
import { statPath } from '../io/directories';

/** The file a running run holds locked in its folder (left there between runs). */
export const LOCK_FILE = '.training.lock';

/**
 * The checkpoint file as it is now (null: none). Checkpoints are written atomically, by
 * renaming a new file over the old, so every write gives another mark.
 */
export function checkpointMark(checkpointFile: string): string | null {
  const stat = statPath(checkpointFile);
  return stat ? `${stat.dev}:${stat.ino}:${stat.mtimeMs}:${stat.size}` : null;
}

/**
 * Locks `outDir` for a run whose trainer saw `checkpointFile` as `seen` (ERR_BUSY, and
 * nothing held, while another run holds the folder or after one wrote a checkpoint since).
 */
export function lockRunFolder(backend: Backend, outDir: string, checkpointFile: string, seen: string | null): { release(): void } {
  const lock = backend.lockFile(path.join(outDir, LOCK_FILE));
  if (!lock) throw busy(outDir);
  if (checkpointMark(checkpointFile) !== seen) {
    lock.release();
    throw new PixelCNNError('ERR_BUSY', `another run wrote ${checkpointFile} after this one was set up: start again from the folder as it is now (train --resume), or write to another folder`);
  }
  return lock;
}

/**
 * ERR_BUSY while another run holds `outDir` (a look before a run is set up, so that the
 * folder's other checks do not misreport a run that has not yet written a checkpoint).
 */
export function refuseFolderInUse(backend: Backend, outDir: string): void {
  const lockPath = path.join(outDir, LOCK_FILE);
  if (statPath(lockPath) === undefined) return; // no run has started there
  const lock = backend.lockFile(lockPath);
  if (!lock) throw busy(outDir);
  lock.release();
}

const busy = (outDir: string) =>
  new PixelCNNError('ERR_BUSY', `another run is training into ${outDir} now: wait for it to end, or write to another folder`);
