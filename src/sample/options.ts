/** Sampling options shared by the samplers, and their validation. */
import { constants } from 'node:buffer';

import { PixelCNNError, shown } from '../errors';
import { optionalFunction, optionalSignal, refuseUnknownKeys } from '../options';
import { checkConditioning, type Conditioning } from '../nn/batch-inputs';
import type { ModelConfig } from '../nn/config';

const { MAX_LENGTH } = constants;

export interface SampleOptions {
  /** Number of images. */
  count: number;
  /** Class label per image (required when the model has classes). */
  labels?: Int32Array | readonly number[];
  /** Global vectors [count, condDim] and spatial maps [count, S, H, W], when the model takes them. */
  vectors?: Float32Array;
  spatial?: Float32Array;
  /** Softmax temperature T > 0 (default 1: the model's distribution). */
  temperature?: number;
  /** Seed of the draws (default 0). */
  seed?: number;
  /** Completion: levels [count, C, H, W] and a mask (nonzero = known) of the same shape. */
  known?: { images: Uint8Array; mask: Uint8Array };
  /** Images computed together (default: the cached sampler's min(count, DEFAULT_SAMPLE_BATCH) of its device, 64 on the CPU and 256 on a GPU; the naive sampler's all of them). */
  batchSize?: number;
  /**
   * Called as sampling goes with (done, total): rows of every batch for the cached
   * sampler, positions of every batch for the naive one. Reports may be merged, so not
   * every row need have one; the last says total.
   */
  onProgress?: (done: number, total: number) => void;
  /** Stops the sampling: it then throws ERR_ABORTED (so does a sample() aborted before it resolves). */
  signal?: AbortSignal;
}

export interface ResolvedSampleOptions {
  count: number;
  temperature: number;
  seed: number;
  batchSize: number;
  known: SampleOptions['known'];
  /** The conditioning of images [start, end). */
  conditioning(start: number, end: number): Conditioning;
}

/**
 * Checks that `count` images fit the one array of levels a sampler returns; `asked`
 * names what asked for them (a command's flags), for the message.
 */
export function checkSampleCount(config: ModelConfig, count: number, asked?: string): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new PixelCNNError('ERR_ARG', `count must be an integer ≥ 1, got ${shown(count)}`);
  }
  const perImage = config.channels * config.height * config.width;
  const largest = Math.floor(MAX_LENGTH / perImage);
  if (count > largest) {
    const limit = `count must be at most ${largest} for images of ${perImage} values`;
    throw new PixelCNNError('ERR_ARG', asked ? `${asked} asks for ${count} images: ${limit}` : `${limit}, got ${count}`);
  }
}

/** What sample options may hold (the model's sample() also takes which sampler). */
const SAMPLE_OPTION_KEYS = [
  'count', 'labels', 'vectors', 'spatial', 'temperature', 'seed', 'known', 'batchSize', 'onProgress', 'signal', 'sampler',
];

/** ERR_ARG unless `options` is an object (a caller from JavaScript may pass anything) of known keys, with a usable onProgress and signal. */
export function requireOptionsObject(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new PixelCNNError('ERR_ARG', 'sample options must be an object with at least a count');
  }
  refuseUnknownKeys(options, SAMPLE_OPTION_KEYS, 'sample options');
  const { onProgress, signal, known } = options as SampleOptions;
  if (known !== undefined && known !== null) {
    if (typeof known !== 'object') throw new PixelCNNError('ERR_TYPE', 'known must be an object { images, mask }');
    refuseUnknownKeys(known, ['images', 'mask'], 'keys of known');
  }
  optionalFunction(onProgress, 'onProgress');
  optionalSignal(signal, 'signal');
}

export function resolveSampleOptions(config: ModelConfig, options: SampleOptions): ResolvedSampleOptions {
  requireOptionsObject(options);
  const { count } = options;
  checkSampleCount(config, count);
  const temperature = options.temperature ?? 1;
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new PixelCNNError('ERR_ARG', `temperature must be a number > 0, got ${shown(temperature)}`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new PixelCNNError('ERR_ARG', `seed must be an integer, got ${shown(seed)}`);
  const batchSize = options.batchSize ?? count;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new PixelCNNError('ERR_ARG', `batchSize must be an integer ≥ 1, got ${shown(batchSize)}`);
  }
  checkConditioning(config, count, options);
  const perImage = config.channels * config.height * config.width;
  if (options.known) {
    const { images, mask } = options.known;
    if (!(images instanceof Uint8Array) || !(mask instanceof Uint8Array)) {
      throw new PixelCNNError('ERR_TYPE', 'known.images and known.mask must both be Uint8Arrays');
    }
    if (images.length !== count * perImage || mask.length !== count * perImage) {
      throw new PixelCNNError('ERR_LENGTH', `known.images and known.mask need ${count * perImage} values each`);
    }
    for (let i = 0; i < images.length; i++) {
      if (mask[i] && images[i] >= config.levels) {
        throw new PixelCNNError('ERR_RANGE', `known.images[${i}] is level ${images[i]}, outside [0, ${config.levels})`);
      }
    }
  }
  // Copies, taken now: sampling runs on after the call returns, while the caller may
  // change its arrays or hand their memory to a worker.
  const labels = options.labels ? Int32Array.from(options.labels) : undefined;
  const vectors = options.vectors?.slice(), spatial = options.spatial?.slice();
  // (new Uint8Array: a Buffer's slice() is a view of the same memory.)
  const known = options.known && { images: new Uint8Array(options.known.images), mask: new Uint8Array(options.known.mask) };
  const slice = <T extends { slice(a: number, b: number): T }>(values: T | undefined, width: number, a: number, b: number) =>
    values?.slice(a * width, b * width);
  const spatialWidth = config.spatialCond * config.height * config.width;
  return {
    count,
    temperature,
    seed,
    batchSize,
    known,
    conditioning: (start, end) => ({
      labels: labels?.slice(start, end),
      vectors: slice(vectors, config.condDim, start, end),
      spatial: slice(spatial, spatialWidth, start, end),
    }),
  };
}

/** ERR_ABORTED once `signal` has fired. */
export function checkNotAborted(signal: AbortSignal | null | undefined): void {
  if (signal?.aborted) throw new PixelCNNError('ERR_ABORTED', 'sampling was aborted');
}
