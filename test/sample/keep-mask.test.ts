/**
 * Completion masks read from PNG files: light, opaque pixels are kept and dark or
 * transparent ones drawn, at the 128 threshold, whatever the PNG's color type; a mask
 * of another size, or a file that is no PNG, is refused with the file named.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { readKeepMask } from '../../src/sample/keep-mask';
import { writePng } from '../helpers/png-folder';
import { makeRng } from '../helpers/random';

const [height, width] = [6, 5];
const plane = height * width;

describe('readKeepMask', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keep-mask-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const rng = makeRng(17);
  let files = 0;

  /** Random planar pixels of `channels`, each plane's values spread over 0..255 and hitting 127 and 128. */
  function randomPixels(channels: number): Uint8Array {
    const pixels = Uint8Array.from({ length: channels * plane }, () => Math.floor(rng() * 256));
    pixels.set([127, 128], 0);
    return pixels;
  }

  function written(pixels: Uint8Array, channels: number, size = [height, width]): string {
    const file = path.join(dir, `mask${files++}.png`);
    writePng(file, pixels, channels, size[0], size[1]);
    return file;
  }

  it.each([
    [1, 'gray', (p: Uint8Array, i: number) => p[i] >= 128],
    [2, 'gray and alpha', (p: Uint8Array, i: number) => p[i] >= 128 && p[plane + i] >= 128],
    [3, 'RGB', (p: Uint8Array, i: number) => p[i] >= 128 && p[plane + i] >= 128 && p[2 * plane + i] >= 128],
    [4, 'RGBA', (p: Uint8Array, i: number) => [0, 1, 2, 3].every((c) => p[c * plane + i] >= 128)],
  ])('keeps the light, opaque pixels of a %i-channel (%s) mask', (channels, _, kept) => {
    const pixels = randomPixels(channels);
    const mask = readKeepMask(written(pixels, channels), { height, width });
    const expected = Array.from({ length: plane }, (__, i) => (kept(pixels, i) ? 1 : 0));
    expect([...mask]).toEqual(expected);
    expect(expected[0]).toBe(0); // 127 is dark
    if (channels === 1) expect(expected[1]).toBe(1); // 128 is light
    expect(expected).toContain(0);
    expect(expected).toContain(1);
  });

  it('refuses a file name or a size that is not one (ERR_ARG)', () => {
    const file = written(randomPixels(1), 1);
    for (const [name, size] of [[file, undefined], [file, '6x5'], [file, { height: 6 }], [file, { height: 6, width: 0 }], [42, { height, width }], ['', { height, width }]]) {
      expect(() => readKeepMask(name as string, size as never), `${String(name)} ${JSON.stringify(size)}`).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    }
  });

  it('refuses a mask of another size, a file that is no PNG, and a missing file', () => {
    const wide = written(randomPixels(1).subarray(0, 6 * 6), 1, [6, 6]);
    expect(() => readKeepMask(wide, { height, width })).toThrow(expect.objectContaining({
      code: 'ERR_DATA', message: expect.stringContaining(`the mask ${wide} is 6×6 pixels (width × height); the model's images are 5×6`),
    }));
    const text = path.join(dir, 'notes.png');
    writeFileSync(text, 'not a png at all, but long enough to be read');
    expect(() => readKeepMask(text, { height, width })).toThrow(expect.objectContaining({ code: 'ERR_DATA', message: expect.stringContaining(text) }));
    expect(() => readKeepMask(path.join(dir, 'missing.png'), { height, width })).toThrow(expect.objectContaining({ code: 'ERR_IO' }));
  });
});
