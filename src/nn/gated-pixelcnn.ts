/**
 * GatedPixelCNN: the model of SPEC.md §4 composed from the backend's ops, with
 * its parameters, forward (logits, NLL) and backward passes, and checkpoints.
 */
import { Backend } from '../backend/backend';
import { loadBackend, type BackendName } from '../backend/load';
import { checkClassNames } from '../data/class-names';
import { Rng } from '../data/rng';
import { PixelCNNError, kindOf, shown } from '../errors';
import { optionsObject, refuseUnknownKeys } from '../options';
import type { Tensor } from '../tensor';
import { readCheckpoint, writeCheckpoint, type CheckpointExtras } from './checkpoint';
import { PRESETS, presetConfig, resolveConfig, type ConfigInput, type ModelConfig } from './config';
import {
  batchSizeOf, batchTensors, disposeBatch, type BatchTensors, type Conditioning,
} from './batch-inputs';
import { checkFiniteWeights } from './finite-weights';
import { disposeAll } from './forward-context';
import { GatedBlock, disposeBlockCache, type BlockCache } from './gated-block';
import { headBackward, headForward, disposeHeadCache, type HeadCache } from './head';
import { initialParameters } from './init';
import { parameterShapes, shapeSize } from './layout';
import { marginalNll } from './marginal-nll';
import { ParameterSet } from './parameters';
import { pixelNllFromLogits } from './pixel-nll';
import { sampleCached } from '../sample/cached';
import { sampleNaiveAsync } from '../sample/naive';
import { requireOptionsObject, type SampleOptions } from '../sample/options';

export interface ModelOptions {
  /** A Backend, or 'auto' (default) / 'cpu'. */
  backend?: Backend | BackendName;
  /** Seed of the initial weights (default 0). */
  seed?: number;
  /** The name of each class (class-conditional models), kept in its checkpoints. */
  classNames?: readonly string[] | null;
}

/** Stream key of the weight-initialization random stream. */
const INIT_STREAM = 1;

interface ForwardResult {
  logits: Tensor;
  blockCaches: BlockCache[];
  headCache: HeadCache;
}

export class GatedPixelCNN {
  readonly config: ModelConfig;
  readonly backend: Backend;
  readonly parameters: ParameterSet;
  /** The name of each class, when known (a model trained on an image folder's class folders); null otherwise. */
  readonly classNames: readonly string[] | null;
  readonly #blocks: GatedBlock[];

  private constructor(
    config: ModelConfig, backend: Backend, values: Map<string, Float32Array>, classNames?: readonly string[] | null,
  ) {
    // Frozen: the blocks were built for it, so a change would only make later calls fail.
    this.config = Object.freeze({ ...config });
    this.classNames = checkClassNames(classNames, config.classes, 'ERR_ARG', 'model');
    this.backend = backend;
    this.parameters = new ParameterSet(backend);
    const shapes = parameterShapes(config);
    // Every weight is checked before any is allocated; one that fails to upload frees the others.
    for (const [name, shape] of shapes) {
      const value = values instanceof Map ? values.get(name) : undefined;
      const size = shapeSize(shape);
      if (!(value instanceof Float32Array) || value.length !== size) {
        throw new PixelCNNError('ERR_ARG', `weights: ${name} must be a Float32Array of ${size} values ([${shape}])${value === undefined ? ', and is missing' : ''}`);
      }
    }
    checkFiniteWeights([...shapes.keys()].map((name) => [name, values.get(name)!]), 'ERR_ARG', 'weights');
    try {
      for (const [name, shape] of shapes) this.parameters.add(name, backend.tensor(values.get(name)!, shape));
    } catch (error) {
      this.parameters.dispose();
      throw error;
    }
    this.#blocks = Array.from({ length: config.layers }, (_, l) => new GatedBlock(config, l));
  }

