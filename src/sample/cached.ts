/**
 * The cached sampler (native, on a worker thread): each block's vertical stack is
 * computed once per row and its horizontal stack once per position, so a batch
 * costs about one forward pass instead of H·W·C of them. It computes the same
 * function as the naive sampler and, with the same seed, draws the same images.
 */
import { loadBackend } from '../backend/load';
import type { NativeSampleResult } from '../backend/native';
import { CONFIG_KEYS } from '../nn/config';
import { requireModel, type GatedPixelCNN } from '../nn/gated-pixelcnn';
import { PixelCNNError } from '../errors';
import { reportProgress } from '../options';
import { checkNotAborted, requireOptionsObject, resolveSampleOptions, type SampleOptions } from './options';

/** The cached sampler's batch where none is given: a GPU keeps its multiprocessors busy with more images at once. */
export const DEFAULT_SAMPLE_BATCH = { cpu: 64, cuda: 256 } as const;

export interface CachedSampleResult {
  levels: Uint8Array;
  /** With keepLogits: the logits each draw used, laid out [count, C, K, H, W]. */
  logits?: Float32Array;
  /** How the native sampler ran the positions and the vertical stacks (the last batch's; rowGraph: every batch's; captureRefused: the first refusal): see NativeSampleResult. */
  design: NativeSampleResult['design'];
  vertical: NativeSampleResult['vertical'];
  clusterImages: number;
  rowGraph: boolean;
  captureRefused: string;
}

/** Draws `count` images with the cached sampler; resolves to their levels [count, C, H, W]. */
export async function sampleCached(model: GatedPixelCNN, options: SampleOptions): Promise<Uint8Array> {
  return (await runCachedSampler(model, options, { keepLogits: false })).levels;
}

/** @internal How tests run the sampler. */
export interface CachedSamplerSettings {
  /** Also return the logits of every draw. */
  keepLogits: boolean;
}

