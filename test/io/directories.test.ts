/**
 * Output folders: checkCanWriteInto checks, creating nothing; ensureWritableDirectory
 * makes the missing levels, and fails with ERR_IO, never hanging, where it cannot
 * (Node 20's recursive mkdirSync spins forever under /proc).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { checkCanWriteInto, ensureWritableDirectory } from '../../src/io/directories';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'directories-'));
const file = path.join(root, 'a-file');
fs.writeFileSync(file, 'x');

describe('output folders', () => {
  it('checkCanWriteInto accepts a folder to be made under a writable one, creating nothing, and refuses one under a file', () => {
    checkCanWriteInto(path.join(root, 'new', 'deeper'));
    checkCanWriteInto(root);
    expect(fs.readdirSync(root)).toEqual(['a-file']);
    expect(() => checkCanWriteInto(path.join(file, 'sub'))).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/a-file is not a folder/) }));
  });

  it.runIf(fs.existsSync('/proc/self'))('checkCanWriteInto refuses a folder no one may write in, root included', () => {
    // Permissions of a folder of our own would not stop root; /proc/self refuses every writer.
    expect(() => checkCanWriteInto('/proc/self/new')).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/cannot write into \/proc\/self\/new/) }));
  });

  it('ensureWritableDirectory makes every missing level, accepts an existing folder, and refuses one under a file', () => {
    const deep = path.join(root, 'made', 'b', 'c');
    ensureWritableDirectory(deep);
    ensureWritableDirectory(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    for (const bad of [file, path.join(file, 'sub')]) {
      expect(() => ensureWritableDirectory(bad)).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/a-file is not a folder/) }));
    }
  });

  it.runIf(fs.existsSync('/proc/self'))('ensureWritableDirectory fails at once under /proc, where no folder can be made', () => {
    expect(() => ensureWritableDirectory('/proc/no-such/folder')).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/cannot write into \/proc\/no-such\/folder/) }));
  });
});
