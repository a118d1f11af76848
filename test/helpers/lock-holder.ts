/** Another process holding a file's lock (Backend.lockFile through the built package), as a running train would. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const dist = path.resolve(__dirname, '..', '..', 'dist');

/** Resolves once the child holds `file`'s lock; kill it (SIGKILL too) to let the lock go. */
export async function holdLockInAnotherProcess(file: string): Promise<ChildProcess> {
  const holder = spawn(process.execPath, ['-e', `
    const lock = require(${JSON.stringify(dist)}).loadBackend('cpu').lockFile(${JSON.stringify(file)});
    console.log(lock ? 'locked' : 'busy');
    setInterval(() => {}, 1000);`]);
  const said = await new Promise<string>((resolve) => holder.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
  if (said !== 'locked') {
    holder.kill('SIGKILL');
    throw new Error(`the holder process could not lock ${file}: ${said}`);
  }
  return holder;
}
