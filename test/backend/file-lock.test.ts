/**
 * Backend.lockFile: an exclusive lock that a second holder in the same process cannot
 * take (flock locks each open of the file), free again once released, and an I/O error
 * with a code where the file cannot be made. (test/train/trainer.test.ts checks it across
 * processes, a killed holder included.)
 */
import { mkdtempSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';

import { cpu } from '../helpers/backend';

it('holds a file for one holder at a time, until it is released', () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpcnn-lock-')), 'lock');
  const first = cpu.lockFile(file);
  expect(first).not.toBeNull();
  expect(cpu.lockFile(file)).toBeNull();
  first!.release();
  first!.release(); // a second release changes nothing
  const second = cpu.lockFile(file);
  expect(second).not.toBeNull();
  expect(cpu.lockFile(file)).toBeNull();
  second!.release();
});

it('makes the lock file as the run\'s other files are made (0666 less the umask), so that whoever may resume a run may lock it', () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpcnn-lock-mode-')), 'lock');
  const umask = process.umask(0o002);
  try {
    cpu.lockFile(file)!.release();
  } finally {
    process.umask(umask);
  }
  expect(statSync(file).mode & 0o777).toBe(0o664);
});

it('refuses a file it cannot create with ERR_IO, naming it', () => {
  const file = path.join(os.tmpdir(), 'gpcnn-no-such-folder', 'lock');
  expect(() => cpu.lockFile(file)).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringContaining(file) }));
});
