/**
 * TrainingStep: the gradients of one batch (forward, loss, backward), left in the
 * model's parameters for the optimizer. On a backend that can capture (CUDA), the
 * step is captured once as a CUDA graph and replayed for every later batch of the
 * same size: a replay costs the host a few calls instead of a few hundred, and the
 * host, not the GPU, was what bounded training on the H200.
 *
 * The first batch of each size runs eagerly, so that cuDNN has chosen its algorithms
 * and sized its workspace before a capture (both read back). A capture that fails
 * turns graphs off for the step's lifetime, with a warning, and training goes on
 * eagerly.
 */
import type { CapturedWork } from '../backend/backend';
import { PixelCNNError } from '../errors';
import { optionsObject } from '../options';
import {
  batchSizeOf, disposeBatch, writeBatch, type BatchTensors, type Conditioning,
} from '../nn/batch-inputs';
import { requireModel, type GatedPixelCNN } from '../nn/gated-pixelcnn';
import type { Parameter } from '../nn/parameters';
import type { Tensor } from '../tensor';

export interface TrainingStepOptions {
  /**
   * Replay captured steps (CUDA graphs): 'auto' (default) where the backend can
   * capture, unless GATED_PIXELCNN_STEP_GRAPH=0; true insists (ERR_BACKEND where it
   * cannot); false never.
   */
  graph?: 'auto' | boolean;
}

/** Graphs kept, one per batch size: each holds a step's memory for as long as it lives. */
const MAX_GRAPHS = 2;

export class TrainingStep {
  readonly model: GatedPixelCNN;
  #useGraphs: boolean;
  readonly #graphs = new Map<number, StepGraph>();
  readonly #warmSizes = new Set<number>();
  #replayed = false;
  #captures = 0;

  constructor(model: GatedPixelCNN, stepOptions?: TrainingStepOptions) {
    requireModel(model, 'TrainingStep: model');
    const options = optionsObject(stepOptions, 'TrainingStep: options');
    this.model = model;
    const choice = options.graph ?? 'auto';
    if (choice !== 'auto' && choice !== true && choice !== false) {
      throw new PixelCNNError('ERR_ARG', `graph must be 'auto', true or false, got ${String(choice)}`);
    }
    if (choice === true && !model.backend.canCapture) {
      throw new PixelCNNError('ERR_BACKEND', `the ${model.backend.name} backend cannot capture training steps`);
    }
    this.#useGraphs = choice === 'auto'
      ? model.backend.canCapture && process.env.GATED_PIXELCNN_STEP_GRAPH !== '0'
      : choice;
  }

  /** Whether the last run() replayed a captured step. */
  get replayed(): boolean {
    return this.#replayed;
  }

  /** How many steps were captured so far. */
  get captures(): number {
    return this.#captures;
  }

  /**
   * Sets each parameter's gradient to that of the batch's mean NLL (replacing what
   * was there) and returns the per-image NLL in nats.
   */
  run(images: Uint8Array, cond: Conditioning = {}): Float32Array {
    this.#replayed = false;
    if (!this.#useGraphs) return this.#eager(images, cond);
    const size = batchSizeOf(this.model.config, images);
    let graph = this.#graphs.get(size);
    if (graph && !graph.fits()) {
      graph.dispose();
      this.#graphs.delete(size);
      graph = undefined;
    }
    if (!graph) {
      // The first batch of a size runs eagerly; so do sizes beyond the graphs kept.
      if (!this.#warmSizes.has(size) || this.#graphs.size >= MAX_GRAPHS) {
        this.#warmSizes.add(size);
        return this.#eager(images, cond);
      }
      graph = this.#capture(images, cond);
      if (!graph) return this.#eager(images, cond);
      this.#graphs.set(size, graph);
    }
    const nll = graph.run(images, cond);
    this.#replayed = true;
    return nll;
  }

  /** Frees the captured steps (the parameters' gradients stay). */
  dispose(): void {
    for (const graph of this.#graphs.values()) graph.dispose();
    this.#graphs.clear();
  }

  #eager(images: Uint8Array, cond: Conditioning): Float32Array {
    this.model.parameters.zeroGrad();
    return this.model.backward(images, cond);
  }

  #capture(images: Uint8Array, cond: Conditioning): StepGraph | undefined {
    // Bad input is refused here, before the capture, as eagerly.
    const batch = this.model.prepareBatch(images, cond);
    try {
      const graph = StepGraph.capture(this.model, batch);
      this.#captures++;
      return graph;
    } catch (error) {
      disposeBatch(batch);
      this.#useGraphs = false;
      this.dispose();
      process.emitWarning(
        `training steps run eagerly from now on: capturing one as a CUDA graph failed (${(error as Error).message})`,
        { code: 'GATED_PIXELCNN_STEP_GRAPH' },
      );
      return undefined;
    }
  }
}

/**
 * One captured step: its input tensors, refilled before each replay, and the
 * tensors the replay writes: the NLL, and every parameter's gradient, which it sets
 * as the parameter's gradient again whenever something else took its place (a
 * zeroGrad(), an eager step, another graph).
 */
class StepGraph {
  readonly #model: GatedPixelCNN;
  readonly #batch: BatchTensors;
  readonly #work: CapturedWork;
  readonly #nll: Tensor;
  /** Each parameter with the value the captured ops read and a handle on the gradient they write. */
  readonly #bound: { param: Parameter; value: Tensor; grad: Tensor | null; attached: Tensor | null }[];

  private constructor(model: GatedPixelCNN, batch: BatchTensors, work: CapturedWork, nll: Tensor) {
    this.#model = model;
    this.#batch = batch;
    this.#work = work;
    this.#nll = nll;
    const backend = model.backend;
    this.#bound = model.parameters.list().map((param) => ({
      param,
      value: param.value,
      grad: param.grad && backend.reshape(param.grad, param.grad.shape), // a handle of our own on its memory
      attached: param.grad,
    }));
  }

  /** Captures the step on `batch`, which it then owns. */
  static capture(model: GatedPixelCNN, batch: BatchTensors): StepGraph {
    // The gradients are made inside the capture, so each replay writes them afresh.
    model.parameters.zeroGrad();
    try {
      const { work, result } = model.backend.capture(() => model.backwardOn(batch, 1 / batch.context.batch));
      return new StepGraph(model, batch, work, result);
    } catch (error) {
      model.parameters.zeroGrad(); // gradients of a failed capture were never computed
      throw error;
    }
  }

  /** Whether the parameters are still the tensors the captured ops read (a load replaces them). */
  fits(): boolean {
    return this.#bound.every(({ param, value }) => param.value === value && !value.disposed);
  }

  run(images: Uint8Array, cond: Conditioning): Float32Array {
    writeBatch(this.#batch, this.#model.config, images, cond);
    for (const bound of this.#bound) {
      const { param, grad } = bound;
      if (param.grad === bound.attached && !param.grad?.disposed) continue;
      param.grad?.dispose();
      bound.attached = grad && this.#model.backend.reshape(grad, grad.shape);
      param.grad = bound.attached;
    }
    this.#work.replay();
    return this.#nll.toFloat32Array();
  }

  dispose(): void {
    this.#work.dispose();
    this.#nll.dispose();
    disposeBatch(this.#batch);
    for (const { grad } of this.#bound) grad?.dispose();
  }
}
