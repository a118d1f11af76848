/**
 * Float64 reference of the whole model, composed from the op oracles exactly as
 * SPEC.md §4 reads, independent of src/nn. It gives exact logits to compare with
 * and an exact NLL to take finite differences of.
 */
import type { ModelConfig } from '../../src/nn/config';
import { embedding, linear } from './conditioning';
import { offsetConv } from './conv';
import { gate } from './gate';
import { headChannels } from './head';
import { crossEntropy } from './loss';

export interface OracleConditioning {
  labels?: ArrayLike<number>;
  vectors?: ArrayLike<number>;
  spatial?: ArrayLike<number>;
}

type Weights = Map<string, ArrayLike<number>>;

export function oracleLogits(
  config: ModelConfig,
  weights: Weights,
  images: ArrayLike<number>,
  batch: number,
  cond: OracleConditioning = {},
): Float64Array {
  const { channels: C, height: H, width: W, levels: K, hidden: p, skip: s, headHidden: q } = config;
  const w = (name: string) => weights.get(name)!;
  const xt = Float64Array.from(images, (x) => (2 * x) / (K - 1) - 1);
  const plane = H * W;
  const conv = (x: ArrayLike<number>, cin: number, name: string, cout: number, kh: number, kw: number, dy: number, dx: number, bias = true, groups = 1) =>
    offsetConv(x, w(`${name}.weight`), bias ? w(`${name}.bias`) : null, {
      input: [batch, cin, H, W], weight: [cout, cin / groups, kh, kw], dy, dx, groups,
    });
  const add = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);
  const r0 = Math.floor(config.firstKernel / 2);
  const r = Math.floor(config.kernel / 2);

  let v: ArrayLike<number> = xt;
  let h: ArrayLike<number> = xt;
  let skip = new Float64Array(batch * s * plane);
  for (let l = 0; l < config.layers; l++) {
    const cin = l === 0 ? C : p;
    const at = `blocks.${l}.`;
    const uV = l === 0 ? conv(v, cin, `${at}v`, 2 * p, r0, config.firstKernel, r0, r0) : conv(v, cin, `${at}v`, 2 * p, r + 1, config.kernel, r, r);
    const uH = l === 0 ? conv(h, cin, `${at}h`, 2 * p, 1, r0, 0, r0) : conv(h, cin, `${at}h`, 2 * p, 1, r + 1, 0, r);
    const terms = (z: string) => {
      const bias = new Float64Array(batch * 2 * p);
      if (config.classes > 0) bias.set(add(bias, embedding(w(`${at}class_${z}.weight`), 2 * p, cond.labels!)));
      if (config.condDim > 0) bias.set(add(bias, linear(cond.vectors!, w(`${at}cond_${z}.weight`), batch, config.condDim, 2 * p)));
      const spatial = config.spatialCond > 0
        ? offsetConv(cond.spatial!, w(`${at}spatial_${z}.weight`), null, { input: [batch, config.spatialCond, H, W], weight: [2 * p, config.spatialCond, 1, 1], dy: 0, dx: 0, groups: 1 })
        : undefined;
      return { bias, spatial };
    };
    const vOut = gate(uV, [batch, 2 * p, H, W], terms('v'));
    const vh = conv(uV, 2 * p, `${at}vh`, 2 * p, 1, 1, 0, 0);
    const g = gate(uH, [batch, 2 * p, H, W], { ...terms('h'), extra: vh });
    const res = conv(g, p, `${at}res`, p, 1, 1, 0, 0);
    h = l === 0 ? res : add(h, res);
    v = vOut;
    skip = add(skip, conv(g, p, `${at}skip`, s, 1, 1, 0, 0));
  }
  const relued = skip.map((x) => Math.max(x, 0));
  const zs = conv(relued, s, 'head.hidden', q, 1, 1, 0, 0);
  const z = headChannels(zs, C > 1 ? w('head.prev') : null, xt, { batch, q, channels: C, plane });
  return conv(z, C * q, 'head.out', C * K, 1, 1, 0, 0, true, C);
}

export function oracleNll(
  config: ModelConfig,
  weights: Weights,
  images: ArrayLike<number>,
  batch: number,
  cond: OracleConditioning = {},
): Float64Array {
  const logits = oracleLogits(config, weights, images, batch, cond);
  return crossEntropy(logits, images, [batch, config.channels, config.levels, config.height, config.width]);
}
