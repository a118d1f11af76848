/**
 * A compute backend: tensor creation and every op of the model, forward and
 * backward, with the semantics of SPEC.md. Arguments are checked here for
 * friendly messages and again in native code for safety.
 */
import { PixelCNNError, callNative, kindOf } from '../errors';
import { Tensor, type DType } from '../tensor';
import type { MemoryUsage, NativeAddon, NativeCapture, NativeSampleRequest, NativeSampleResult, NativeTensor } from './native';

type Data = Float32Array | Int32Array | Uint8Array;

export interface ConvOptions {
  /** Rows the kernel is shifted down: output row i reads input rows i−dy … i−dy+kh−1. */
  dy?: number;
  /** Columns the kernel is shifted right: output column j reads j−dx … j−dx+kw−1. */
  dx?: number;
  /** Independent channel groups, as PyTorch's `groups`. */
  groups?: number;
}

export interface GateTerms {
  /** [B, 2p, H, W], added to the input (the vertical-to-horizontal link). */
  extra?: Tensor | null;
  /** [B, 2p], added at every position (class and global-vector conditioning). */
  bias?: Tensor | null;
  /** [B, 2p, H, W], added to the input (spatial conditioning). */
  spatial?: Tensor | null;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** true: AdamW's decoupled weight decay; false (default): L2 added to the gradient, as Adam. */
  decoupled?: boolean;
}

/** What adamStep and `new Adam` take for the options left out (native/core/backend.h's AdamParams says the same). */
export const ADAM_DEFAULTS = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false } as const;

/** One parameter's Adam update: the tensors it changes in place and its own step count. */
export interface AdamUpdate {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
  /** 1-based step number of this parameter, for bias correction. */
  step: number;
}

export class Backend {
  readonly name: string;
  readonly #addon: NativeAddon;
  /** The tensors made inside each running disposeOnError(), innermost last. */
  readonly #scopes: Tensor[][] = [];

  constructor(addon: NativeAddon) {
    this.#addon = addon;
    this.name = addon.backendName;
  }

  /** What the native build offers (library versions, thread count). */
  get features(): Readonly<Record<string, string | number | boolean>> {
    return this.#addon.features;
  }

  /**
   * With GATED_PIXELCNN_GUARDS=1 set before the backend loads, every block of memory
   * has guard regions around it; this counts freed blocks whose guards were
   * overwritten, i.e. writes past a tensor's ends. Tests use it.
   */
  guardViolations(): number {
    return this.#addon.guardViolations();
  }

  // ---- memory ----

