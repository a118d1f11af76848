/** Writing test images as PNG files, one by one or as an image folder dataset. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
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
