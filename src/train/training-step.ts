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
import {
  batchSizeOf, disposeBatch, writeBatch, type BatchTensors, type Conditioning,
} from '../nn/batch-inputs';
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
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

export class TrainingStep {
  readonly model: GatedPixelCNN;
  #graphs: boolean;
  #graph: StepGraph | null = null;
  #warmSizes = new Set<number>();
  #replayed = false;

  constructor(model: GatedPixelCNN, options: TrainingStepOptions = {}) {
    this.model = model;
    const choice = options.graph ?? 'auto';
    if (choice === true && !model.backend.canCapture) {
      throw new PixelCNNError('ERR_BACKEND', `the ${model.backend.name} backend cannot capture training steps`);
    }
    this.#graphs = choice === 'auto'
      ? model.backend.canCapture && process.env.GATED_PIXELCNN_STEP_GRAPH !== '0'
      : choice;
  }

  /** Whether the last run() replayed a captured step. */
  get replayed(): boolean {
    return this.#replayed;
  }

  /**
   * Sets each parameter's gradient to that of the batch's mean NLL (replacing what
   * was there) and returns the per-image NLL in nats.
   */
  run(images: Uint8Array, cond: Conditioning = {}): Float32Array {
    this.#replayed = false;
    if (!this.#graphs) return this.#eager(images, cond);
    const size = batchSizeOf(this.model.config, images);
    if (this.#graph && !this.#graph.fits(size)) {
      this.#graph.dispose();
      this.#graph = null;
    }
    if (!this.#graph) {
      if (!this.#warmSizes.has(size)) {
        const nll = this.#eager(images, cond);
        this.#warmSizes.add(size);
        return nll;
      }
      this.#graph = this.#capture(images, cond);
      if (!this.#graph) return this.#eager(images, cond);
    }
    const nll = this.#graph.run(images, cond);
    this.#replayed = true;
    return nll;
  }

  /** Frees the captured step (the parameters' gradients stay). */
  dispose(): void {
    this.#graph?.dispose();
    this.#graph = null;
  }

  #eager(images: Uint8Array, cond: Conditioning): Float32Array {
    this.model.parameters.zeroGrad();
    return this.model.backward(images, cond);
  }

  #capture(images: Uint8Array, cond: Conditioning): StepGraph | null {
    // Bad input is refused here, before the capture, as eagerly.
    const batch = this.model.prepareBatch(images, cond);
    try {
      return StepGraph.capture(this.model, batch);
    } catch (error) {
      disposeBatch(batch);
      this.#graphs = false;
      process.emitWarning(
        `training steps run eagerly from now on: capturing one as a CUDA graph failed (${(error as Error).message})`,
        { code: 'GATED_PIXELCNN_STEP_GRAPH' },
      );
      return null;
    }
  }
}

/**
 * One captured step: its input tensors, refilled before each replay, and the
 * tensors the replay writes (the NLL and every parameter's gradient).
 */
class StepGraph {
  readonly #model: GatedPixelCNN;
  readonly #batch: BatchTensors;
  readonly #work: CapturedWork;
  readonly #nll: Tensor;
  /** Each parameter with the value and gradient tensors the captured ops used. */
  readonly #bound: { param: Parameter; value: Tensor; grad: Tensor | null }[];

  private constructor(model: GatedPixelCNN, batch: BatchTensors, work: CapturedWork, nll: Tensor) {
    this.#model = model;
    this.#batch = batch;
    this.#work = work;
    this.#nll = nll;
    this.#bound = model.parameters.list().map((param) => ({ param, value: param.value, grad: param.grad }));
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

  /**
   * Whether a batch of `size` images can replay this step: the size it was captured
   * with, and the parameters still the tensors it reads (a load replaces them) with
   * the gradients it writes.
   */
  fits(size: number): boolean {
    return size === this.#batch.context.batch && this.#bound.every(({ param, value, grad }) =>
      param.value === value && !value.disposed && param.grad === grad && !grad?.disposed);
  }

  run(images: Uint8Array, cond: Conditioning): Float32Array {
    writeBatch(this.#batch, this.#model.config, images, cond);
    this.#work.replay();
    return this.#nll.toFloat32Array();
  }

  dispose(): void {
    this.#work.dispose();
    this.#nll.dispose();
    disposeBatch(this.#batch);
  }
}
