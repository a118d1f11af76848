/** Writing test images as PNG files, one by one or as an image folder dataset. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';

import type { ImageDataset } from '../../src/data/dataset';

/** PNG color type by channels: gray, gray and alpha, RGB, RGBA. */
const COLOR_TYPE: Record<number, 0 | 4 | 2 | 6> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** Writes planar [C, H, W] pixels (C = 1..4) as a PNG of that color type. */
export function writePng(file: string, pixels: Uint8Array, channels: number, height: number, width: number): void {
  const rgba = Buffer.alloc(height * width * 4);
  const plane = height * width;
  for (let i = 0; i < plane; i++) {
    const gray = channels <= 2;
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = pixels[(gray ? 0 : c) * plane + i];
    rgba[4 * i + 3] = channels % 2 === 0 ? pixels[(channels - 1) * plane + i] : 255;
  }
  const png = new PNG({ width, height });
  png.data = rgba;
  const colorType = COLOR_TYPE[channels];
  writeFileSync(file, PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true }));
}

/**
 * Writes a dataset as an image folder in `dir`: class folders named `classNames[label]`
 * when given (else one flat folder), images named img0.png, img1.png, ... in dataset
 * order within each folder. Returns `dir`.
 */
export function writePngFolder(dir: string, data: ImageDataset, classNames?: string[]): string {
  const size = data.channels * data.height * data.width;
  const written = new Map<string, number>();
  for (let n = 0; n < data.count; n++) {
    const folder = classNames ? path.join(dir, classNames[data.labels[n]]) : dir;
    mkdirSync(folder, { recursive: true });
    const k = written.get(folder) ?? 0;
    written.set(folder, k + 1);
    writePng(path.join(folder, `img${k}.png`), data.images.subarray(n * size, (n + 1) * size), data.channels, data.height, data.width);
  }
  return dir;
}

/** One PNG chunk: length, type, data and its CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

export interface RawPng {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** Each row's bytes (filter 0 is put before each); a raw stream given as `idat` replaces them. */
  rows?: Buffer[];
  /** The IDAT chunk's data as given, instead of the rows deflated. */
  idat?: Buffer;
  /** Adam7 (IHDR's interlace method 1): `idat` must then hold the passes. */
  interlaced?: boolean;
  /** Chunks between IHDR and IDAT (PLTE, tRNS...). */
  before?: Buffer[];
}

/** A PNG built byte by byte, to make what pngjs would not write (16 bits, colour keys, damage). */
export function rawPng({ width, height, bitDepth, colorType, rows = [], idat, interlaced = false, before = [] }: RawPng): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([bitDepth, colorType, 0, 0, interlaced ? 1 : 0], 8); // deflate, no filter
  const data = idat ?? zlib.deflateSync(Buffer.concat(rows.flatMap((row) => [Buffer.from([0]), row])));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', header), ...before, pngChunk('IDAT', data), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A 16-bit gray PNG: `values` row-major. */
export function gray16Png(width: number, height: number, values: Uint16Array): Buffer {
  const rows = Array.from({ length: height }, (_, i) => {
    const row = Buffer.alloc(2 * width);
    for (let j = 0; j < width; j++) row.writeUInt16BE(values[i * width + j], 2 * j);
    return row;
  });
  return rawPng({ width, height, bitDepth: 16, colorType: 0, rows });
}

/** The Adam7 passes of 8-bit gray `pixels` [height, width], each row with filter byte 0, deflated. */
export function adam7Gray8(width: number, height: number, pixels: Uint8Array): Buffer {
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  const bytes: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0; y < height; y += dy) {
      if (x0 >= width) break;
      bytes.push(0);
      for (let x = x0; x < width; x += dx) bytes.push(pixels[y * width + x]);
    }
  }
  return zlib.deflateSync(Buffer.from(bytes));
}
