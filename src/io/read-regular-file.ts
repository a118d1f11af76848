/**
 * Reads an input file whole. A device such as /dev/zero would fill memory until the
 * process dies, and a folder is no file: both are refused. A pipe is read to its end
 * when the user named it (`--config <(…)`, `/dev/stdin`), but refused where it was only
 * found in a folder, where waiting on it would hang. The path is looked at (stat, which
 * opens nothing) before it is opened, and a file is opened without blocking, so that
 * nothing waits on a pipe that is not to be read.
 */
import * as fs from 'node:fs';

/** What a non-regular file is, for the message. */
function kindOf(stats: fs.Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a pipe';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

const notRegular = (stats: fs.Stats): Error => new Error(`it is ${kindOf(stats)}, not a regular file`);

/** The bytes of `file` (of a pipe too, unless `pipes` is false); throws Node's error, or one saying what else `file` is. */
export function readRegularFile(file: string, { pipes = true } = {}): Buffer {
  const stats = fs.statSync(file);
  if (stats.isFIFO() && pipes) return fs.readFileSync(file);
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
