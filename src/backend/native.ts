/**
 * The shape of a native addon's exports. Both addons (cpu, and cuda when built)
 * export exactly this; the TypeScript Backend wraps either one.
 */
export type DType = 'float32' | 'int32' | 'uint8';

export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly disposed: boolean;
  toArray(): Float32Array | Int32Array | Uint8Array;
  dispose(): void;
}

/**
 * Bytes of memory a backend holds, counted in whole blocks of its caching allocator
 * (as torch.cuda.memory_allocated() and memory_reserved() count them).
 */
export interface MemoryUsage {
  /** In blocks that tensors (or workspaces, or captured work) use now. */
  allocated: number;
  /** allocated, and the idle blocks kept for reuse: what the backend has taken from the device or host. */
  reserved: number;
  /** The most `allocated` has been since the backend loaded or resetPeakMemory(). */
  peakAllocated: number;
  /** The most `reserved` has been since the backend loaded or resetPeakMemory(). */
  peakReserved: number;
  /** How many convolution plans the backend keeps, one per pass and shape met: the 512 most recently used. */
  cachedPlans: number;
}

/** A held lock from lockFile(): an opaque handle. */
export interface NativeFileLock {
  readonly __nativeFileLock: never;
}

/** Work captured by endCapture(): an opaque handle. */
export interface NativeCapture {
  readonly __nativeCapture: never;
}

type T = NativeTensor;
type Maybe = NativeTensor | null;

export interface NativeAddon {
  readonly backendName: string;
  readonly features: Record<string, string | number | boolean>;
  /** Freed blocks whose guard regions were overwritten (GATED_PIXELCNN_GUARDS=1 only). */
  guardViolations(): number;
  memoryUsage(): MemoryUsage;
  resetPeakMemory(): void;
  releaseCachedMemory(): void;
  /** An exclusive flock on the file (created if missing), or null where another holder has it. */
  lockFile(path: string): NativeFileLock | null;
  unlockFile(lock: NativeFileLock): void;

  tensorFromArray(data: Float32Array | Int32Array | Uint8Array, shape: number[]): T;
  /** Copies data (same element type and count) into the tensor, in place. */
  tensorWrite(t: T, data: Float32Array | Int32Array | Uint8Array): void;
  tensorZeros(shape: number[], dtype: DType): T;
  tensorReshape(t: T, shape: number[]): T;

  convForward(x: T, w: T, b: Maybe, dy: number, dx: number, groups: number): T;
  convBackwardData(gradY: T, w: T, dy: number, dx: number, groups: number): T;
  convBackwardData(gradY: T, w: T, dy: number, dx: number, groups: number, target: T): void;
  convBackwardWeights(
    x: T, gradY: T, kh: number, kw: number, dy: number, dx: number, groups: number,
    withBias: boolean,
  ): { gradWeight: T; gradBias?: T };

  gateForward(u: T, extra: Maybe, bias: Maybe, spatial: Maybe): T;
  gateBackward(
    gradOut: T, u: T, extra: Maybe, bias: Maybe, spatial: Maybe,
  ): { gradInput: T; gradBias?: T };

  embeddingForward(table: T, labels: T): T;
  embeddingBackward(gradOut: T, labels: T, classes: number): T;
  linearForward(x: T, w: T): T;
  linearBackward(gradOut: T, x: T, w: T, needInputGrad: boolean): { gradWeight: T; gradInput?: T };

  add(a: T, b: T): T;
  accumulate(target: T, source: T): void;
  channelSums(x: T): T;
  relu(x: T): T;
  reluBackward(gradOut: T, x: T): T;

  headChannelsForward(hidden: T, prev: Maybe, input: T): T;
  headChannelsBackward(
    gradOut: T, out: T, input: T, withPrev: boolean,
  ): { gradHidden: T; gradPrev?: T };

  softmaxCrossEntropy(logits: T, targets: T, gradScale: number | null): { nll: T; gradLogits?: T };

  adamStep(params: T[], grads: T[], ms: T[], vs: T[], steps: number[], options: NativeAdamOptions): void;
  /** The cached sampler on a worker thread (the CUDA addon's runs on the GPU). */
  sampleCached?(request: NativeSampleRequest): { promise: Promise<NativeSampleResult>; cancel(): void };
  globalNorm(tensors: T[]): number;
  clipGradNorm(tensors: T[], maxNorm: number): number;
  movingAverage(averages: T[], values: T[], decay: number): void;

  /** Whether beginCapture() works here (the CUDA addon's: CUDA graphs). */
  readonly canCapture: boolean;
  beginCapture(): void;
  endCapture(): NativeCapture;
  abortCapture(): void;
  replayCapture(capture: NativeCapture): void;
  disposeCapture(capture: NativeCapture): void;
}

export interface NativeAdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** true: AdamW's decoupled weight decay; false: Adam's L2 penalty. */
  decoupled: boolean;
}

export interface NativeSampleRequest {
  config: Record<string, number>;
  /** Each weight's values, or the tensor (of this addon, float32) that holds them: read when the request is made. */
  weights: Record<string, Float32Array | NativeTensor>;
  batch: number;
  /** Index of the batch's first image in the whole run: the draws' streams are keyed by it. */
  firstImage: number;
  temperature: number;
  seed: number;
  keepLogits: boolean;
  labels?: Int32Array;
  vectors?: Float32Array;
  spatial?: Float32Array;
  known?: Uint8Array;
  knownMask?: Uint8Array;
  onRow?: (rowsDone: number) => void;
}

export interface NativeSampleResult {
  levels: Uint8Array;
  logits?: Float32Array;
  /** How the positions ran: 'cpu', or on CUDA 'graph', 'cluster' or 'tile' (GATED_PIXELCNN_SAMPLER). */
  design: 'cpu' | 'graph' | 'cluster' | 'tile';
  /** How the vertical stacks ran: 'cpu', or on CUDA 'cudnn' or 'cublas' (GATED_PIXELCNN_SAMPLER_VERTICAL). */
  vertical: 'cpu' | 'cudnn' | 'cublas';
  /**
   * With design 'cluster': the images each cluster took (16, more where the device runs
   * too few clusters at once); with 'tile': the images each thread block took.
   */
  clusterImages: number;
  /**
   * On CUDA, whether each row ran as one CUDA graph, vertical stage and positions; false
   * where the device refused to capture the vertical stage's cuDNN or cuBLAS calls, which
   * were then queued call by call before a graph of the positions (and on the CPU).
   */
  rowGraph: boolean;
  /** Without a row graph on CUDA: the error with which the device refused to capture a row ('' otherwise). */
  captureRefused: string;
}
