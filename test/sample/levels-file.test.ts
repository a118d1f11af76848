/**
 * The raw levels file and its JSON sidecar: written together, after every check, so
 * that a refused call leaves both as they were, and both flushed before either replaces
 * an earlier pair, so that a full disk leaves that pair as it was.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { resolveConfig } from '../../src/nn/config';
import { writeLevelsFile } from '../../src/sample/levels-file';
import { distModule, runWithFileSizeLimit } from '../helpers/file-size-limit';

const config = resolveConfig({ channels: 1, height: 2, width: 2, levels: 4, hidden: 4, layers: 1, headHidden: 4 });
const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-levels-'));

describe('writeLevelsFile', () => {
  it('writes the levels and a sidecar that says how to read them', () => {
    const file = path.join(dir, 'ok.u8');
    const sidecar = writeLevelsFile(file, Uint8Array.of(0, 1, 2, 3, 3, 2, 1, 0), config, { labels: [1, 0], seed: 5 });
    expect([...readFileSync(file)]).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    expect(JSON.parse(readFileSync(`${file}.json`, 'utf8'))).toEqual(sidecar);
    expect(sidecar).toMatchObject({ count: 2, levels: 4, labels: [1, 0], seed: 5, layout: 'NCHW' });
  });

  it.each([
    ['levels that are not whole images', Uint8Array.of(0, 1, 2), {}, 'ERR_LENGTH'],
    ['levels of another type', Float32Array.of(0, 1, 2, 3), {}, 'ERR_TYPE'],
    ['a level beyond K', Uint8Array.of(0, 1, 2, 9), {}, 'ERR_RANGE'],
    ['labels for another number of images', Uint8Array.of(0, 1, 2, 3), { labels: [1, 0] }, 'ERR_LENGTH'],
    ['extra fields that would replace the sidecar\'s own', Uint8Array.of(0, 1, 2, 3), { count: 99 }, 'ERR_ARG'],
    ['extra values JSON cannot hold', Uint8Array.of(0, 1, 2, 3), { seed: 1n }, 'ERR_ARG'],
  ])('refuses %s, writing nothing', (name, levels, extra, code) => {
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}.u8`);
    writeFileSync(file, 'old');
    expect(() => writeLevelsFile(file, levels as Uint8Array, config, extra as never)).toThrow(expect.objectContaining({ code }));
    expect(readFileSync(file, 'utf8')).toBe('old');
  });

  it('refuses a sidecar path that is a folder before writing the levels (ERR_IO)', () => {
    const file = path.join(dir, 'folder-sidecar.u8');
    writeFileSync(file, 'old');
    mkdirSync(`${file}.json`);
    expect(() => writeLevelsFile(file, Uint8Array.of(0, 1, 2, 3), config)).toThrow(expect.objectContaining({ code: 'ERR_IO' }));
    expect(readFileSync(file, 'utf8')).toBe('old');
  });

  it("replaces an earlier levels file, and refuses a file of the user's or its .json sibling (ERR_IO), changing neither", () => {
    const file = path.join(dir, 'results');
    writeLevelsFile(file, Uint8Array.of(0, 1, 2, 3), config);
    writeLevelsFile(file, Uint8Array.of(3, 2, 1, 0), config);
    expect([...readFileSync(file)]).toEqual([3, 2, 1, 0]);
    for (const [name, mine] of [['notes', 'notes'], ['notes.u8', 'notes.u8.json']]) {
      const target = path.join(dir, name);
      writeFileSync(path.join(dir, mine), 'mine');
      expect(() => writeLevelsFile(target, Uint8Array.of(0, 1, 2, 3), config)).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/is not a levels file/) }));
      expect(readFileSync(path.join(dir, mine), 'utf8')).toBe('mine');
    }
  });

  it.runIf(process.platform === 'linux')('leaves an earlier pair as it was when the disk has no room for the new sidecar (ERR_IO)', () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-levels-full-'));
    const file = path.join(folder, 'levels');
    writeLevelsFile(file, Uint8Array.of(0, 1, 2, 3, 3, 2, 1, 0), config, { labels: [1, 0] });
    const before = [readFileSync(file), readFileSync(`${file}.json`)];
    // 3,200 levels fit in the 4 KiB the writer may fill; their sidecar, with 800 labels, does not.
    const script = `
      const { resolveConfig } = require(${JSON.stringify(distModule('nn/config'))});
      const { writeLevelsFile } = require(${JSON.stringify(distModule('sample/levels-file'))});
      const config = resolveConfig(${JSON.stringify(config)});
      const labels = Array.from({ length: 800 }, (_, n) => n % 2);
      try { writeLevelsFile(${JSON.stringify(file)}, new Uint8Array(3200).fill(2), config, { labels }); } catch (error) { console.log(error.code, error.message); }`;
    const run = runWithFileSizeLimit(4, script);
    expect(run.stdout, run.stderr).toMatch(/^ERR_IO could not write .*levels\.json: EFBIG/);
    expect([readFileSync(file), readFileSync(`${file}.json`)]).toEqual(before);
    expect(readdirSync(folder).sort()).toEqual(['levels', 'levels.json']); // no temporaries left
  });
});
