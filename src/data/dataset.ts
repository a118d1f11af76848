/**
 * An in-memory image dataset: 8-bit pixels laid out [N, C, H, W] (the layout the
 * network's tensors use, so a batch is a plain gather), one int32 label per image, and,
 * for models conditioned on them (SPEC.md §3), a global vector and a spatial map per
 * image. Every loader returns one of these, built through createDataset so that the
 * sizes are checked in one place.
 */
import { PixelCNNError, kindOf, shown } from '../errors';
import { checkClassNames } from './class-names';

export interface ImageDataset {
  /** 8-bit pixels, [N, C, H, W] row-major. */
  images: Uint8Array;
  /** [N] class labels in 0..classes−1, or −1 for every image when unlabeled. */
  labels: Int32Array;
  /** N, the number of images. */
  count: number;
  channels: number;
  height: number;
  width: number;
  /** Number of classes; 0 when the dataset is unlabeled. */
  classes: number;
  /** The name of each class, where the source names them (an image folder's class folders). */
  classNames?: readonly string[] | null;
  /** The name of each image, where the source names them (an image folder's files, as paths relative to it). */
  imageNames?: readonly string[] | null;
  /** A global conditioning vector per image, [N, D] (D: the model's condDim). */
  vectors?: Float32Array | null;
  /** A spatial conditioning map per image, [N, S, H, W] (S: the model's spatialCond). */
  spatial?: Float32Array | null;
}

/** The length of each image's global vector (condDim) and its spatial map's channels (spatialCond); 0 where the dataset has none. */
export function conditioningSizes(ds: ImageDataset): { condDim: number; spatialCond: number } {
  const per = (values: Float32Array | null | undefined, unit: number) => (values && ds.count > 0 ? values.length / (ds.count * unit) : 0);
  return { condDim: per(ds.vectors, 1), spatialCond: per(ds.spatial, ds.height * ds.width) };
}

/** Checks a per-image conditioning array's kind and length: a Float32Array of whole, non-empty rows of `unit` values per image. */
function checkConditioningShape(values: unknown, key: string, count: number, unit: number, shape: string, source: string): void {
  if (values == null) return;
  if (!(values instanceof Float32Array)) {
    throw new PixelCNNError('ERR_TYPE', `${source}: ${key} must be a Float32Array laid out ${shape}, got ${kindOf(values)}`);
  }
  const perImage = count > 0 ? values.length / (count * unit) : 0;
  if (count > 0 ? !(Number.isInteger(perImage) && perImage >= 1) : values.length !== 0) {
    throw new PixelCNNError('ERR_LENGTH', `${source}: ${key} has ${values.length} values, not ${shape} for ${count} images`);
  }
}

/** ERR_ARG unless every value of a conditioning array is finite. */
function checkFinite(values: Float32Array | null | undefined, key: string, source: string): void {
  const bad = values ? values.findIndex((v) => !Number.isFinite(v)) : -1;
  if (bad >= 0) throw new PixelCNNError('ERR_ARG', `${source}: ${key}[${bad}] is ${values![bad]}, not a finite number`);
}

/**
 * Checks what a dataset's sizes say against its arrays' kinds and lengths, in constant
 * time (what a batch's gather relies on): a short array would otherwise gather zeros,
 * or rows of the wrong images.
 */
export function checkDatasetArrays(fields: ImageDataset, source = 'dataset'): void {
  if (typeof fields !== 'object' || fields === null) throw new PixelCNNError('ERR_ARG', `${source}: a dataset must be an object, got ${String(fields)}`);
  const { images, labels, count, channels, height, width, classes } = fields;
  for (const [name, value, min] of [
    ['count', count, 0],
    ['channels', channels, 1],
    ['height', height, 1],
    ['width', width, 1],
    ['classes', classes, 0],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new PixelCNNError('ERR_ARG', `${source}: ${name} must be an integer ≥ ${min}, got ${shown(value)}`);
    }
  }
  if (!(images instanceof Uint8Array) || images.length !== count * channels * height * width) {
    throw new PixelCNNError(
      images instanceof Uint8Array ? 'ERR_LENGTH' : 'ERR_TYPE',
      `${source}: images must be a Uint8Array of ${count}×${channels}×${height}×${width} pixels, ` +
        `got ${images instanceof Uint8Array ? images.length : kindOf(images)}`,
    );
  }
  if (!(labels instanceof Int32Array) || labels.length !== count) {
    throw new PixelCNNError(
      labels instanceof Int32Array ? 'ERR_LENGTH' : 'ERR_TYPE',
      `${source}: labels must be an Int32Array of ${count}, ` +
        `got ${labels instanceof Int32Array ? labels.length : kindOf(labels)}`,
    );
  }
  checkConditioningShape(fields.vectors, 'vectors', count, 1, '[N, D]', source);
  checkConditioningShape(fields.spatial, 'spatial', count, height * width, `[N, S, ${height}, ${width}]`, source);
}

/** Checks that the fields agree (kinds and lengths, label range, finite vectors and maps) and returns them as a dataset. */
export function createDataset(fields: ImageDataset, source = 'dataset'): ImageDataset {
  checkDatasetArrays(fields, source);
  const { images, labels, count, channels, height, width, classes } = fields;
  for (let i = 0; i < count; i++) {
    const y = labels[i];
    const ok = classes === 0 ? y === -1 : y >= 0 && y < classes;
    if (!ok) {
      throw new PixelCNNError(
        'ERR_RANGE',
        `${source}: label ${y} of image ${i} is outside ${classes === 0 ? '{−1} (unlabeled)' : `0..${classes - 1}`}`,
      );
    }
  }
  const classNames = checkClassNames(fields.classNames, classes, 'ERR_ARG', source);
  const { imageNames } = fields;
  if (imageNames != null && !(Array.isArray(imageNames) && imageNames.length === count && imageNames.every((n) => typeof n === 'string'))) {
    throw new PixelCNNError('ERR_ARG', `${source}: imageNames must be an array of ${count} strings`);
  }
  const { vectors, spatial } = fields;
  checkFinite(vectors, 'vectors', source);
  checkFinite(spatial, 'spatial', source);
  return {
    images, labels, count, channels, height, width, classes,
    ...(classNames ? { classNames } : {}),
    ...(imageNames ? { imageNames } : {}),
    ...(vectors ? { vectors } : {}),
    ...(spatial ? { spatial } : {}),
  };
}
