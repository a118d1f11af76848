/**
 * Atomic writes: the target ends up with exactly the new content, no temporary file is
 * left behind on success or failure, and failures throw ERR_IO naming the path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic-write';
import { integers, makeRng } from '../helpers/random';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-write-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const randomBytes = (seed: number, n: number): Uint8Array => Uint8Array.from(integers(makeRng(seed), n, 256));

async function ioError(call: () => unknown): Promise<Error> {
  let thrown: unknown;
  try {
    await call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected an error').toBeInstanceOf(Error);
  expect((thrown as { code?: string }).code, (thrown as Error).message).toBe('ERR_IO');
  return thrown as Error;
}

// The same cases for both versions; the sync one is wrapped to look async.
const versions: [string, (target: string, data: Uint8Array | string) => Promise<void>][] = [
  ['writeFileAtomic', writeFileAtomic],
  ['writeFileAtomicSync', async (target, data) => writeFileAtomicSync(target, data)],
];

describe.each(versions)('%s', (_name, write) => {
  it('writes bytes and strings', async () => {
    const target = path.join(dir, 'model.safetensors');
    const bytes = randomBytes(1, 100_000);
    await write(target, bytes);
    expect(new Uint8Array(fs.readFileSync(target))).toEqual(bytes);
    const text = path.join(dir, 'notes.json');
    await write(text, '{"héllo": "wörld"}');
    expect(fs.readFileSync(text, 'utf8')).toBe('{"héllo": "wörld"}');
    expect(fs.readdirSync(dir).sort()).toEqual(['model.safetensors', 'notes.json']); // no temp files
  });

  it('writes only the bytes of a view, not its whole buffer', async () => {
    const target = path.join(dir, 'part');
    const bytes = randomBytes(2, 64);
    await write(target, bytes.subarray(10, 20));
    expect(new Uint8Array(fs.readFileSync(target))).toEqual(bytes.subarray(10, 20));
  });

  it('replaces an existing file, longer or shorter', async () => {
    const target = path.join(dir, 'ckpt');
    fs.writeFileSync(target, randomBytes(3, 5000));
    const shorter = randomBytes(4, 17);
    await write(target, shorter);
    expect(new Uint8Array(fs.readFileSync(target))).toEqual(shorter);
    const empty = new Uint8Array(0);
    await write(target, empty);
    expect(fs.readFileSync(target).length).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['ckpt']);
  });

  it('puts a new file in the old one\'s place instead of writing into it (a reader holding the old one keeps it whole)', async () => {
    const target = path.join(dir, 'replaced');
    const old = randomBytes(7, 3000);
    fs.writeFileSync(target, old);
    // A second name for the old file: a write into it in place would show through this name.
    const oldName = path.join(dir, 'old-name');
    fs.linkSync(target, oldName);
    const fresh = randomBytes(8, 2000);
    await write(target, fresh);
    expect(new Uint8Array(fs.readFileSync(oldName))).toEqual(old);
    expect(new Uint8Array(fs.readFileSync(target))).toEqual(fresh);
    expect(fs.statSync(target).ino).not.toBe(fs.statSync(oldName).ino);
  });

  it('throws ERR_IO and leaves nothing when the directory does not exist', async () => {
    const missing = path.join(dir, 'no-such-dir');
    const target = path.join(missing, 'model.safetensors');
    const error = await ioError(() => write(target, randomBytes(5, 10)));
    expect(error.message).toContain(target);
    expect(error.message).toMatch(/ENOENT/);
    expect(fs.existsSync(missing)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('throws ERR_IO and removes its temporary file when the rename fails', async () => {
    // A non-empty directory in the target's place: the temporary file is written, then
    // the rename over it fails, so this checks the clean-up after a partial write.
    const target = path.join(dir, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x');
    const error = await ioError(() => write(target, randomBytes(6, 1000)));
    expect(error.message).toContain(target);
    expect(fs.readdirSync(dir)).toEqual(['taken']);
    expect(fs.readdirSync(target)).toEqual(['inside']);
  });
});

describe('concurrent writers', () => {
  it('leave one complete version and no temporary files', async () => {
    const target = path.join(dir, 'ckpt');
    const contents = Array.from({ length: 8 }, (_, i) => randomBytes(10 + i, 50_000 + i));
    await Promise.all(contents.map((bytes) => writeFileAtomic(target, bytes)));
    const final = new Uint8Array(fs.readFileSync(target));
    expect(contents.some((bytes) => bytes.length === final.length && bytes.every((b, i) => b === final[i]))).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['ckpt']);
  });
});
