/**
 * Turns a caller's images (levels, [B, C, H, W]) and conditioning into tensors,
 * checking every length and range first so that bad input is refused with a
 * clear error before any work is done.
 */
import type { Backend } from '../backend/backend';
import { toUnit } from '../data/quantize';
import { kindOf, PixelCNNError, shown } from '../errors';
import { optionsObject, refuseUnknownKeys } from '../options';
import type { Tensor } from '../tensor';
import type { ModelConfig } from './config';
import type { ForwardContext } from './forward-context';

export interface Conditioning {
  /** Class label per image, int32 [B] (required when the model has classes). */
  labels?: Int32Array | readonly number[];
  /** Global conditioning vector per image, [B, condDim]. */
  vectors?: Float32Array;
  /** Spatial conditioning map per image, [B, spatialCond, H, W]. */
  spatial?: Float32Array;
}

export interface BatchTensors {
  context: ForwardContext;
  /** The levels as uint8 [B, C, H, W], the cross-entropy's targets. */
  targets: Tensor;
}

/** The batch size implied by `images`, or an ERR_LENGTH error. */
export function batchSizeOf(config: ModelConfig, images: Uint8Array): number {
  if (!(images instanceof Uint8Array)) {
    throw new PixelCNNError('ERR_TYPE', 'images must be a Uint8Array of levels laid out [B, C, H, W]');
  }
  const perImage = config.channels * config.height * config.width;
  if (images.length === 0 || images.length % perImage !== 0) {
    throw new PixelCNNError(
      'ERR_LENGTH',
      `images has ${images.length} values, not a positive multiple of C·H·W = ${perImage}`,
    );
  }
  return images.length / perImage;
}

/** Checks that the conditioning fits the configuration and the batch (ERR_ARG, ERR_LENGTH, ERR_RANGE); returns it ({} if left out). */
export function checkConditioning(config: ModelConfig, batch: number, given: Conditioning): Conditioning {
  const cond = optionsObject(given, 'the conditioning (cond)');
  const need = (present: boolean, configured: boolean, what: string, key: string) => {
    if (configured && !present) {
      throw new PixelCNNError('ERR_ARG', `this model is conditioned on ${what}: pass cond.${key}`);
    }
    if (!configured && present) {
      throw new PixelCNNError('ERR_ARG', `this model takes no ${what}, but cond.${key} was given`);
    }
  };
  need(cond.labels != null, config.classes > 0, 'class labels', 'labels');
  need(cond.vectors != null, config.condDim > 0, 'global vectors', 'vectors');
  need(cond.spatial != null, config.spatialCond > 0, 'spatial maps', 'spatial');
  const length = (value: { length: number } | undefined, expected: number, key: string) => {
    if (value && value.length !== expected) {
      throw new PixelCNNError('ERR_LENGTH', `cond.${key} has ${value.length} values, expected ${expected} for ${batch} images`);
    }
  };
  if (cond.labels != null && !Array.isArray(cond.labels) && !(ArrayBuffer.isView(cond.labels) && !(cond.labels instanceof DataView))) {
    throw new PixelCNNError('ERR_TYPE', `cond.labels must be an Int32Array or an array of numbers, got ${kindOf(cond.labels)}`);
  }
  length(cond.labels, batch, 'labels');
  length(cond.vectors, batch * config.condDim, 'vectors');
  length(cond.spatial, batch * config.spatialCond * config.height * config.width, 'spatial');
  if (cond.labels) {
    for (let i = 0; i < batch; i++) {
      const y = cond.labels[i];
      if (typeof y !== 'number') throw new PixelCNNError('ERR_TYPE', `cond.labels[${i}] is ${shown(y)}, not a number`);
      if (!Number.isInteger(y) || y < 0 || y >= config.classes) {
        throw new PixelCNNError('ERR_RANGE', `cond.labels[${i}] is ${y}, outside [0, ${config.classes})`);
      }
    }
  }
  for (const key of ['vectors', 'spatial'] as const) {
    const values = cond[key];
    if (values && !(values instanceof Float32Array)) {
      throw new PixelCNNError('ERR_TYPE', `cond.${key} must be a Float32Array`);
    }
    if (values?.some((v) => !Number.isFinite(v))) {
      throw new PixelCNNError('ERR_ARG', `cond.${key} holds a value that is not finite`);
    }
  }
  return cond;
}

const CONDITIONING_KEYS = ['labels', 'vectors', 'spatial'] as const;

/** A batch's arrays as its tensors hold them, after every check of batchSizeOf, toUnit and checkConditioning. */
function checkedArrays(config: ModelConfig, images: Uint8Array, given: Conditioning) {
  const batch = batchSizeOf(config, images);
  const unit = toUnit(images, config.levels); // refuses levels ≥ K
  // Nothing else: a misspelt key (`label`) is refused, as options' typos are, rather
  // than ignored where the model takes no labels.
  refuseUnknownKeys(optionsObject(given, 'the conditioning (cond)'), CONDITIONING_KEYS, 'conditioning keys');
  const cond = checkConditioning(config, batch, given);
  const labels = cond.labels ? Int32Array.from(cond.labels) : null;
  return { batch, unit, labels, vectors: cond.vectors ?? null, spatial: cond.spatial ?? null };
}

export function batchTensors(
  backend: Backend,
  config: ModelConfig,
  params: ForwardContext['params'],
  images: Uint8Array,
  cond: Conditioning = {},
): BatchTensors {
  const { batch, unit, labels, vectors, spatial } = checkedArrays(config, images, cond);
  const { channels: C, height: H, width: W } = config;
  const context: ForwardContext = {
    backend,
    config,
    params,
    batch,
    input: backend.tensor(unit, [batch, C, H, W]),
    labels: labels && backend.tensor(labels, [batch]),
    vectors: vectors && backend.tensor(vectors, [batch, config.condDim]),
    spatial: spatial && backend.tensor(spatial, [batch, config.spatialCond, H, W]),
  };
  return { context, targets: backend.tensor(images, [batch, C, H, W]) };
}

/**
 * Refills a batch's tensors in place with other images and conditioning of the same
 * batch size, checked as batchTensors() checks them: what a replayed training step
 * reads (training-step.ts).
 */
export function writeBatch(batch: BatchTensors, config: ModelConfig, images: Uint8Array, cond: Conditioning = {}): void {
  const arrays = checkedArrays(config, images, cond);
  const { context } = batch;
  if (arrays.batch !== context.batch) {
    throw new PixelCNNError('ERR_LENGTH', `a batch of ${arrays.batch} images, where this batch holds ${context.batch}`);
  }
  const { backend } = context;
  backend.write(context.input, arrays.unit);
  backend.write(batch.targets, images);
  if (context.labels) backend.write(context.labels, arrays.labels!);
  if (context.vectors) backend.write(context.vectors, arrays.vectors!);
  if (context.spatial) backend.write(context.spatial, arrays.spatial!);
}

export function disposeBatch(batch: BatchTensors): void {
  const { input, labels, vectors, spatial } = batch.context;
  for (const t of [input, labels, vectors, spatial, batch.targets]) t?.dispose();
}
