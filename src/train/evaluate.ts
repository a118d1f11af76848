/**
 * Test-set evaluation (SPEC.md §6): mean negative log-likelihood in nats per
 * image, and bits per dimension.
 */
import { conditioningSizes, createDataset, type ImageDataset } from '../data/dataset';
import { batchesInOrder, gatherBatch, type GatheredImages } from '../data/batches';
import { describeClassNames, sameClassNames } from '../data/class-names';
import { PixelCNNError, shown } from '../errors';
import { optionalFunction, optionsObject, refuseUnknownKeys, reportProgress } from '../options';
import type { Conditioning } from '../nn/batch-inputs';
import { requireModel, type GatedPixelCNN } from '../nn/gated-pixelcnn';

export interface Evaluation {
  /** Mean NLL in nats per image. */
  nll: number;
  /** The images had no labels and the model has classes: each NLL is the marginal one (model.marginalNll). */
  marginal?: true;
  /** NLL / (C·H·W·ln 2). */
  bitsPerDim: number;
  images: number;
  /** Each evaluated image's NLL in nats, in dataset order (with `perImage`). */
  imageNlls?: Float64Array;
}

export function bitsPerDim(model: GatedPixelCNN, natsPerImage: number): number {
  const { channels, height, width } = model.config;
  return natsPerImage / (channels * height * width * Math.LN2);
}

/** Checks that a dataset gives the global vectors and spatial maps a model takes, of the model's sizes, and no others. */
function checkConditioningFits(model: GatedPixelCNN, data: ImageDataset, what: string): void {
  const sizes = conditioningSizes(data);
  const counted = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  for (const [key, name, unit] of [['condDim', 'global vectors', 'value'], ['spatialCond', 'spatial maps', 'channel']] as const) {
    const [needed, given] = [model.config[key], sizes[key]];
    if (needed === given) continue;
    const takes = `this model takes ${name} of ${counted(needed, unit)} (${key})`;
    throw new PixelCNNError(
      'ERR_ARG',
      needed === 0 ? `the ${what} set gives ${name}, which this model does not take (its ${key} is 0): leave them out of the dataset`
        : given === 0 ? `${takes}, which the ${what} set does not give`
          : `${takes}, but the ${what} set's have ${counted(given, unit)}`,
    );
  }
}

/**
 * Checks that a dataset fits a model: image shape, labels when the model is
 * class-conditional (unless `unlabeled` allows a set without any: evaluation's
 * marginal NLL), vectors and maps when it takes them.
 */
export function checkDatasetFits(model: GatedPixelCNN, data: ImageDataset, what: string, { unlabeled = false } = {}): void {
  const c = model.config;
  // A dataset made by hand: its fields must agree (else missing images would read as zeros).
  createDataset(data, `the ${what} set`);
  if (data.count === 0) throw new PixelCNNError('ERR_DATA', `the ${what} set holds no images`);
  if (data.channels !== c.channels || data.height !== c.height || data.width !== c.width) {
    throw new PixelCNNError(
      'ERR_ARG',
      `${what} images are ${data.channels}×${data.height}×${data.width}, the model expects ${c.channels}×${c.height}×${c.width}`,
    );
  }
  if (c.classes > 0 && ((data.classes === 0 && !unlabeled) || data.classes > c.classes)) {
    throw new PixelCNNError(
      'ERR_ARG',
      `the model has ${c.classes} classes (labels 0-${c.classes - 1}) but the ${what} set has ` +
        (data.classes === 0 ? 'no labels' : `labels up to ${data.classes - 1}`),
    );
  }
  if (c.classes > 0 && data.classes > 0 && !sameClassNames(model.classNames, data.classNames)) {
    throw new PixelCNNError(
      'ERR_ARG',
      `the ${what} set's classes are ${describeClassNames(data.classNames!)}, the model's ${describeClassNames(model.classNames!)}`,
    );
  }
  checkConditioningFits(model, data, what);
}

/** The conditioning a model takes for a batch of a dataset that fits it: labels where it has classes, vectors and maps where it takes them. */
export function conditioningFor(model: GatedPixelCNN, batch: GatheredImages): Conditioning {
  const { vectors, spatial } = batch;
  return { ...(model.config.classes > 0 ? { labels: batch.labels } : {}), ...(vectors ? { vectors } : {}), ...(spatial ? { spatial } : {}) };
}

export interface EvaluateOptions {
  /** Evaluate the first `limit` images only (default all). */
  limit?: number;
  /** Images per forward pass (default 100). */
  batchSize?: number;
  /** Also return each image's NLL (`imageNlls`). */
  perImage?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Evaluates the first `limit` images (all by default) in batches of `batchSize`. A
 * class-conditional model given images without labels is scored by each image's
 * marginal NLL (`marginal` says so), at a forward pass per class.
 */
export function evaluate(model: GatedPixelCNN, data: ImageDataset, evaluateOptions?: EvaluateOptions): Evaluation {
  requireModel(model, 'evaluate: model');
  const options = optionsObject(evaluateOptions, 'evaluate: options');
  refuseUnknownKeys(options, ['limit', 'batchSize', 'perImage', 'onProgress'], 'evaluate options');
  optionalFunction(options.onProgress, 'evaluate: onProgress');
  checkDatasetFits(model, data, 'test', { unlabeled: true });
  const marginal = model.config.classes > 0 && data.classes === 0;
  for (const [key, value] of [['limit', options.limit], ['batchSize', options.batchSize]] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) {
      throw new PixelCNNError('ERR_ARG', `evaluate: ${key} must be an integer ≥ 1, got ${shown(value)}`);
    }
  }
  const total = Math.min(options.limit ?? data.count, data.count);
  const batchSize = options.batchSize ?? 100;
  const imageNlls = new Float64Array(total);
  for (const { start, indices } of batchesInOrder(total, batchSize)) {
    const batch = gatherBatch(data, indices, model.config.levels);
    const cond = conditioningFor(model, batch);
    imageNlls.set(marginal ? model.marginalNll(batch.images, { ...cond, labels: undefined }) : model.nll(batch.images, cond), start);
    reportProgress(options.onProgress, start + indices.length, total);
  }
  let sum = 0;
  for (const v of imageNlls) sum += v;
  const nll = sum / total;
  return {
    nll, bitsPerDim: bitsPerDim(model, nll), images: total,
    ...(marginal ? { marginal: true as const } : {}), ...(options.perImage ? { imageNlls } : {}),
  };
}
