/**
 * The reference sampler: one full forward pass per position, in generation order
 * (SPEC.md §1: rows, then columns, then channels). Slow by design (H·W·C passes)
 * and simple enough to trust; faster samplers are checked against it.
 */
import { PixelCNNError } from '../errors';
import { reportProgress } from '../options';
import { checkFiniteWeights } from '../nn/finite-weights';
import { requireModel, type GatedPixelCNN } from '../nn/gated-pixelcnn';
import { drawLevel } from './draw';
import { sampleUniform } from './philox';
import { checkNotAborted, resolveSampleOptions, type SampleOptions } from './options';

/** Draws `count` images; returns their levels [count, C, H, W]. */
export function sampleNaive(model: GatedPixelCNN, options: SampleOptions): Uint8Array {
  const steps = naiveSteps(model, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * sampleNaive, giving the event loop a turn after every row, so that timers run and an
 * AbortSignal fired from one (AbortSignal.timeout()) stops it.
 */
export async function sampleNaiveAsync(model: GatedPixelCNN, options: SampleOptions): Promise<Uint8Array> {
  const steps = naiveSteps(model, options);
  for (;;) {
    const step = steps.next();
    if (step.done) {
      checkNotAborted(options.signal); // aborted during the last turn the event loop had
      return step.value;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The sampling, yielding after each row of each batch. */
function* naiveSteps(model: GatedPixelCNN, options: SampleOptions): Generator<void, Uint8Array> {
  requireModel(model, 'sampleNaive: model');
  const o = resolveSampleOptions(model.config, options);
  // NaN weights would draw the top level everywhere, with no error.
  checkFiniteWeights(model.weights(), 'ERR_DIVERGED', 'cannot sample this model');
  const { channels: C, height: H, width: W, levels: K } = model.config;
  const plane = H * W;
  const perImage = C * plane;
  const out = new Uint8Array(o.count * perImage);
  if (o.known) out.set(o.known.images.map((v, i) => (o.known!.mask[i] ? v : 0)));
  const total = Math.ceil(o.count / o.batchSize) * perImage;
  let done = 0;
  for (let start = 0; start < o.count; start += o.batchSize) {
    const end = Math.min(o.count, start + o.batchSize);
    const images = out.subarray(start * perImage, end * perImage);
    const cond = o.conditioning(start, end);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++)
        for (let c = 0; c < C; c++) {
          checkNotAborted(options.signal);
          const logits = model.logitsTensor(images, cond);
          let values: Float32Array;
          try {
            values = logits.toFloat32Array();
          } finally {
            logits.dispose();
          }
          const position = c * plane + i * W + j;
          for (let b = 0; b < end - start; b++) {
            const at = (start + b) * perImage + position;
            if (o.known?.mask[at]) continue;
            const offset = (b * C + c) * K * plane + i * W + j;
            const u = sampleUniform(o.seed, start + b, (i * W + j) * C + c);
            const level = drawLevel(values, offset, plane, K, o.temperature, u);
            if (level < 0) {
              throw new PixelCNNError(
                'ERR_DIVERGED',
                `the logits of image ${start + b} at row ${i}, column ${j} are not finite: the model's weights overflow them, as those of a run that diverged do`,
              );
            }
            images[b * perImage + position] = level;
          }
          done += 1;
          reportProgress(options.onProgress, done, total);
        }
      yield;
    }
  }
  return out;
}
