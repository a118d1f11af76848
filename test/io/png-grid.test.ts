/** PNG grids: decoded with pngjs, every cell's pixels sit at their grid positions, padding is black (transparent with alpha). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';

import { encodePngGrid, writePngGrid } from '../../src/io/png-grid';
import { checkGrid } from '../helpers/png-grid-check';
import { makeRng } from '../helpers/random';

const byCode = (code: string) => expect.objectContaining({ code });

describe('encodePngGrid', () => {
  const rng = makeRng(61);
  // Never 0, so that a pixel misplaced onto the padding (or padding onto an image) shows.
  const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => 1 + Math.floor(rng() * 255));

  it.each([
    [1, 5, 3, { columns: 3, padding: 2, scale: 1 }],
    [1, 7, 4, { columns: 4, padding: 1, scale: 3 }],
    [3, 5, 2, { columns: 2, padding: 3, scale: 2 }],
    [3, 4, 10, { columns: 10, padding: 0, scale: 1 }], // fewer images than columns
    [2, 5, 3, { columns: 3, padding: 2, scale: 2 }],
    [4, 3, 2, { columns: 2, padding: 1, scale: 1 }],
  ] as const)('C = %i, %i images, columns ≤ %i: every pixel in place', (C, count, _, layout) => {
    const [H, W] = [5, 6];
    const images = random(count * C * H * W);
    const bytes = encodePngGrid(images, { count, channels: C, height: H, width: W }, layout);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const png = PNG.sync.read(bytes);
    expect(png.colorType).toBe({ 1: 0, 2: 4, 3: 2, 4: 6 }[C]); // gray, gray and alpha, RGB, RGBA
    checkGrid(png, images, [count, C, H, W], { ...layout });
  });

  it('places specific pixels where expected (worked example: RGB, padding 2, scale 2)', () => {
    const [count, C, H, W] = [3, 3, 4, 5];
    const images = random(count * C * H * W);
    const png = PNG.sync.read(encodePngGrid(images, { count, channels: C, height: H, width: W }, { columns: 2, scale: 2 }));
    expect([png.width, png.height]).toEqual([2 * 10 + 2, 2 * 8 + 2]);
    // Image 2 (row 1, column 0), pixel (i=3, j=4), blue: output x = 0 + 4·2 + 1, y = 10 + 3·2 + 1.
    const at = ((10 + 7) * png.width + 9) * 4;
    expect(png.data[at + 2]).toBe(images[((2 * 3 + 2) * H + 3) * W + 4]);
    // Image 1, pixel (0, 0), red at x = 12, y = 0; the padding column x = 10 is black.
    expect(png.data[12 * 4]).toBe(images[1 * 3 * H * W]);
    expect([...png.data.subarray(10 * 4, 10 * 4 + 3)]).toEqual([0, 0, 0]);
    // The unused last cell (row 1, column 1) is black.
    const empty = ((10 + 2) * png.width + 15) * 4;
    expect([...png.data.subarray(empty, empty + 3)]).toEqual([0, 0, 0]);
  });

  it('refuses channels other than 1 to 4 and bad layouts (ERR_ARG), wrong lengths (ERR_LENGTH)', () => {
    const shape = { count: 2, channels: 1, height: 3, width: 3 };
    const images = random(18);
    expect(() => encodePngGrid(random(90), { ...shape, channels: 5 }, { columns: 2 })).toThrow(byCode('ERR_ARG'));
    expect(() => encodePngGrid(images, shape, { columns: 0 })).toThrow(byCode('ERR_ARG'));
    expect(() => encodePngGrid(images, shape, { columns: 2, scale: 1.5 })).toThrow(byCode('ERR_ARG'));
    expect(() => encodePngGrid(images, shape, { columns: 2, padding: -1 })).toThrow(byCode('ERR_ARG'));
    expect(() => encodePngGrid(images, { ...shape, count: 0 }, { columns: 2 })).toThrow(byCode('ERR_ARG'));
    expect(() => encodePngGrid(random(17), shape, { columns: 2 })).toThrow(byCode('ERR_LENGTH'));
  });
});

describe('writePngGrid', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'png-grid-test-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rng = makeRng(62);

  it('writes the same bytes as encodePngGrid, replacing an old file, leaving no temp file', () => {
    const images = Uint8Array.from({ length: 4 * 28 * 28 }, () => Math.floor(rng() * 256));
    const shape = { count: 4, channels: 1, height: 28, width: 28 };
    const file = path.join(dir, 'samples.png');
    fs.writeFileSync(file, 'old contents');
    writePngGrid(file, images, shape, { columns: 2, padding: 2, scale: 2 });
    expect(fs.readFileSync(file)).toEqual(encodePngGrid(images, shape, { columns: 2, padding: 2, scale: 2 }));
    expect(fs.readdirSync(dir)).toEqual(['samples.png']);
  });

  it('a directory that does not exist is ERR_IO naming the file', () => {
    const file = path.join(dir, 'missing', 'x.png');
    const shape = { count: 1, channels: 1, height: 2, width: 2 };
    const write = (): void => writePngGrid(file, new Uint8Array(4), shape, { columns: 1 });
    expect(write).toThrow(byCode('ERR_IO'));
    expect(write).toThrow(file);
  });
});