  /** A freshly initialized model of a configuration or preset name. */
  static create(config: ConfigInput | keyof typeof PRESETS, createOptions?: ModelOptions): GatedPixelCNN {
    const options = optionsObject(createOptions, 'GatedPixelCNN.create: options');
    refuseUnknownKeys(options, ['backend', 'seed', 'classNames'], 'GatedPixelCNN.create options');
    if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) {
      throw new PixelCNNError('ERR_ARG', `GatedPixelCNN.create: seed must be an integer, got ${shown(options.seed)}`);
    }
    const resolved = typeof config === 'string' ? presetConfig(config) : resolveConfig(config);
    const rng = new Rng(options.seed ?? 0, INIT_STREAM);
    return new GatedPixelCNN(
      resolved, backendOf(options.backend), initialParameters(resolved, () => rng.nextDouble()), options.classNames,
    );
  }

  /** Loads a checkpoint file (SPEC.md §8); training state in it is ignored. */
  static load(path: string, loadOptions?: Pick<ModelOptions, 'backend'>): GatedPixelCNN {
    const options = optionsObject(loadOptions, 'GatedPixelCNN.load: options');
    refuseUnknownKeys(options, ['backend'], 'GatedPixelCNN.load options');
    const { config, weights, extras } = readCheckpoint(path);
    return new GatedPixelCNN(config, backendOf(options.backend), weights, extras.classNames);
  }

  /** @internal Builds a model around known weights (used by checkpoint loading and training resume). */
  static fromWeights(
    config: ModelConfig, weights: Map<string, Float32Array>, backend?: Backend | BackendName,
    classNames?: readonly string[] | null,
  ): GatedPixelCNN {
    return new GatedPixelCNN(resolveConfig(config), backendOf(backend), weights, classNames);
  }

  /** Writes the model, its class names and any extras (such as training state) atomically to `path`. */
  save(path: string, extras?: Omit<CheckpointExtras, 'classNames'>): void {
    writeCheckpoint(path, this.config, this.weights(), { ...extras, classNames: this.classNames });
  }

  /** A copy of every parameter's values, by SPEC.md §8 name. */
  weights(): Map<string, Float32Array> {
    this.#checkAlive();
    return new Map(this.parameters.list().map((p) => [p.name, p.value.toFloat32Array()]));
  }

  /** Logits [B, C, K, H, W] for images of levels [B, C, H, W] (B implied by the length). */
  logits(images: Uint8Array, cond: Conditioning = {}): Float32Array {
    const batch = this.#batch(images, cond);
    try {
      const { logits } = this.#forward(batch.context, false);
      try {
        return logits.toFloat32Array();
      } finally {
        logits.dispose();
      }
    } finally {
      disposeBatch(batch);
    }
  }

  /** Per-image negative log-likelihood in nats. */
  nll(images: Uint8Array, cond: Conditioning = {}): Float32Array {
    const batch = this.#batch(images, cond);
    try {
      const { logits } = this.#forward(batch.context, false);
      let nll: Tensor;
      try {
        nll = this.backend.softmaxCrossEntropy(logits, batch.targets).nll;
      } finally {
        logits.dispose();
      }
      try {
        return nll.toFloat32Array();
      } finally {
        nll.dispose();
      }
    } finally {
      disposeBatch(batch);
    }
  }

  /**
   * For a class-conditional model, each image's NLL in nats with its class unknown:
   * −log p(x), p(x) = (1/N) Σ_y p(x | y) over the N classes, equally likely a priori
   * (N forward passes). `cond` gives the other conditioning, not labels.
   */
  marginalNll(images: Uint8Array, cond: Conditioning = {}): Float32Array {
    const { classes } = this.config;
    if (classes === 0) throw new PixelCNNError('ERR_ARG', 'marginalNll: this model has no classes, so nll() is already the NLL of an image alone');
    if (optionsObject(cond, 'marginalNll: cond').labels != null) {
      throw new PixelCNNError('ERR_ARG', 'marginalNll sums over the classes: give no cond.labels (nll() takes them)');
    }
    const batch = batchSizeOf(this.config, images);
    return marginalNll(Array.from({ length: classes }, (_, y) => this.nll(images, { ...cond, labels: new Int32Array(batch).fill(y) })));
  }

  /**
   * Per-sub-pixel negative log-likelihood in nats, [B, C, H, W]: how surprised the
   * model is by each level of each image; an image's values sum to its nll().
   */
  pixelNll(images: Uint8Array, cond: Conditioning = {}): Float32Array {
    return pixelNllFromLogits(this.logits(images, cond), images, this.config);
  }

  /**
   * Forward and backward on one batch: adds to each parameter's gradient the
   * gradient of gradScale·Σ NLL (default scale 1/B: the batch mean), and returns
   * the per-image NLL in nats.
   */
  backward(images: Uint8Array, cond: Conditioning = {}, options?: { gradScale?: number }): Float32Array {
    const { gradScale } = optionsObject(options, 'backward: options');
    if (gradScale !== undefined && !Number.isFinite(gradScale)) {
      throw new PixelCNNError('ERR_ARG', `gradScale must be a finite number, got ${shown(gradScale)}`);
    }
    const batch = this.#batch(images, cond);
    try {
      const nll = this.backwardOn(batch, gradScale ?? 1 / batch.context.batch);
      try {
        return nll.toFloat32Array();
      } finally {
        nll.dispose();
      }
    } finally {
      disposeBatch(batch);
    }
  }

  /**
   * @internal backward() on a prepared batch (prepareBatch()), which it leaves as it
   * is: adds to each parameter's gradient the gradient of gradScale·Σ NLL and returns
   * the per-image NLL as a tensor. It reads nothing back, so it can be captured
   * (training-step.ts).
   */
  backwardOn(batch: BatchTensors, gradScale: number): Tensor {
    const ctx = batch.context;
    // After a failure midway, every tensor made on the way is freed; the gradients
    // added to the parameters so far stay (zeroGrad() clears them).
    return this.backend.disposeOnError(() => {
      const result = this.#forward(ctx, true);
      const loss = this.backend.softmaxCrossEntropy(result.logits, batch.targets, { gradScale });
      result.logits.dispose(); // free what is done with as soon as it is done with
      const gradSkip = headBackward(ctx, result.headCache, loss.gradLogits!);
      loss.gradLogits!.dispose();
      disposeHeadCache(result.headCache);
      // The skip outputs are summed, so every block's skip.bias has this gradient.
      const skipBiasGrad = this.backend.channelSums(gradSkip);
      let gradV: Tensor | null = null;
      let gradH: Tensor | null = null;
      for (let l = this.#blocks.length - 1; l >= 0; l--) {
        const inputs = this.#blocks[l].backward(ctx, result.blockCaches[l], gradV, gradH, gradSkip, skipBiasGrad);
        gradV?.dispose();
        if (gradH !== inputs?.gradHIn) gradH?.dispose(); // a block adds into gradH and passes it on
        gradV = inputs?.gradVIn ?? null;
        gradH = inputs?.gradHIn ?? null;
        disposeBlockCache(result.blockCaches[l], ctx.input);
      }
      disposeAll(gradSkip, skipBiasGrad, gradV, gradH);
      return loss.nll;
    }, () => this.parameters.list().flatMap((p) => (p.grad ? [p.grad] : [])));
  }

  /**
   * @internal The batch's tensors (input, targets, conditioning), checked as backward()
   * checks them; the caller disposes them (disposeBatch) and may refill them in place
   * with writeBatch().
   */
  prepareBatch(images: Uint8Array, cond: Conditioning = {}): BatchTensors {
    return this.#batch(images, cond);
  }

  /** True once dispose() has freed the parameters. */
  get disposed(): boolean {
    return this.parameters.list().length === 0;
  }

  /**
   * Draws `count` images (SPEC.md §7) and resolves to their levels [count, C, H, W].
   * The cached sampler (default) runs natively on a worker thread, so the event loop
   * stays free; `sampler: 'naive'` runs the reference sampler (one forward pass per
   * position, on this thread, giving the event loop a turn after each row). See
   * SampleOptions for labels, temperature, seed,
   * known pixels (completion), progress and cancellation.
   */
  async sample(options: SampleOptions & { sampler?: 'cached' | 'naive' }): Promise<Uint8Array> {
    const sampler = options?.sampler ?? 'cached';
    if (sampler !== 'cached' && sampler !== 'naive') {
      throw new PixelCNNError('ERR_ARG', `sampler must be 'cached' or 'naive', got ${JSON.stringify(sampler)}`);
    }
    if (sampler === 'cached') return sampleCached(this, options); // copies the weights when called
    requireOptionsObject(options); // before a copy is made for nothing
    // The naive sampler reads the weights at every position, between which a Trainer
    // running on this model may take steps: it samples a copy taken now, as the cached one does.
    const copy = this.#copyToSample();
    try {
      return await sampleNaiveAsync(copy, options);
    } finally {
      copy.dispose();
    }
  }

  /** A copy of this model on its backend, refused (ERR_DIVERGED) if its weights are not finite. */
  #copyToSample(): GatedPixelCNN {
    const weights = this.weights();
    checkFiniteWeights(weights, 'ERR_DIVERGED', 'cannot sample this model'); // before the copy refuses them otherwise
    return GatedPixelCNN.fromWeights(this.config, weights, this.backend, this.classNames);
  }

  /** @internal The logits tensor of a prepared batch (samplers use it). */
  logitsTensor(images: Uint8Array, cond: Conditioning = {}): Tensor {
    const batch = this.#batch(images, cond);
    try {
      return this.#forward(batch.context, false).logits;
    } finally {
      disposeBatch(batch);
    }
  }

  /** Frees every parameter and gradient. */
  dispose(): void {
    this.parameters.dispose();
  }

  #checkAlive(): void {
    if (this.disposed) throw new PixelCNNError('ERR_DISPOSED', 'the model was disposed');
  }

  #batch(images: Uint8Array, cond: Conditioning): BatchTensors {
    this.#checkAlive();
    return batchTensors(this.backend, this.config, this.parameters, images, cond);
  }

  /** Runs the blocks and the head; keeps what backward needs only when asked to. */
  #forward(ctx: BatchTensors['context'], keep: boolean): ForwardResult {
    return this.backend.disposeOnError(() => this.#runForward(ctx, keep));
  }

  #runForward(ctx: BatchTensors['context'], keep: boolean): ForwardResult {
    const caches: BlockCache[] = [];
    let v = ctx.input;
    let h = ctx.input;
    let skip: Tensor | null = null;
    for (const block of this.#blocks) {
      const { outputs, cache } = block.forward(ctx, v, h, skip);
      skip = outputs.skip;
      if (keep) caches.push(cache);
      else disposeBlockCache(cache, ctx.input);
      v = outputs.vOut!;
      h = outputs.hOut!;
    }
    const head = headForward(ctx, skip!);
    if (!keep) disposeHeadCache(head.cache);
    return { logits: head.logits, blockCaches: caches, headCache: head.cache };
  }
}

/** ERR_TYPE unless `value` is a model (a caller from JavaScript may pass anything). */
export function requireModel(value: unknown, what: string): asserts value is GatedPixelCNN {
  if (!(value instanceof GatedPixelCNN)) {
    throw new PixelCNNError('ERR_TYPE', `${what} must be a GatedPixelCNN, got ${kindOf(value)}`);
  }
}

function backendOf(choice: Backend | BackendName | undefined): Backend {
  if (choice instanceof Backend) return choice;
  if (choice !== undefined && typeof choice !== 'string') {
    throw new PixelCNNError('ERR_BACKEND', `backend must be 'auto', 'cpu', 'cuda' or a Backend, got ${kindOf(choice)}`);
  }
  return loadBackend(choice ?? 'auto');
}