/** @internal As sampleCached, optionally keeping the logits of every draw (for tests). */
export async function runCachedSampler(
  model: GatedPixelCNN,
  options: SampleOptions,
  { keepLogits }: CachedSamplerSettings,
): Promise<CachedSampleResult> {
  requireModel(model, 'sampleCached: model');
  if (model.disposed) throw new PixelCNNError('ERR_DISPOSED', 'the model was disposed');
  requireOptionsObject(options);
  const onGpu = model.backend.name === 'cuda';
  const defaultBatch = Math.min(options.count, DEFAULT_SAMPLE_BATCH[onGpu ? 'cuda' : 'cpu']);
  const o = resolveSampleOptions(model.config, { ...options, batchSize: options.batchSize ?? defaultBatch });
  const { config } = model;
  const perImage = config.channels * config.height * config.width;
  // The sampler runs on the GPU when the model lives there, on the weights the model has
  // now; the native side refuses weights that are not finite (they would draw the top
  // level everywhere). A single batch reads the model's own tensors as it starts, here (in the
  // order of the backend's work): host copies made here too would cost more than a GPU
  // batch's rows. Later batches would start after a trainer's next steps: for them the
  // weights are copied now.
  const sampler = onGpu ? model.backend : loadBackend('cpu');
  const weights = sampler === model.backend && o.count <= o.batchSize
    ? Object.fromEntries(model.parameters.list().map((p) => [p.name, p.value.handle]))
    : Object.fromEntries(model.weights());
  const levels = new Uint8Array(o.count * perImage);
  const logits = keepLogits ? new Float32Array(o.count * config.levels * perImage) : undefined;
  const totalRows = Math.ceil(o.count / o.batchSize) * config.height;
  const jobs = onGpu ? concurrentJobs() : 1;
  let rowsBefore = 0;
  let design: NativeSampleResult['design'] = onGpu ? 'graph' : 'cpu';
  let vertical: NativeSampleResult['vertical'] = onGpu ? 'cudnn' : 'cpu';
  let clusterImages = 0;
  let rowGraph = onGpu;
  let captureRefused = '';
  for (let start = 0; start < o.count; start += o.batchSize) {
    checkNotAborted(options.signal);
    const end = Math.min(o.count, start + o.batchSize);
    // The batch's images, in `jobs` parts that run at once; each reports the rows it has done.
    const parts = splitRange(start, end, jobs);
    const rowsDone = parts.map(() => 0);
    const startPart = ([first, last]: [number, number], part: number) => {
      const cond = o.conditioning(first, last);
      const slice = (values: Uint8Array | undefined) => values?.slice(first * perImage, last * perImage);
      return sampler.sampleCached({
        config: Object.fromEntries(CONFIG_KEYS.map((k) => [k, config[k]])),
        weights,
        batch: last - first,
        firstImage: first,
        temperature: o.temperature,
        seed: o.seed,
        keepLogits,
        labels: cond.labels ? Int32Array.from(cond.labels) : undefined,
        vectors: cond.vectors,
        spatial: cond.spatial,
        known: slice(o.known?.images),
        knownMask: slice(o.known?.mask),
        onRow: (rows) => {
          rowsDone[part] = rows;
          reportProgress(options.onProgress, rowsBefore + Math.min(...rowsDone), totalRows);
        },
      });
    };
    const running: ReturnType<typeof startPart>[] = [];
    const abort = () => running.forEach((job) => job.cancel());
    try {
      parts.forEach((range, part) => running.push(startPart(range, part)));
    } catch (error) {
      // A part refused at its start: those already running stop before this throws.
      abort();
      await Promise.allSettled(running.map((job) => job.promise));
      throw error;
    }
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      (await allOrNone(running, abort)).forEach((result, part) => {
        const first = parts[part][0];
        levels.set(result.levels, first * perImage);
        if (logits && result.logits) logits.set(result.logits, first * config.levels * perImage);
        ({ design, vertical, clusterImages } = result);
        rowGraph &&= result.rowGraph;
        captureRefused ||= result.captureRefused;
      });
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
    rowsBefore += config.height;
  }
  // An abort that came after the last batch's work ended, but before it resolved, still counts.
  checkNotAborted(options.signal);
  return { levels, logits, design, vertical, clusterImages, rowGraph, captureRefused };
}

/**
 * The results of jobs that run at once. The first to fail stops the others (`stop`),
 * and every one has ended before this returns or throws: none is left running. The
 * error thrown is the failure's, not the stopped jobs'.
 */
export async function allOrNone(running: { promise: Promise<NativeSampleResult> }[], stop: () => void): Promise<NativeSampleResult[]> {
  let stopped = false;
  const settled = await Promise.allSettled(running.map((job) => job.promise.catch((error: unknown) => {
    if (!stopped) (stopped = true), stop();
    throw error;
  })));
  const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string }] : []));
  if (failures.length > 0) throw failures.find((error) => error?.code !== 'ERR_ABORTED') ?? failures[0];
  return settled.map((r) => (r as PromiseFulfilledResult<NativeSampleResult>).value);
}

/**
 * GATED_PIXELCNN_SAMPLER_JOBS=N (a GPU only; default 1): each batch is split between N
 * jobs that run at once, each on its own stream, so that one's vertical stage can fill
 * the multiprocessors that another's positions leave idle. The draws do not change: an
 * image's are keyed by its index in the whole run.
 */
function concurrentJobs(): number {
  const setting = process.env.GATED_PIXELCNN_SAMPLER_JOBS ?? '1';
  const jobs = Number(setting);
  if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 8) {
    throw new PixelCNNError('ERR_ARG', `GATED_PIXELCNN_SAMPLER_JOBS must be an integer in 1…8, got '${setting}'`);
  }
  return jobs;
}

/** [start, end) in up to `parts` contiguous, non-empty, near-equal ranges. */
export function splitRange(start: number, end: number, parts: number): [number, number][] {
  const count = Math.min(parts, end - start);
  return Array.from({ length: count }, (_, k) => [
    start + Math.floor(((end - start) * k) / count),
    start + Math.floor(((end - start) * (k + 1)) / count),
  ]);
}
