/**
 * Weights must be finite numbers. A NaN or an infinity in any weight makes every logit
 * NaN: the NLL is NaN and every sampled pixel is the top level, with no error. So a model
 * refuses such weights when built, a checkpoint when written, a file when read, and the
 * samplers when asked to draw (ERR_DIVERGED: the weights a diverged run left).
 */
import { PixelCNNError, type ErrorCode } from '../errors';

/** Throws `code` naming the first weight that holds a NaN or an infinity, and where. */
export function checkFiniteWeights(weights: Iterable<[string, Float32Array]>, code: ErrorCode, what: string): void {
  for (const [name, values] of weights) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new PixelCNNError(code, `${what}: ${name}[${i}] is ${values[i]}: weights must be finite (did training diverge?)`);
      }
    }
  }
}
