/**
 * Atomic file writes, for checkpoints and anything else a crash must not corrupt.
 *
 * Writing a file in place leaves a torn file if the process dies or the machine loses
 * power halfway, and a torn checkpoint loses the whole run. Instead the data goes to a
 * temporary file in the same directory (so that the rename stays on one file system),
 * is flushed to disk, and is renamed over the target, which POSIX makes atomic:
 * readers see the old file or the new one, never a mix. Syncing the directory
 * afterwards makes the rename itself durable. On failure the temporary file is
 * removed and PixelCNNError('ERR_IO') names the path; one that a killed process left
 * behind is removed by the next write of the same target (temporary-names.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { PixelCNNError } from '../errors';
import { removeStaleTemporaries, temporaryName } from './temporary-names';

/** A fresh name beside the target, after clearing those that killed writers left there. */
function tempPathFor(target: string): string {
  removeStaleTemporaries(path.dirname(target), path.basename(target));
  return path.join(path.dirname(target), temporaryName(path.basename(target)));
}

/**
 * Errors from fsync of a directory that only mean "not supported here" (Windows
 * cannot open a directory; some file systems refuse to sync one). Anything else is
 * a real failure.
 */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EBADF']);

const ioError = (target: string, error: unknown): PixelCNNError =>
  new PixelCNNError('ERR_IO', `could not write ${target}: ${(error as Error).message}`, { cause: error });

/** After the rename the new file is in place, but a crash could still undo it. */
const dirSyncError = (target: string, error: unknown): PixelCNNError =>
  new PixelCNNError('ERR_IO', `wrote ${target} but could not sync its directory: ${(error as Error).message}`, {
    cause: error,
  });

const isUnsupported = (error: unknown): boolean =>
  DIR_SYNC_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '');

/** Writes `data` to `target` atomically: all of it or, on any failure, nothing (and throws ERR_IO). */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const temp = tempPathFor(target);
  let created = false;
  try {
    // 'wx': never reuse an existing file, however unlikely the name clash.
    const handle = await fs.promises.open(temp, 'wx');
    created = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temp, target);
    created = false;
  } catch (error) {
    if (created) await fs.promises.rm(temp, { force: true }).catch(() => undefined);
    throw ioError(target, error);
  }
  await syncDirectory(target);
}

/** The synchronous twin of writeFileAtomic. */
export function writeFileAtomicSync(target: string, data: Uint8Array | string): void {
  writeFilesAtomicSync([[target, data]]);
}

/**
 * Writes files that belong together (a levels file and its sidecar) as writeFileAtomicSync
 * does each, but every file's data is written and flushed before any is renamed into
 * place: a write that fails (a full disk) leaves all the old files as they were.
 */
export function writeFilesAtomicSync(files: readonly (readonly [target: string, data: Uint8Array | string])[]): void {
  const temps: string[] = [];
  try {
    for (const [target, data] of files) temps.push(writeTemporarySync(target, data));
  } catch (error) {
    temps.forEach(removeQuietly);
    throw error;
  }
  files.forEach(([target], i) => {
    try {
      fs.renameSync(temps[i], target);
    } catch (error) {
      temps.slice(i).forEach(removeQuietly);
      throw ioError(target, error);
    }
  });
  for (const [target] of files) syncDirectorySync(target);
}

/** A flushed temporary beside `target` holding `data`; on failure none is left, and ERR_IO names `target`. */
function writeTemporarySync(target: string, data: Uint8Array | string): string {
  const temp = tempPathFor(target);
  let created = false;
  try {
    const fd = fs.openSync(temp, 'wx');
    created = true;
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return temp;
  } catch (error) {
    if (created) removeQuietly(temp);
    throw ioError(target, error);
  }
}

/** Removes a temporary after a failure, whose error is the one worth reporting. */
function removeQuietly(temp: string): void {
  try {
    fs.rmSync(temp, { force: true });
  } catch {
    // Left for the next write of its target to clear (temporary-names.ts).
  }
}

async function syncDirectory(target: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(path.dirname(target), 'r');
    await handle.sync();
  } catch (error) {
    if (!isUnsupported(error)) throw dirSyncError(target, error);
  } finally {
    await handle?.close();
  }
}

function syncDirectorySync(target: string): void {
  syncFolderSync(path.dirname(target), target);
}

/** Makes the entries of `folder` durable, where the file system can (after `wrote` was written into it). */
export function syncFolderSync(folder: string, wrote: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, 'r');
    fs.fsyncSync(fd);
  } catch (error) {
    if (!isUnsupported(error)) throw dirSyncError(wrote, error);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
