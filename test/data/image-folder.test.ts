/**
 * Image folder datasets: random images written as PNG files come back exactly, labeled by
 * class folder, in name order, in the channels they need; what would be lost or left out
 * is refused with the file named.
 */
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

import type { ImageDataset } from '../../src/data/dataset';
import { loadImageFolder } from '../../src/data/image-folder';
import { adam7Gray8, gray16Png, pngChunk, rawPng, writePng, writePngFolder } from '../helpers/png-folder';
import { makeRng } from '../helpers/random';

const byCode = (code: string) => expect.objectContaining({ code });

describe('loadImageFolder', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'image-folder-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const rng = makeRng(83);
  let folders = 0;
  const freshDir = () => path.join(root, `set${folders++}`);

  /** `count` random images of `channels` (1–4) with labels cycling through `classes` (none when 0). */
  function randomSet(count: number, channels: number, classes: number, [height, width] = [5, 7]): ImageDataset {
    const plane = height * width;
    const images = new Uint8Array(count * channels * plane);
    for (let n = 0; n < count; n++)
      for (let c = 0; c < channels; c++)
        for (let i = 0; i < plane; i++) images[(n * channels + c) * plane + i] = Math.floor(rng() * 256);
    const labels = Int32Array.from({ length: count }, (_, n) => (classes ? n % classes : -1));
    return { images, labels, count, channels, height, width, classes };
  }

  /** The images of `data` with the given labels, in the order the folder lists them. */
  function imagesOf(data: ImageDataset, order: number[]): Uint8Array {
    const size = data.channels * data.height * data.width;
    return Uint8Array.from(order.flatMap((n) => [...data.images.subarray(n * size, (n + 1) * size)]));
  }

  it('reads class folders as labels, in name order, every pixel exact', () => {
    const data = randomSet(9, 1, 3);
    // Folders named out of order: labels follow names, not the order written.
    const dir = writePngFolder(freshDir(), data, ['zebra', 'ant', 'cat']);
    const ds = loadImageFolder(dir);
    expect([ds.count, ds.channels, ds.height, ds.width, ds.classes]).toEqual([9, 1, 5, 7, 3]);
    expect(ds.classNames).toEqual(['ant', 'cat', 'zebra']);
    // Written labels 0 zebra, 1 ant, 2 cat; read ant (images 1, 4, 7), cat (2, 5, 8), zebra (0, 3, 6).
    expect([...ds.labels]).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(ds.images).toEqual(imagesOf(data, [1, 4, 7, 2, 5, 8, 0, 3, 6]));
    expect(ds.imageNames).toEqual(['ant', 'cat', 'zebra'].flatMap((c) => [0, 1, 2].map((k) => path.join(c, `img${k}.png`))));
  });

  it('orders folders and files as torchvision does: by code point (Zebra before apple, img10 before img2)', () => {
    const names = ['apple', 'class2', 'Zebra', 'class10'];
    const data = randomSet(48, 3, 4);
    const dir = writePngFolder(freshDir(), data, names);
    const ds = loadImageFolder(dir);
    expect(ds.classNames).toEqual(['Zebra', 'apple', 'class10', 'class2']);
    // Each folder holds img0 … img11 (its images in dataset order): read 0, 1, 10, 11, 2, …, 9.
    const fileOrder = [0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9];
    const order = [2, 0, 3, 1].flatMap((written) => fileOrder.map((k) => written + 4 * k));
    expect(ds.images).toEqual(imagesOf(data, order));
    expect([...ds.labels]).toEqual(order.map((n) => [1, 3, 0, 2][data.labels[n]]));
  });

  it('matches class folders by their NFC form (a folder copied through a file system that decomposes names)', () => {
    const data = randomSet(2, 1, 2);
    const dir = writePngFolder(freshDir(), data, ['cafe\u0301', 'tea']); // "café" decomposed
    const ds = loadImageFolder(dir, { classNames: ['caf\u00e9', 'tea'] });
    expect([...ds.labels]).toEqual([0, 1]);
    expect(loadImageFolder(dir).classNames).toEqual(['caf\u00e9', 'tea']);
  });

  it('reads a folder of gray and color images, some transparent, as RGBA without loss', () => {
    const plane = 5 * 7;
    const [gray, color, grayAlpha] = [randomSet(1, 1, 0), randomSet(1, 3, 0), randomSet(1, 2, 0)];
    const dir = freshDir();
    mkdirSync(dir);
    writePng(path.join(dir, 'a.png'), gray.images, 1, 5, 7);
    writePng(path.join(dir, 'b.png'), color.images, 3, 5, 7);
    writePng(path.join(dir, 'c.png'), grayAlpha.images, 2, 5, 7);
    const ds = loadImageFolder(dir);
    expect(ds.channels).toBe(4);
    const g = [...gray.images];
    const ga = [...grayAlpha.images];
    const opaque = Array<number>(plane).fill(255);
    expect([...ds.images]).toEqual([
      ...g, ...g, ...g, ...opaque,
      ...color.images, ...opaque,
      ...ga.slice(0, plane), ...ga.slice(0, plane), ...ga.slice(0, plane), ...ga.slice(plane),
    ]);
  });

  it.each([
    [1, 'gray'],
    [2, 'gray and alpha'],
    [3, 'RGB'],
    [4, 'RGBA'],
  ])('finds %i channel(s) (%s) from what the pixels hold', (channels) => {
    const data = randomSet(4, channels, 0);
    const ds = loadImageFolder(writePngFolder(freshDir(), data));
    expect(ds.channels).toBe(channels);
    expect(ds.images).toEqual(data.images);
  });

  it('reads 16-bit PNGs at 8 bits, rounded', () => {
    const values = Uint16Array.from({ length: 5 * 7 }, () => Math.floor(rng() * 65536));
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'deep.png'), gray16Png(7, 5, values));
    expect(loadImageFolder(dir)).toMatchObject({ channels: 1, height: 5, width: 7, images: Uint8Array.from(values, (v) => Math.round((v * 255) / 65535)) });
  });

  it('reads color files that hold only gray pixels as gray', () => {
    const data = randomSet(2, 1, 0);
    const dir = freshDir();
    mkdirSync(dir);
    const plane = data.height * data.width;
    for (let n = 0; n < 2; n++) {
      const gray = data.images.subarray(n * plane, (n + 1) * plane);
      writePng(path.join(dir, `${n}.png`), Uint8Array.from([...gray, ...gray, ...gray]), 3, data.height, data.width);
    }
    expect(loadImageFolder(dir)).toMatchObject({ channels: 1, images: data.images });
  });

  it('reads images into more channels without loss when asked (gray to RGB, opaque to alpha)', () => {
    const data = randomSet(3, 1, 0);
    const dir = writePngFolder(freshDir(), data);
    const plane = data.height * data.width;
    const rgba = loadImageFolder(dir, { channels: 4 });
    expect(rgba.channels).toBe(4);
    for (let n = 0; n < 3; n++) {
      const gray = [...data.images.subarray(n * plane, (n + 1) * plane)];
      expect([...rgba.images.subarray(n * 4 * plane, (n + 1) * 4 * plane)]).toEqual([...gray, ...gray, ...gray, ...Array(plane).fill(255)]);
    }
  });

  it('refuses channels that would lose color or transparency, naming the file', () => {
    const color = writePngFolder(freshDir(), randomSet(2, 3, 0));
    expect(() => loadImageFolder(color, { channels: 1 })).toThrow(byCode('ERR_DATA'));
    expect(() => loadImageFolder(color, { channels: 2 })).toThrow(/img0\.png has color, which 2 channels \(gray and alpha\) cannot hold/);
    const transparent = writePngFolder(freshDir(), randomSet(2, 2, 0));
    expect(() => loadImageFolder(transparent, { channels: 3 })).toThrow(/img0\.png has transparent pixels, which 3 channels \(RGB\) cannot hold/);
    expect(() => loadImageFolder(transparent, { channels: 5 })).toThrow(byCode('ERR_ARG'));
  });

  it('labels class folders by the names given (a test split by its training split), and refuses unknown ones', () => {
    const data = randomSet(4, 1, 2);
    const dir = writePngFolder(freshDir(), data, ['dog', 'fox']);
    const ds = loadImageFolder(dir, { classNames: ['cat', 'dog', 'fox'] });
    expect([ds.classes, ds.classNames, [...ds.labels]]).toEqual([3, ['cat', 'dog', 'fox'], [1, 1, 2, 2]]);
    expect(() => loadImageFolder(dir, { classNames: ['cat', 'dog'] })).toThrow(/the class folder "fox" is none of the classes "cat", "dog"/);
    expect(() => loadImageFolder(dir, { classNames: ['cat', 'cat'] })).toThrow(byCode('ERR_ARG'));
  });

  it('refuses images of another size than asked for before matching class folders, and a size given by half', () => {
    const data = randomSet(4, 1, 2);
    const dir = writePngFolder(freshDir(), data, ['dog', 'fox']);
    const { height, width } = data;
    expect(loadImageFolder(dir, { classNames: ['dog', 'fox'], height, width }).count).toBe(4);
    expect(() => loadImageFolder(dir, { classNames: ['cat'], height: height + 1, width }))
      .toThrow(expect.objectContaining({ code: 'ERR_DATA', message: expect.stringMatching(new RegExp(`is ${width}×${height} pixels, and the images must be ${width}×${height + 1}`)) }));
    expect(() => loadImageFolder(dir, { height })).toThrow(byCode('ERR_ARG'));
  });

  /** A folder holding `files` (name → contents; a name ending in / is a folder). */
  function folderWith(files: Record<string, Uint8Array | string | null>): string {
    const dir = freshDir();
    mkdirSync(dir);
    for (const [name, contents] of Object.entries(files)) {
      if (name.endsWith('/')) mkdirSync(path.join(dir, name), { recursive: true });
      else if (contents instanceof Uint8Array) writePng(path.join(dir, name), contents, 1, 2, 2);
      else writeFileSync(path.join(dir, name), contents ?? '');
    }
    return dir;
  }
  const pixels = () => Uint8Array.from({ length: 4 }, () => Math.floor(rng() * 256));

  it('skips hidden files', () => {
    const dir = folderWith({ 'a.png': pixels(), '.DS_Store': 'x', '.thumbs/': null });
    expect(loadImageFolder(dir).count).toBe(1);
  });

  it.each([
    ['PNG files beside folders', { 'a.png': pixels(), 'cats/': null }, /holds both PNG files and folders \(cats\)/],
    ['nothing', {}, /holds no PNG images/],
    ['a file that is not a PNG', { 'a.png': pixels(), 'b.jpg': 'jpeg', 'notes.txt': '' }, /only PNG images are read, but it holds b\.jpg, notes\.txt/],
    ['a corrupt PNG', { 'a.png': pixels(), 'b.png': 'not a png' }, /b\.png is not a readable PNG/],
    ['a class folder of folders', { 'cats/': null, 'cats/inner/': null }, /cats holds folders \(inner\): a class folder holds PNG images only/],
    ['an empty class folder', { 'cats/': null }, /the class folder .*cats holds no PNG images/],
  ] as const)('refuses %s (ERR_DATA)', (_, files, message) => {
    const dir = folderWith(files as Record<string, Uint8Array | string | null>);
    expect(() => loadImageFolder(dir)).toThrow(byCode('ERR_DATA'));
    expect(() => loadImageFolder(dir)).toThrow(message);
  });

  it('refuses a PNG cut short, saying so (ERR_DATA)', () => {
    const dir = folderWith({ 'a.png': pixels(), 'b.png': pixels() });
    truncateSync(path.join(dir, 'b.png'), 50); // inside its image data
    expect(() => loadImageFolder(dir)).toThrow(byCode('ERR_DATA'));
    expect(() => loadImageFolder(dir)).toThrow(/b\.png is not a readable PNG: it ends early, in its IDAT chunk$/);
  });

  /** A folder holding `png` as a.png. */
  const folderOf = (png: Buffer) => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a.png'), png);
    return dir;
  };
  const grayRows = (rows: number) => Array.from({ length: rows }, () => Buffer.from(Array.from({ length: 8 }, () => Math.floor(rng() * 256))));
  const gray8 = { width: 8, height: 8, bitDepth: 8, colorType: 0 };

  it.each([
    // Whole chunks and checksums, but too little image data: pngjs read the missing pixels as 0.
    ['image data for half its rows', rawPng({ ...gray8, rows: grayRows(4) }), /its image data ends early: 36 of the 72 bytes its size needs/],
    ['image data one byte short', rawPng({ ...gray8, idat: zlib.deflateSync(Buffer.concat(grayRows(8).map((row) => Buffer.concat([Buffer.from([0]), row]))).subarray(0, 71)) }), /ends early: 71 of the 72 bytes/],
    ['no image data at all', rawPng({ ...gray8, idat: zlib.deflateSync(Buffer.alloc(0)) }), /ends early: 0 of the 72 bytes/],
    ['a compressed stream cut short', rawPng({ ...gray8, idat: zlib.deflateSync(Buffer.alloc(72)).subarray(0, 6) }), /its image data does not inflate \(unexpected end of file\)/],
    ['image data that is not a compressed stream', rawPng({ ...gray8, idat: Buffer.alloc(40, 0x55) }), /its image data does not inflate/],
    ['a damaged chunk', (() => {
      const png = rawPng({ ...gray8, rows: grayRows(8) });
      png[png.length - 20] ^= 0x10; // a byte of IDAT's data
      return png;
    })(), /its IDAT chunk's checksum \(CRC\) is wrong: the file is damaged/],
    ['more image data than its size needs (pngjs refuses it)', rawPng({ ...gray8, idat: zlib.deflateSync(Buffer.alloc(73)) }), /its image data holds more than the 72 bytes its size needs/],
    ['far more image data than its size needs', rawPng({ ...gray8, idat: zlib.deflateSync(Buffer.alloc(100_000)) }), /its image data holds more than the 72 bytes its size needs/],
    ['a colour key of the wrong length', rawPng({ ...gray8, rows: grayRows(8), before: [pngChunk('tRNS', Buffer.alloc(4))] }), /its tRNS chunk is 4 bytes long; a gray image's is 2/],
    ['a damaged colour key (an ancillary chunk pngjs reads)', (() => {
      const key = pngChunk('tRNS', Buffer.from([0, 9]));
      key[9] ^= 1; // its value, not its CRC
      return rawPng({ ...gray8, rows: grayRows(8), before: [key] });
    })(), /its tRNS chunk's checksum \(CRC\) is wrong/],
    ['RGB at 4 bits a sample', rawPng({ width: 2, height: 1, bitDepth: 4, colorType: 2, rows: [Buffer.alloc(3)] }), /an RGB image cannot have 4 bits a sample \(PNG allows 8, 16\)/],
    ['a palette at 16 bits a sample', rawPng({ width: 1, height: 1, bitDepth: 16, colorType: 3, rows: [Buffer.alloc(2)] }), /a palette image cannot have 16 bits a sample/],
    ['no pixels', rawPng({ ...gray8, width: 0, rows: [] }), /a\.png declares 0×8 pixels: a PNG has at least one/],
  ])('refuses a PNG with %s, naming it (ERR_DATA)', (_, png, message) => {
    const dir = folderOf(png);
    expect(() => loadImageFolder(dir)).toThrow(byCode('ERR_DATA'));
    expect(() => loadImageFolder(dir)).toThrow(message);
    expect(() => loadImageFolder(dir)).toThrow(/a\.png/);
  });

  it.each([[1, 1], [5, 3], [9, 10], [16, 2]])('reads an interlaced (Adam7) %i×%i PNG, every pixel exact', (width, height) => {
    const pixels = Uint8Array.from({ length: width * height }, () => Math.floor(rng() * 256));
    const png = rawPng({ width, height, bitDepth: 8, colorType: 0, interlaced: true, idat: adam7Gray8(width, height, pixels) });
    expect(loadImageFolder(folderOf(png))).toMatchObject({ channels: 1, height, width, images: pixels });
  });

  it('reads a PNG whose ancillary chunk that nothing reads is damaged, as pngjs does', () => {
    const note = pngChunk('tEXt', Buffer.from('Comment\0hello', 'latin1'));
    note[note.length - 1] ^= 1; // its CRC
    const rows = grayRows(8);
    expect(loadImageFolder(folderOf(rawPng({ ...gray8, rows, before: [note] }))).images).toEqual(Uint8Array.from(Buffer.concat(rows)));
  });

  it('reads the pixels of a colour key (tRNS) as transparent, keeping their colour', () => {
    const keyChunk = (...samples: number[]) => pngChunk('tRNS', Buffer.from(samples.flatMap((v) => [v >> 8, v & 255])));
    // Gray, 8 bits: pixel 1 has the key's value.
    const gray = loadImageFolder(folderOf(rawPng({ width: 3, height: 1, bitDepth: 8, colorType: 0, rows: [Buffer.from([10, 133, 200])], before: [keyChunk(133)] })));
    expect(gray).toMatchObject({ channels: 2, images: Uint8Array.from([10, 133, 200, 255, 0, 255]) });
    // RGB, 8 bits.
    const rgb = loadImageFolder(folderOf(rawPng({ width: 2, height: 1, bitDepth: 8, colorType: 2, rows: [Buffer.from([129, 7, 64, 1, 2, 3])], before: [keyChunk(129, 7, 64)] })));
    expect(rgb).toMatchObject({ channels: 4, images: Uint8Array.from([129, 1, 7, 2, 64, 3, 0, 255]) });
    // Gray, 16 bits: the key's value at 8 bits, rounded as every sample is.
    const deep = loadImageFolder(folderOf(rawPng({ width: 2, height: 1, bitDepth: 16, colorType: 0, rows: [Buffer.from([0x12, 0x34, 0xab, 0xcd])], before: [keyChunk(0xabcd)] })));
    expect(deep).toMatchObject({ channels: 2, images: Uint8Array.from([Math.round((0x1234 * 255) / 65535), Math.round((0xabcd * 255) / 65535), 255, 0]) });
  });

  it('refuses images of different sizes, naming both', () => {
    const dir = folderWith({ 'a.png': pixels() });
    writePng(path.join(dir, 'b.png'), new Uint8Array(6), 1, 2, 3);
    expect(() => loadImageFolder(dir)).toThrow(/b\.png is 3×2 pixels, but .*a\.png is 2×2: every image must have the same size/);
  });

  /** A PNG's signature and IHDR chunk declaring `width`×`height`, then bytes that no decoder reads. */
  function headerOnly(width: number, height: number): Uint8Array {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([8, 0, 0, 0, 0], 8);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(13);
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), length, Buffer.from('IHDR'), ihdr, Buffer.alloc(64, 7)]);
  }

  it('refuses an image of another size from its header, before decoding it', () => {
    // The rest of the file is garbage: a decoder would say "not a readable PNG".
    const dir = folderWith({ 'a.png': pixels() });
    writeFileSync(path.join(dir, 'b.png'), headerOnly(10000, 10000));
    expect(() => loadImageFolder(dir)).toThrow(byCode('ERR_DATA'));
    expect(() => loadImageFolder(dir)).toThrow(/b\.png is 10000×10000 pixels, but .*a\.png is 2×2: every image must have the same size/);
  });

  it("refuses an image declaring more pixels than Pillow's decompression-bomb limit, before decoding it", () => {
    const dir = folderWith({});
    writeFileSync(path.join(dir, 'a.png'), headerOnly(20000, 20000));
    expect(() => loadImageFolder(dir)).toThrow(byCode('ERR_DATA'));
    expect(() => loadImageFolder(dir)).toThrow(/a\.png declares 20000×20000 pixels, more than the 178956970 an image may have/);
    writeFileSync(path.join(dir, 'a.png'), headerOnly(2 * 89_478_485, 1));
    expect(() => loadImageFolder(dir)).toThrow(/a\.png is not a readable PNG/); // at the limit: decoded, and found garbage
  });

  it('refuses a folder that cannot be read (ERR_IO) and a bad argument (ERR_ARG)', () => {
    expect(() => loadImageFolder(path.join(root, 'missing'))).toThrow(byCode('ERR_IO'));
    expect(() => loadImageFolder('')).toThrow(byCode('ERR_ARG'));
  });
});
