/**
 * Reads an input file whole. A device such as /dev/zero would fill memory until the
 * process dies, and a folder is no file: both are refused. A pipe is read to its end
 * when the user named it (`--config <(…)`, `/dev/stdin`), but refused where it was only
 * found in a folder, where waiting on it would hang. The path is looked at (stat, which
 * opens nothing) before it is opened, and a file is opened without blocking, so that
 * nothing waits on a pipe that is not to be read. A pipe is read up to a limit (no
 * larger than a regular file Node reads whole), so that one that never ends
 * (`<(cat /dev/zero)`) fails instead of filling memory.
 */
import * as fs from 'node:fs';

/** The most bytes read from a pipe by default: as many as Node reads of a regular file (2 GiB − 1). */
export const PIPE_LIMIT = 2 ** 31 - 1;

/** What a non-regular file is, for the message. */
function kindOf(stats: fs.Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a pipe';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

const notRegular = (stats: fs.Stats): Error => new Error(`it is ${kindOf(stats)}, not a regular file`);

/**
 * The bytes of `file` (of a pipe too, unless `pipes` is false, up to `pipeLimit` bytes);
 * throws Node's error, or one saying what else `file` is or that the pipe gave more.
 */
export function readRegularFile(file: string, { pipes = true, pipeLimit = PIPE_LIMIT } = {}): Buffer {
  const stats = fs.statSync(file);
  if (stats.isFIFO() && pipes) return readPipe(file, pipeLimit);
  if (!stats.isFile()) throw notRegular(stats);
  // Opened without blocking and checked again: the name may have been replaced meanwhile.
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) throw notRegular(opened);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a pipe to its end, or throws once it has given more than `limit` bytes. */
function readPipe(file: string, limit: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit - total + 1));
      const read = fs.readSync(fd, chunk);
      if (read === 0) return Buffer.concat(chunks, total);
      total += read;
      if (total > limit) throw new Error(`it is a pipe that gave more than ${limit} bytes, more than this input may hold`);
      chunks.push(chunk.subarray(0, read));
    }
  } finally {
    fs.closeSync(fd);
  }
}
