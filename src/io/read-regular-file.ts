/**
 * Reads an input file whole, refusing anything that is not a regular file: a FIFO would
 * block the read forever, and a device such as /dev/zero would fill memory until the
 * process dies. Opened without blocking, so that a FIFO is refused rather than waited on.
 */
import * as fs from 'node:fs';

/** What a non-regular file is, for the message. */
function kindOf(stats: fs.Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The bytes of `file`; throws Node's error, or one saying what else `file` is. */
export function readRegularFile(file: string): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const stats = fs.fstatSync(fd);
    if (!stats.isFile()) throw new Error(`it is ${kindOf(stats)}, not a regular file`);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
