/** Float64 reference of one Adam / AdamW step, following torch.optim.Adam and AdamW. */
import type { NativeAdamOptions } from '../../src/backend/native';

/** The hyperparameters and the 1-based step number. */
export type AdamConfig = NativeAdamOptions & { step: number };

export function adamStep(
  param: Float64Array,
  grad: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  o: AdamConfig,
): void {
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (o.decoupled) param[i] *= 1 - o.lr * o.weightDecay;
    else g += o.weightDecay * param[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    const mHat = m[i] / (1 - o.beta1 ** o.step);
    const vHat = v[i] / (1 - o.beta2 ** o.step);
    param[i] -= (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
  }
}
