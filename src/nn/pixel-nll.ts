/**
 * Per-sub-pixel negative log-likelihood (SPEC.md §6 before the sum over an image):
 * −log softmax(logits[b, c, :, i, j])[x[b, c, i, j]] in nats, from the logits
 * [B, C, K, H, W]. Summed over an image it is the image's NLL; laid out [B, C, H, W] it
 * shows where in an image the model is surprised (anomalies, unusual strokes).
 */
import type { ModelConfig } from './config';

export function pixelNllFromLogits(logits: Float32Array, images: Uint8Array, config: ModelConfig): Float32Array {
  const { channels: C, levels: K, height: H, width: W } = config;
  const plane = H * W;
  const batch = images.length / (C * plane);
  const out = new Float32Array(images.length);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < C; c++) {
      const at = (b * C + c) * K * plane; // logits[b, c, 0, 0, 0]
      for (let k = 0; k < plane; k++) {
        let max = -Infinity;
        for (let level = 0; level < K; level++) max = Math.max(max, logits[at + level * plane + k]);
        let sum = 0;
        for (let level = 0; level < K; level++) sum += Math.exp(logits[at + level * plane + k] - max);
        const x = images[(b * C + c) * plane + k];
        // max − logit first: beside a max far from 0, log(sum) would vanish.
        out[(b * C + c) * plane + k] = (max - logits[at + x * plane + k]) + Math.log(sum);
      }
    }
  }
  return out;
}
