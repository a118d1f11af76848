/**
 * A process whose writes stop partway, as on a full disk: under `ulimit -f` a write past
 * the limit writes what fits and the next one fails with EFBIG (Node ignores SIGXFSZ).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** A built module of the package (dist/), for `require` in such a process. */
export const distModule = (name: string): string => path.resolve(__dirname, '..', '..', 'dist', `${name}.js`);

/** Runs the CommonJS `script` in Node, writing files of at most `kib` KiB; its status and output. */
export function runWithFileSizeLimit(kib: number, script: string) {
  return spawnSync('bash', ['-c', `ulimit -f ${kib} && exec "$0" -e "$1"`, process.execPath, script], { encoding: 'utf8' });
}
