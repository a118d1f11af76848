/**
 * Names for the temporary files and staging folders that atomic writes put beside their
 * targets: `.<name>.<pid>.<6 hex digits of where>-<6 random ones>.tmp`, hidden from plain
 * listings. A process killed outright (SIGKILL, a power cut) leaves its temporaries
 * behind; the next write of the same name removes those whose process is gone, so they
 * neither pile up nor make an empty output folder look used.
 *
 * A process id means something only on its machine and in its PID namespace (a folder
 * may be shared by containers, or over NFS), so the name also carries a digest of both,
 * and only temporaries made where we run are judged by their process id.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where this process runs: its host name and PID namespace, as 6 hex digits. */
const WHERE = (() => {
  let namespace = '';
  try {
    namespace = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    // No /proc (macOS, Windows): the host name alone.
  }
  return createHash('sha256').update(`${os.hostname()}\0${namespace}`).digest('hex').slice(0, 6);
})();

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A fresh temporary name for `name`, unique to this process and call. */
export function temporaryName(name: string): string {
  return `.${name}.${process.pid}.${WHERE}-${randomBytes(3).toString('hex')}.tmp`;
}

/** Whether a process with this id runs on this machine (EPERM: it runs as another user). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes, from `folder`, the temporaries for `name` made on this machine and in this
 * PID namespace by processes that no longer run. Best effort: a temporary that cannot be
 * listed or removed stays, and nothing here fails the write that asked.
 */
export function removeStaleTemporaries(folder: string, name: string): void {
  const pattern = new RegExp(`^\\.${escapeRegExp(name)}\\.(\\d+)\\.${WHERE}-[0-9a-f]{6}\\.tmp$`);
  let entries: string[];
  try {
    entries = fs.readdirSync(folder);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(pattern.exec(entry)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || processRuns(pid)) continue;
    try {
      fs.rmSync(path.join(folder, entry), { recursive: true, force: true });
    } catch {
      // Left for a later write, or for the user.
    }
  }
}