  /**
   * Bytes this backend's caching allocator holds: `allocated` in tensors, workspaces
   * and captured work now, `reserved` that and the idle blocks it keeps for reuse, and
   * the peak of each since the backend loaded or resetPeakMemory(). Memory that
   * oneDNN or the cached samplers (CPU and GPU) allocate for themselves is not counted.
   */
  memoryUsage(): MemoryUsage {
    return callNative('memoryUsage', () => this.#addon.memoryUsage());
  }

  /** The peaks of memoryUsage() start again from what is held now. */
  resetPeakMemory(): void {
    callNative('resetPeakMemory', () => this.#addon.resetPeakMemory());
  }

  /**
   * Gives the idle blocks kept for reuse back to the device or the host (as
   * torch.cuda.empty_cache()). ERR_ARG inside capture().
   */
  releaseCachedMemory(): void {
    callNative('releaseCachedMemory', () => this.#addon.releaseCachedMemory());
  }

  // ---- files ----

  /**
   * An exclusive advisory lock on `path` (flock; the file is created if missing), held
   * until release() or the end of the process, however it ends; null while another
   * holder, in this process or another, has it. The Trainer keeps one run per folder with it.
   * On a file system that cannot lock at all, the lock holds nothing (runs go on unguarded).
   */
  lockFile(path: string): { release(): void } | null {
    const lock = callNative('lockFile', () => this.#addon.lockFile(path));
    return lock && { release: () => callNative('unlockFile', () => this.#addon.unlockFile(lock)) };
  }

  // ---- tensors ----

  /** A tensor holding a copy of `data` (Float32Array, Int32Array or Uint8Array), laid out row-major. */
  tensor(data: Data, shape: readonly number[]): Tensor {
    return this.#wrap(callNative('tensor', () => this.#addon.tensorFromArray(data, this.#shape(shape))));
  }

  /** Copies `data` (the tensor's element type and count) into `t`, in place. */
  write(t: Tensor, data: Data): void {
    callNative('write', () => this.#addon.tensorWrite(this.#h(t, 'tensor'), data));
  }

  zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return this.#wrap(callNative('zeros', () => this.#addon.tensorZeros(this.#shape(shape), dtype)));
  }

  /** The same memory under another shape with the same element count (a view: writes show in both). */
  reshape(t: Tensor, shape: readonly number[]): Tensor {
    return this.#op('reshape', () => this.#addon.tensorReshape(this.#h(t, 'tensor'), this.#shape(shape)));
  }

  // ---- offset convolution (SPEC.md §3) ----

  /** y[o,i,j] = b[o] + Σ w[o,c,a,e]·x[c, i−dy+a, j−dx+e]; x [B,C,H,W], w [O,C/groups,kh,kw] -> [B,O,H,W]. */
  conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, options: ConvOptions = {}): Tensor {
    const { dy, dx, groups } = convArgs(options);
    return this.#op('conv2d', () =>
      this.#addon.convForward(
        this.#h(x, 'input'), this.#h(weight, 'weight'), this.#opt(bias, 'bias'), dy, dx, groups,
      ),
    );
  }

  /** Gradient of conv2d for its input. */
  conv2dBackwardData(gradOutput: Tensor, weight: Tensor, options: ConvOptions = {}): Tensor {
    const { dy, dx, groups } = convArgs(options);
    return this.#op('conv2dBackwardData', () =>
      this.#addon.convBackwardData(
        this.#h(gradOutput, 'gradOutput'), this.#h(weight, 'weight'), dy, dx, groups,
      ),
    );
  }

  /** target += conv2dBackwardData(gradOutput, weight): an input gradient with several sources. */
  conv2dBackwardDataAccumulate(target: Tensor, gradOutput: Tensor, weight: Tensor, options: ConvOptions = {}): void {
    const { dy, dx, groups } = convArgs(options);
    callNative('conv2dBackwardDataAccumulate', () =>
      this.#addon.convBackwardData(
        this.#h(gradOutput, 'gradOutput'), this.#h(weight, 'weight'), dy, dx, groups, this.#h(target, 'target'),
      ),
    );
  }

  /** Gradients of conv2d for its weight ([O, C/groups, kh, kw]) and, when asked, its bias. */
  conv2dBackwardWeights(
    x: Tensor,
    gradOutput: Tensor,
    kernel: readonly [number, number],
    options: ConvOptions & { bias: boolean },
  ): { gradWeight: Tensor; gradBias?: Tensor } {
    const { dy, dx, groups } = convArgs(options);
    const result = callNative('conv2dBackwardWeights', () =>
      this.#addon.convBackwardWeights(
        this.#h(x, 'input'), this.#h(gradOutput, 'gradOutput'), kernel[0], kernel[1],
        dy, dx, groups, options.bias,
      ),
    );
    return { gradWeight: this.#wrap(result.gradWeight), gradBias: this.#wrapOpt(result.gradBias) };
  }

  // ---- gate ----

