/**
 * An exponential moving average of a model's weights (Polyak averaging, with which
 * PixelCNN++ evaluates): after each optimizer step, average = d·average + (1 − d)·weight
 * for every parameter, in one native call. The decay ramps up as TensorFlow's
 * ExponentialMovingAverage does with a step count, d = min(decay, (1 + t) / (10 + t))
 * at the t-th update, so that early averages follow the weights instead of the
 * initialization. The averaged weights usually evaluate better than the last ones.
 */
import { PixelCNNError, shown } from '../errors';
import { rawTensor, toFloat32, type RawTensor } from '../io/safetensors';
import type { Checkpoint } from '../nn/checkpoint';
import { checkFiniteWeights } from '../nn/finite-weights';
import { GatedPixelCNN, requireModel } from '../nn/gated-pixelcnn';
import { parameterShapes, sameShape } from '../nn/layout';
import type { Tensor } from '../tensor';

/** Throws ERR_ARG unless `decay` is a number in (0, 1). */
export function checkAverageDecay(decay: number): void {
  if (!(typeof decay === 'number' && decay > 0 && decay < 1)) {
    throw new PixelCNNError('ERR_ARG', `the weights' average decay must be a number in (0, 1), got ${shown(decay)}`);
  }
}

const AVERAGE_PREFIX = 'optimizer.average.';

/**
 * The averaged weights a checkpoint of a run with an average holds (`optimizer.average.*`),
 * or null for one without: all of them, each as large as its weight and finite, or
 * ERR_CHECKPOINT naming what is wrong.
 */
export function averagedWeightsOf(checkpoint: Checkpoint, file: string): Map<string, Float32Array> | null {
  const { config, extras } = checkpoint;
  if (![...extras.tensors.keys()].some((name) => name.startsWith(AVERAGE_PREFIX))) return null;
  return readAverages(extras.tensors, parameterShapes(config), `${file}: `);
}

/**
 * Each weight's average among checkpoint tensors, by the weights' names and shapes: all of
 * them, of those shapes and finite, or ERR_CHECKPOINT (its message after `where`).
 */
function readAverages(tensors: Map<string, RawTensor>, shapes: Iterable<[string, readonly number[]]>, where: string): Map<string, Float32Array> {
  const averages = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    const saved = tensors.get(AVERAGE_PREFIX + name);
    if (!saved || !sameShape(saved.shape, shape)) {
      throw new PixelCNNError('ERR_CHECKPOINT', `${where}${AVERAGE_PREFIX}${name} is missing or has another shape than [${shape}]`);
    }
    averages.set(name, toFloat32(saved, AVERAGE_PREFIX + name));
  }
  checkFiniteWeights([...averages].map(([name, values]) => [AVERAGE_PREFIX + name, values]), 'ERR_CHECKPOINT', `${where}the weights' average`);
  return averages;
}

export class WeightAverage {
  readonly decay: number;
  readonly #model: GatedPixelCNN;
  readonly #averages = new Map<string, Tensor>();
  #updates = 0;
  #disposed = false;

  /** Starts from the model's current weights. */
  constructor(model: GatedPixelCNN, decay: number) {
    requireModel(model, 'WeightAverage: model');
    checkAverageDecay(decay);
    this.decay = decay;
    this.#model = model;
    const backend = model.backend;
    backend.disposeOnError(() => {
      for (const p of model.parameters.list()) this.#averages.set(p.name, backend.tensor(p.value.toFloat32Array(), p.shape));
    });
  }

  /** Updates so far. */
  get updates(): number {
    return this.#updates;
  }

  /** Moves every average towards its parameter's current value. */
  update(): void {
    this.#checkAlive();
    const decay = Math.min(this.decay, (1 + this.#updates) / (10 + this.#updates));
    const params = this.#model.parameters.list();
    this.#model.backend.movingAverage(params.map((p) => this.#averages.get(p.name)!), params.map((p) => p.value), decay);
    this.#updates++;
  }

  /** A copy of the averaged weights, by SPEC.md §8 name. */
  weights(): Map<string, Float32Array> {
    this.#checkAlive();
    return new Map([...this.#averages].map(([name, t]) => [name, t.toFloat32Array()]));
  }

  /** A new model with the averaged weights, on the same backend (the caller disposes it). */
  model(): GatedPixelCNN {
    return GatedPixelCNN.fromWeights(this.#model.config, this.weights(), this.#model.backend, this.#model.classNames);
  }

  /** The averages as checkpoint tensors (`optimizer.average.<name>`: training state, which SPEC.md §8 has loaders ignore). */
  stateDict(): Map<string, RawTensor> {
    this.#checkAlive();
    return new Map([...this.#averages].map(([name, t]) => [`${AVERAGE_PREFIX}${name}`, rawTensor(t.toFloat32Array(), t.shape)]));
  }

  /**
   * Replaces the averages and their update count with a checkpoint's: all of them, or
   * (ERR_CHECKPOINT, naming what is wrong) none.
   */
  loadStateDict(tensors: Map<string, RawTensor>, updates: number): void {
    if (!Number.isSafeInteger(updates) || updates < 0) {
      throw new PixelCNNError('ERR_CHECKPOINT', `the weights' average has no valid update count (got ${updates})`);
    }
    const shapes = [...this.#averages].map(([name, t]): [string, readonly number[]] => [name, t.shape]);
    const loaded = readAverages(tensors, shapes, '');
    for (const [name, values] of loaded) this.#model.backend.write(this.#averages.get(name)!, values);
    this.#updates = updates;
  }

  dispose(): void {
    for (const t of this.#averages.values()) t.dispose();
    this.#averages.clear();
    this.#disposed = true;
  }

  /** ERR_DISPOSED once the average or its model is freed (the maps would be silently empty). */
  #checkAlive(): void {
    if (this.#disposed) throw new PixelCNNError('ERR_DISPOSED', "the weights' average was disposed");
    if (this.#model.disposed) throw new PixelCNNError('ERR_DISPOSED', "the model of the weights' average was disposed");
  }
}
