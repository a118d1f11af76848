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

/** A 16-bit gray PNG built byte by byte (pngjs writes 8 bits from 8-bit input): `values` row-major. */
export function gray16Png(width: number, height: number, values: Uint16Array): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([16, 0, 0, 0, 0], 8); // 16 bits, gray, deflate, no filter, no interlace
  const rows = Buffer.alloc(height * (1 + 2 * width)); // each row: filter 0, then big-endian samples
  for (let i = 0; i < height; i++)
    for (let j = 0; j < width; j++) rows.writeUInt16BE(values[i * width + j], i * (1 + 2 * width) + 1 + 2 * j);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
