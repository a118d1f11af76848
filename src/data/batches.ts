/**
 * Seeded, shuffled mini-batches with exact resume. Epoch e visits the images in a
 * permutation that depends on (seed, e) alone (Fisher–Yates driven by an Rng stream
 * derived from both), so the sampler's whole state is { seed, epoch, position }: a
 * checkpoint stores it and a new sampler built from it yields exactly the batches the
 * old one would have. gatherBatch then copies and quantizes the chosen images (with
 * their labels, vectors and maps).
 */
import { PixelCNNError, shown } from '../errors';
import { checkDatasetArrays, conditioningSizes, type ImageDataset } from './dataset';
import { checkLevels, quantize } from './quantize';
import { Rng } from './rng';

/** Where a sampler stands; JSON-serializable. */
export interface BatchState {
  seed: number;
  /** The epoch the next batch comes from (0-based). */
  epoch: number;
  /** Index into this epoch's permutation of the next batch's first image. */
  position: number;
}

export interface BatchSamplerOptions {
  seed: number;
  /** Drop the last, short batch of each epoch (default true) so every batch has batchSize images. */
  dropLast?: boolean;
}

/** Tags the shuffle's Rng streams so they never coincide with other uses of the same seed. */
const SHUFFLE_STREAM = 0x5348_5546; // 'SHUF'

/** The order in which epoch `epoch` visits images 0..count−1. */
export function epochPermutation(count: number, seed: number, epoch: number): Int32Array {
  return shuffledIndices(count, new Rng(seed, SHUFFLE_STREAM, epoch));
}

/** 0..count−1 in the order of a Fisher–Yates shuffle drawn from `rng`. */
export function shuffledIndices(count: number, rng: Rng): Int32Array {
  const perm = new Int32Array(count);
  for (let i = 0; i < count; i++) perm[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

const isCount = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min;

export class BatchSampler {
  readonly count: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly dropLast: boolean;
  /** Batches in one epoch: floor(count / batchSize) with dropLast, else ceil. */
  readonly batchesPerEpoch: number;
  #epoch = 0;
  #position = 0;
  #perm: Int32Array | null = null; // the permutation of #epoch, computed when first needed
  #permEpoch = -1;

  constructor(count: number, batchSize: number, options: BatchSamplerOptions, state?: BatchState) {
    if (!isCount(count, 1)) {
      throw new PixelCNNError('ERR_ARG', `BatchSampler: count must be an integer ≥ 1, got ${shown(count)}`);
    }
    if (!isCount(batchSize, 1)) {
      throw new PixelCNNError('ERR_ARG', `BatchSampler: batchSize must be an integer ≥ 1, got ${shown(batchSize)}`);
    }
    if (!Number.isSafeInteger(options?.seed)) {
      throw new PixelCNNError('ERR_ARG', `BatchSampler: seed must be a safe integer, got ${shown(options?.seed)}`);
    }
    this.count = count;
    this.batchSize = batchSize;
    this.seed = options.seed;
    this.dropLast = options.dropLast ?? true;
    if (this.dropLast && batchSize > count) {
      throw new PixelCNNError(
        'ERR_ARG',
        `the batch size ${batchSize} is more than the ${count} images: batches are whole (dropLast), so there would be none`,
      );
    }
    this.batchesPerEpoch = this.dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);

    if (state !== undefined) {
      if (state.seed !== options.seed) {
        throw new PixelCNNError(
          'ERR_ARG',
          `BatchSampler: the saved state's seed ${state.seed} differs from options.seed ${options.seed}`,
        );
      }
      if (!isCount(state.epoch, 0) || !isCount(state.position, 0) || state.position > count) {
        throw new PixelCNNError(
          'ERR_ARG',
          `BatchSampler: a state needs an integer epoch ≥ 0 and position in 0..${count}, got ${JSON.stringify(state)}`,
        );
      }
      this.#epoch = state.epoch;
      this.#position = state.position;
      this.#normalize();
    }
  }

  /** Where the sampler stands; `new BatchSampler(count, batchSize, options, state)` continues identically. */
  get state(): BatchState {
    return { seed: this.seed, epoch: this.#epoch, position: this.#position };
  }

  /** The next batch's image indices; wraps to the next epoch (a new permutation) at the end of one. */
  next(): { indices: Int32Array; epoch: number; epochStart: boolean } {
    if (this.#permEpoch !== this.#epoch) {
      this.#perm = epochPermutation(this.count, this.seed, this.#epoch);
      this.#permEpoch = this.#epoch;
    }
    const start = this.#position;
    const end = Math.min(start + this.batchSize, this.count);
    const indices = this.#perm!.slice(start, end);
    const result = { indices, epoch: this.#epoch, epochStart: start === 0 };
    this.#position = end;
    this.#normalize();
    return result;
  }

  /** Moves an exhausted epoch on to the start of the next, so `state.epoch` names the next batch's epoch. */
  #normalize(): void {
    const left = this.count - this.#position;
    if (left === 0 || (this.dropLast && left < this.batchSize)) {
      this.#epoch += 1;
      this.#position = 0;
    }
  }
}

/** Images 0 … total − 1 in order, `batchSize` at a time (the last batch may be short): each batch's first index and its indices. */
export function* batchesInOrder(total: number, batchSize: number): Generator<{ start: number; indices: Int32Array }> {
  for (let start = 0; start < total; start += batchSize) {
    yield { start, indices: Int32Array.from({ length: Math.min(batchSize, total - start) }, (_, i) => start + i) };
  }
}

/** What a batch of a dataset holds: its images, their labels, and their vectors and maps where the dataset has them. */
export interface GatheredImages {
  /** [B, C, H, W]. */
  images: Uint8Array;
  labels: Int32Array;
  /** [B, D], where the dataset has vectors. */
  vectors?: Float32Array;
  /** [B, S, H, W], where the dataset has spatial maps. */
  spatial?: Float32Array;
}

/** The images `indices` of `ds`, quantized to `levels`, as [B, C, H, W], with their labels, vectors and maps. */
export function gatherBatch(ds: ImageDataset, indices: Int32Array, levels: number): GatheredImages {
  checkLevels(levels);
  const gathered = gatherImages(ds, indices);
  return { ...gathered, images: quantize(gathered.images, levels) };
}

/** Rows `indices` of `values`, `width` values a row. */
function gatherRows(values: Float32Array, width: number, indices: ArrayLike<number>): Float32Array {
  const rows = new Float32Array(indices.length * width);
  for (let b = 0; b < indices.length; b++) rows.set(values.subarray(indices[b] * width, (indices[b] + 1) * width), b * width);
  return rows;
}

/** The 8-bit images `indices` of `ds` as [B, C, H, W], with their labels, vectors and maps. */
export function gatherImages(ds: ImageDataset, indices: ArrayLike<number>): GatheredImages {
  checkDatasetArrays(ds, 'gatherBatch: the dataset');
  const size = ds.channels * ds.height * ds.width;
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new PixelCNNError('ERR_RANGE', `gatherBatch: index ${i} (batch entry ${b}) is outside 0..${ds.count - 1}`);
    }
    pixels.set(ds.images.subarray(i * size, (i + 1) * size), b * size);
    labels[b] = ds.labels[i];
  }
  const { condDim, spatialCond } = conditioningSizes(ds);
  return {
    images: pixels,
    labels,
    ...(ds.vectors ? { vectors: gatherRows(ds.vectors, condDim, indices) } : {}),
    ...(ds.spatial ? { spatial: gatherRows(ds.spatial, spatialCond * ds.height * ds.width, indices) } : {}),
  };
}
