/**
 * Adam and AdamW over a ParameterSet, as torch.optim.Adam / AdamW: moments per
 * parameter, created on its first gradient, each with its own step count, and
 * parameters without a gradient left alone. Its state round-trips through
 * checkpoints (tensors `optimizer.<name>.m` / `.v`, step counts in metadata) so
 * that a resumed run continues exactly.
 */
import { ADAM_DEFAULTS, type AdamUpdate } from '../backend/backend';
import type { NativeAdamOptions } from '../backend/native';
import { kindOf, PixelCNNError, shown } from '../errors';
import { definedOnly, optionsObject, refuseUnknownKeys } from '../options';
import { rawTensor, toFloat32, type RawTensor } from '../io/safetensors';
import { sameShape } from '../nn/layout';
import { ParameterSet } from '../nn/parameters';
import type { Tensor } from '../tensor';

/** lr, beta1, beta2, eps, weightDecay, and decoupled (true: AdamW; false: Adam's L2 penalty). */
export type AdamConfig = NativeAdamOptions;

/**
 * Settings over the defaults, checked (ERR_ARG): known keys, numbers in range and a
 * boolean `decoupled` (typeof: '0.5' would pass the comparisons and fail at the first
 * step, in native code).
 */
export function resolveAdamConfig(given: Partial<AdamConfig> | undefined, what = 'optimizer settings'): AdamConfig {
  const settings = optionsObject(given, what);
  refuseUnknownKeys(settings, Object.keys(ADAM_DEFAULTS), what);
  const o: AdamConfig = { ...ADAM_DEFAULTS, ...definedOnly(settings as Partial<AdamConfig>) };
  const check = (ok: boolean, message: string, value: unknown) => {
    if (!ok) throw new PixelCNNError('ERR_ARG', `${message}, got ${shown(value)}`);
  };
  check(typeof o.lr === 'number' && Number.isFinite(o.lr) && o.lr > 0, 'lr must be a number > 0', o.lr);
  check(typeof o.beta1 === 'number' && o.beta1 >= 0 && o.beta1 < 1, 'beta1 must be a number in [0, 1)', o.beta1);
  check(typeof o.beta2 === 'number' && o.beta2 >= 0 && o.beta2 < 1, 'beta2 must be a number in [0, 1)', o.beta2);
  check(typeof o.eps === 'number' && Number.isFinite(o.eps) && o.eps > 0, 'eps must be a number > 0', o.eps);
  check(typeof o.weightDecay === 'number' && Number.isFinite(o.weightDecay) && o.weightDecay >= 0, 'weightDecay must be a number ≥ 0', o.weightDecay);
  check(typeof o.decoupled === 'boolean', 'decoupled must be true or false', o.decoupled);
  return o;
}

interface Moments {
  m: Tensor;
  v: Tensor;
  steps: number;
}

export class Adam {
  readonly config: AdamConfig;
  readonly #params: ParameterSet;
  readonly #moments = new Map<string, Moments>();

  constructor(params: ParameterSet, config: Partial<AdamConfig> = {}) {
    if (!(params instanceof ParameterSet)) {
      throw new PixelCNNError('ERR_TYPE', `Adam: params must be a model's parameters (model.parameters), got ${kindOf(params)}`);
    }
    this.#params = params;
    this.config = resolveAdamConfig(config, 'Adam settings');
  }

  /** One update of every parameter that has a gradient, at learning rate `lr`. */
  step(lr = this.config.lr): void {
    const backend = this.#params.backend;
    const updates: AdamUpdate[] = [];
    const stepped: Moments[] = [];
    for (const p of this.#params.list()) {
      if (!p.grad) continue;
      let moments = this.#moments.get(p.name);
      if (!moments) {
        moments = { m: backend.zeros(p.shape), v: backend.zeros(p.shape), steps: 0 };
        this.#moments.set(p.name, moments);
      }
      updates.push({ param: p.value, grad: p.grad, m: moments.m, v: moments.v, step: moments.steps + 1 });
      stepped.push(moments);
    }
    backend.adamStep(updates, { ...this.config, lr }); // all at once: one native call
    for (const moments of stepped) moments.steps++; // counted once the update is applied
  }

  /** The state as checkpoint tensors and a metadata string. */
  stateDict(): { tensors: Map<string, RawTensor>; steps: Record<string, number> } {
    const tensors = new Map<string, RawTensor>();
    const steps: Record<string, number> = {};
    for (const [name, moments] of this.#moments) {
      tensors.set(`optimizer.${name}.m`, rawTensor(moments.m.toFloat32Array(), moments.m.shape));
      tensors.set(`optimizer.${name}.v`, rawTensor(moments.v.toFloat32Array(), moments.v.shape));
      steps[name] = moments.steps;
    }
    return { tensors, steps };
  }

  /**
   * Replaces the state with a checkpoint's: all of it, or (ERR_CHECKPOINT, naming what
   * is wrong) none of it, the current state kept.
   */
  loadStateDict(tensors: Map<string, RawTensor>, steps: Record<string, number>): void {
    if (typeof steps !== 'object' || steps === null) {
      throw new PixelCNNError('ERR_CHECKPOINT', 'the optimizer\'s step counts are missing');
    }
    // Everything is checked and read on the host first, so that a bad entry changes nothing.
    const loaded: [string, Float32Array, Float32Array, number][] = [];
    for (const [name, count] of Object.entries(steps)) {
      const m = tensors.get(`optimizer.${name}.m`);
      const v = tensors.get(`optimizer.${name}.v`);
      if (!this.#params.has(name) || !m || !v || !Number.isSafeInteger(count) || count < 1) {
        throw new PixelCNNError('ERR_CHECKPOINT', `optimizer state for ${name} is missing or invalid`);
      }
      const shape = this.#params.get(name).shape;
      for (const [moment, tensor] of [['m', m], ['v', v]] as const) {
        if (!sameShape(tensor.shape, shape)) {
          throw new PixelCNNError(
            'ERR_CHECKPOINT', `optimizer.${name}.${moment} has shape [${tensor.shape}], expected [${shape}]`,
          );
        }
      }
      const [first, second] = [toFloat32(m, `optimizer.${name}.m`), toFloat32(v, `optimizer.${name}.v`)];
      // A NaN, an infinity or a negative second moment would turn the weights to NaN at the first step.
      for (const [moment, values] of [['m', first], ['v', second]] as const) {
        const at = values.findIndex((x) => !Number.isFinite(x) || (moment === 'v' && x < 0));
        if (at >= 0) {
          throw new PixelCNNError(
            'ERR_CHECKPOINT',
            `optimizer.${name}.${moment}[${at}] is ${values[at]}: the optimizer's moments must be finite${moment === 'v' ? ' and ≥ 0' : ''}`,
          );
        }
      }
      loaded.push([name, first, second, count]);
    }
    const backend = this.#params.backend;
    const moments = new Map<string, Moments>();
    // If device memory runs out, the moments already uploaded go and nothing changes.
    backend.disposeOnError(() => {
      for (const [name, m, v, count] of loaded) {
        const shape = this.#params.get(name).shape;
        moments.set(name, { m: backend.tensor(m, shape), v: backend.tensor(v, shape), steps: count });
      }
    });
    this.dispose();
    for (const [name, entry] of moments) this.#moments.set(name, entry);
  }

  dispose(): void {
    for (const { m, v } of this.#moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.#moments.clear();
  }
}
