/** Small synthetic datasets for training tests, in memory and as IDX files. */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ImageDataset } from '../../src/data/dataset';
import { idxBytes } from './idx-file';
import { makeRng } from './random';

/**
 * `count` 8-bit images of `size`×`size` with `classes` labels: each class is a
 * blurred bar at its own place plus noise, so a model can learn something fast.
 */
export function tinyDataset(count: number, size: number, classes: number, seed: number): ImageDataset {
  const rng = makeRng(seed);
  const images = new Uint8Array(count * size * size);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const y = n % classes;
    labels[n] = y;
    for (let i = 0; i < size; i++)
      for (let j = 0; j < size; j++) {
        const bar = Math.abs(j - ((y + 1) * size) / (classes + 1)) < 1.5 ? 200 : 20;
        images[(n * size + i) * size + j] = Math.min(255, bar + Math.floor(rng() * 50));
      }
  }
  return { images, labels, count, channels: 1, height: size, width: size, classes };
}

/** Writes a dataset as IDX images (u8 [N, H, W]) and labels (u8 [N]); returns their paths. */
export function writeIdx(dir: string, name: string, data: ImageDataset): { images: string; labels: string } {
  const images = path.join(dir, `${name}-images-idx3-ubyte`);
  const labels = path.join(dir, `${name}-labels-idx1-ubyte`);
  writeFileSync(images, idxBytes(0x08, [data.count, data.height, data.width], data.images));
  writeFileSync(labels, idxBytes(0x08, [data.count], Uint8Array.from(data.labels)));
  return { images, labels };
}