  /** tanh(a[:, :p]) ⊙ σ(a[:, p:]) with a = input + extra + bias + spatial; [B,2p,H,W] -> [B,p,H,W]. */
  gate(input: Tensor, terms: GateTerms = {}): Tensor {
    return this.#op('gate', () =>
      this.#addon.gateForward(this.#h(input, 'input'), ...this.#gateTerms(terms)),
    );
  }

  /**
   * Gradients of gate: gradInput is the gradient of the pre-activation, and so of input,
   * extra and spatial alike; gradBias (when a bias was given) is its sum over H×W.
   */
  gateBackward(
    gradOutput: Tensor,
    input: Tensor,
    terms: GateTerms = {},
  ): { gradInput: Tensor; gradBias?: Tensor } {
    const result = callNative('gateBackward', () =>
      this.#addon.gateBackward(
        this.#h(gradOutput, 'gradOutput'), this.#h(input, 'input'), ...this.#gateTerms(terms),
      ),
    );
    return { gradInput: this.#wrap(result.gradInput), gradBias: this.#wrapOpt(result.gradBias) };
  }

  // ---- conditioning ----

  /** out[b,:] = table[labels[b],:]; table [N,D], labels int32 [B] -> [B,D]. */
  embedding(table: Tensor, labels: Tensor): Tensor {
    return this.#op('embedding', () =>
      this.#addon.embeddingForward(this.#h(table, 'table'), this.#h(labels, 'labels')),
    );
  }

  /** Gradient of embedding for its table: [classes, D], rows scatter-added. */
  embeddingBackward(gradOutput: Tensor, labels: Tensor, classes: number): Tensor {
    return this.#op('embeddingBackward', () =>
      this.#addon.embeddingBackward(
        this.#h(gradOutput, 'gradOutput'), this.#h(labels, 'labels'), classes,
      ),
    );
  }

  /** out[b,o] = Σ_d w[o,d]·x[b,d] (no bias); x [B,D], w [O,D] -> [B,O]. */
  linear(x: Tensor, weight: Tensor): Tensor {
    return this.#op('linear', () =>
      this.#addon.linearForward(this.#h(x, 'input'), this.#h(weight, 'weight')),
    );
  }

  linearBackward(
    gradOutput: Tensor,
    x: Tensor,
    weight: Tensor,
    options: { inputGrad: boolean },
  ): { gradWeight: Tensor; gradInput?: Tensor } {
    const result = callNative('linearBackward', () =>
      this.#addon.linearBackward(
        this.#h(gradOutput, 'gradOutput'), this.#h(x, 'input'), this.#h(weight, 'weight'),
        options.inputGrad,
      ),
    );
    return { gradWeight: this.#wrap(result.gradWeight), gradInput: this.#wrapOpt(result.gradInput) };
  }

  // ---- elementwise ----

  add(a: Tensor, b: Tensor): Tensor {
    return this.#op('add', () => this.#addon.add(this.#h(a, 'a'), this.#h(b, 'b')));
  }

  /** target += source, in place (residual gradients, summed skips). */
  accumulate(target: Tensor, source: Tensor): void {
    callNative('accumulate', () =>
      this.#addon.accumulate(this.#h(target, 'target'), this.#h(source, 'source')),
    );
  }

  /** out[c] = Σ x[n, c, ...] over every other dimension: [N, C, ...] -> [C] (a bias's gradient). */
  channelSums(x: Tensor): Tensor {
    return this.#op('channelSums', () => this.#addon.channelSums(this.#h(x, 'input')));
  }

  relu(x: Tensor): Tensor {
    return this.#op('relu', () => this.#addon.relu(this.#h(x, 'input')));
  }

  reluBackward(gradOutput: Tensor, x: Tensor): Tensor {
    return this.#op('reluBackward', () =>
      this.#addon.reluBackward(this.#h(gradOutput, 'gradOutput'), this.#h(x, 'input')),
    );
  }

  // ---- head (SPEC.md §4) ----

  /**
   * The head's per-channel inputs: out[b, c·q+k] = relu(hidden[b,k] + Σ_{c'<c} prev[k,c,c']·input[b,c']).
   * hidden [B,q,H,W], prev [q,C,C] (null when C = 1), input x̃ [B,C,H,W] -> [B,C·q,H,W].
   */
  headChannels(hidden: Tensor, prev: Tensor | null, input: Tensor): Tensor {
    return this.#op('headChannels', () =>
      this.#addon.headChannelsForward(
        this.#h(hidden, 'hidden'), this.#opt(prev, 'prev'), this.#h(input, 'input'),
      ),
    );
  }

  /** Gradients of headChannels, given its output; gradPrev is zero where c' ≥ c. */
  headChannelsBackward(
    gradOutput: Tensor,
    output: Tensor,
    input: Tensor,
    options: { prev: boolean },
  ): { gradHidden: Tensor; gradPrev?: Tensor } {
    const result = callNative('headChannelsBackward', () =>
      this.#addon.headChannelsBackward(
        this.#h(gradOutput, 'gradOutput'), this.#h(output, 'output'), this.#h(input, 'input'),
        options.prev,
      ),
    );
    return { gradHidden: this.#wrap(result.gradHidden), gradPrev: this.#wrapOpt(result.gradPrev) };
  }

  // ---- loss ----

  /**
   * Per-image negative log-likelihood in nats (nll [B]) of integer levels `targets`
   * [B,C,H,W] (int32 or uint8) under logits [B,C,K,H,W]. With gradScale, also
   * gradLogits = gradScale·(softmax − onehot), the gradient of gradScale·Σ nll.
   */
  softmaxCrossEntropy(
    logits: Tensor,
    targets: Tensor,
    options: { gradScale?: number } = {},
  ): { nll: Tensor; gradLogits?: Tensor } {
    const result = callNative('softmaxCrossEntropy', () =>
      this.#addon.softmaxCrossEntropy(
        this.#h(logits, 'logits'), this.#h(targets, 'targets'), options.gradScale ?? null,
      ),
    );
    return { nll: this.#wrap(result.nll), gradLogits: this.#wrapOpt(result.gradLogits) };
  }

  // ---- optimizer ----

  /**
   * One Adam / AdamW update of every listed parameter, in place, with its moments m and v
   * (updated in place too): one native call, and on a GPU one launch, for all of them.
   * Every update is checked before any is applied.
   */
  adamStep(updates: readonly AdamUpdate[], options: AdamOptions): void {
    this.#list(updates, 'updates');
    if (typeof options !== 'object' || options === null || typeof options.lr !== 'number') {
      throw new PixelCNNError('ERR_ARG', 'adamStep: options.lr must be a number (the other options have defaults)');
    }
    const list = (key: 'param' | 'grad' | 'm' | 'v') => updates.map((u, i) => this.#h(u?.[key], `updates[${i}].${key}`));
    callNative('adamStep', () =>
      this.#addon.adamStep(
        list('param'), list('grad'), list('m'), list('v'), updates.map((u) => u.step),
        {
          lr: options.lr,
          beta1: options.beta1 ?? ADAM_DEFAULTS.beta1,
          beta2: options.beta2 ?? ADAM_DEFAULTS.beta2,
          eps: options.eps ?? ADAM_DEFAULTS.eps,
          weightDecay: options.weightDecay ?? ADAM_DEFAULTS.weightDecay,
          decoupled: options.decoupled ?? ADAM_DEFAULTS.decoupled,
        },
      ),
    );
  }

  /** sqrt of the sum of squares of every element of every tensor. */
  globalNorm(tensors: readonly Tensor[]): number {
    return callNative('globalNorm', () =>
      this.#addon.globalNorm(this.#list(tensors, 'tensors').map((t, i) => this.#h(t, `tensors[${i}]`))),
    );
  }

  /**
   * Scales the tensors in place so that their global norm is at most maxNorm
   * (as torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
   */
  clipGradNorm(tensors: readonly Tensor[], maxNorm: number): number {
    return callNative('clipGradNorm', () =>
      this.#addon.clipGradNorm(this.#list(tensors, 'tensors').map((t, i) => this.#h(t, `tensors[${i}]`)), maxNorm),
    );
  }

  /**
   * Exponential moving averages, in place: averages[k] = decay·averages[k] + (1 − decay)·values[k]
   * for every pair (float32 tensors of one shape), in one native call. decay in [0, 1].
   */
  movingAverage(averages: readonly Tensor[], values: readonly Tensor[], decay: number): void {
    callNative('movingAverage', () =>
      this.#addon.movingAverage(
        this.#list(averages, 'averages').map((t, i) => this.#h(t, `averages[${i}]`)),
        this.#list(values, 'values').map((t, i) => this.#h(t, `values[${i}]`)),
        decay,
      ),
    );
  }

  // ---- sampling ----

  /**
   * @internal Starts the native cached sampler (CPU addon only) on a worker thread.
   * The request's arrays are copied before it returns.
   */
  sampleCached(request: NativeSampleRequest): { promise: Promise<NativeSampleResult>; cancel(): void } {
    const start = this.#addon.sampleCached;
    if (!start) throw new PixelCNNError('ERR_BACKEND', `the ${this.name} addon has no cached sampler`);
    const handle = callNative('sampleCached', () => start(request));
    // Native rejections carry a code; give them the PixelCNNError shape and the caller's stack.
    return {
      cancel: handle.cancel,
      promise: handle.promise.catch((error: unknown) => {
        throw callNative('sample', () => {
          throw error;
        });
      }),
    };
  }

  // ---- captured work ----

  /** Whether capture() works on this backend (CUDA's, through CUDA graphs). */
  get canCapture(): boolean {
    return this.#addon.canCapture;
  }

  /**
   * Runs `record` with its ops recorded instead of run, and returns what it returned
   * beside the recorded work, which runs them on replay(). Tensors that `record`
   * allocates keep their memory for the work's lifetime, so each replay writes into
   * the tensors it returned. Host numbers an op takes are recorded as they are. An op
   * that reads back to the host, or whose numbers change from step to step (Adam's
   * step, a moving average), cannot be recorded: it throws ERR_ARG, and nothing is
   * kept. ERR_BACKEND where canCapture is false.
   */
  capture<T>(record: () => T): { work: CapturedWork; result: T } {
    callNative('capture', () => this.#addon.beginCapture());
    let result: T;
    try {
      result = record();
    } catch (error) {
      this.#addon.abortCapture();
      throw error;
    }
    const handle = callNative('capture', () => this.#addon.endCapture());
    return { work: new CapturedWork(this.#addon, handle), result };
  }

  /**
   * Runs `work`, which must be synchronous; if it throws, disposes every tensor this
   * backend made during it, except those `keep` lists then, and rethrows. A pass that
   * fails midway (device memory running out) so frees its intermediates at once
   * instead of leaving them held until garbage collection.
   */
  disposeOnError<T>(work: () => T, keep: () => Iterable<Tensor> = () => []): T {
    const made: Tensor[] = [];
    this.#scopes.push(made);
    try {
      return work();
    } catch (error) {
      const kept = new Set(keep());
      for (const t of made) if (!kept.has(t)) t.dispose();
      throw error;
    } finally {
      this.#scopes.pop();
    }
  }

  // ---- plumbing ----

  #wrap(handle: NativeTensor): Tensor {
    const tensor = new Tensor(this, handle);
    for (const made of this.#scopes) made.push(tensor);
    return tensor;
  }

  #wrapOpt(handle: NativeTensor | undefined): Tensor | undefined {
    return handle ? this.#wrap(handle) : undefined;
  }

  #op(what: string, call: () => NativeTensor): Tensor {
    return this.#wrap(callNative(what, call));
  }

  /** The native handle of a tensor argument, which must live on this backend. */
  #h(t: Tensor, name: string): NativeTensor {
    if (!(t instanceof Tensor)) throw new PixelCNNError('ERR_TYPE', `${name} must be a Tensor`);
    if (t.backend !== this) {
      throw new PixelCNNError(
        'ERR_BACKEND', `${name} lives on the ${t.backend.name} backend, not ${this.name}`,
      );
    }
    return t.handle;
  }

  /** An array argument (of tensors, updates), checked before it is mapped over. */
  #list<T>(value: readonly T[], name: string): readonly T[] {
    if (!Array.isArray(value)) throw new PixelCNNError('ERR_TYPE', `${name} must be an array, got ${kindOf(value)}`);
    return value;
  }

  /** A shape argument: an array of sizes (the native side checks the sizes). */
  #shape(shape: readonly number[]): number[] {
    if (!Array.isArray(shape)) throw new PixelCNNError('ERR_TYPE', `shape must be an array of sizes, got ${kindOf(shape)}`);
    return [...shape];
  }

  #opt(t: Tensor | null | undefined, name: string): NativeTensor | null {
    return t == null ? null : this.#h(t, name);
  }

  #gateTerms(terms: GateTerms): [NativeTensor | null, NativeTensor | null, NativeTensor | null] {
    if (typeof terms !== 'object' || terms === null) throw new PixelCNNError('ERR_TYPE', `the gate's terms must be an object ({ extra, bias, spatial }), got ${kindOf(terms)}`);
    return [
      this.#opt(terms.extra, 'extra'),
      this.#opt(terms.bias, 'bias'),
      this.#opt(terms.spatial, 'spatial'),
    ];
  }
}

function convArgs(options: ConvOptions): { dy: number; dx: number; groups: number } {
  return { dy: options.dy ?? 0, dx: options.dx ?? 0, groups: options.groups ?? 1 };
}

/** Ops recorded by Backend.capture(), run again by each replay(). */
export class CapturedWork {
  readonly #addon: NativeAddon;
  readonly #handle: NativeCapture;

  /** @internal */
  constructor(addon: NativeAddon, handle: NativeCapture) {
    this.#addon = addon;
    this.#handle = handle;
  }

  /** Queues the recorded ops again, on the memory they used when recorded. */
  replay(): void {
    callNative('replay', () => this.#addon.replayCapture(this.#handle));
  }

  /** Frees the recorded work and the memory only it used. */
  dispose(): void {
    this.#addon.disposeCapture(this.#handle);
  }
}
