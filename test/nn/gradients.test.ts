/**
 * The whole model against a float64 oracle composed from SPEC.md §4 in test code
 * (test/oracle/model.ts): its logits, and every parameter's gradient against
 * central finite differences of the oracle's NLL, on small models with every kind
 * of conditioning and with C = 2 (so head.prev is live).
 */
import { describe, expect, it } from 'vitest';

import type { ConfigInput } from '../../src/nn/config';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { expectGradient } from '../helpers/finite-diff';
import { integers, makeRng, uniform } from '../helpers/random';
import { oracleLogits, oracleNll } from '../oracle/model';

const configs: (ConfigInput & { name: string })[] = [
  { name: 'C=2, all conditioning', channels: 2, height: 5, width: 4, levels: 3, hidden: 3, layers: 3, firstKernel: 3, kernel: 3, skip: 4, headHidden: 5, classes: 3, condDim: 2, spatialCond: 2 },
  { name: 'C=1, K=256, n0=7', channels: 1, height: 6, width: 7, levels: 256, hidden: 4, layers: 2, firstKernel: 7, kernel: 5, skip: 3, headHidden: 4 },
  { name: 'C=3, classes, one block', channels: 3, height: 3, width: 5, levels: 4, hidden: 2, layers: 1, firstKernel: 5, kernel: 3, skip: 2, headHidden: 3, classes: 2 },
];

describe.each(configs)('model vs float64 oracle: $name', ({ name, ...input }) => {
  const rng = makeRng(name.length * 17);
  const model = GatedPixelCNN.create(input, { backend: cpu, seed: 5 });
  const config = model.config;
  const batch = 3;
  const images = Uint8Array.from(integers(rng, batch * config.channels * config.height * config.width, config.levels));
  const cond = {
    labels: config.classes ? Int32Array.from(integers(rng, batch, config.classes)) : undefined,
    vectors: config.condDim ? Float32Array.from(uniform(rng, batch * config.condDim)) : undefined,
    spatial: config.spatialCond ? Float32Array.from(uniform(rng, batch * config.spatialCond * config.height * config.width)) : undefined,
  };
  const weights = new Map([...model.weights()].map(([k, v]) => [k, Float64Array.from(v)]));

  it('logits and NLL match the oracle', () => {
    expectClose(model.logits(images, cond), oracleLogits(config, weights, images, batch, cond), 1e-5, 'logits');
    expectClose(model.nll(images, cond), oracleNll(config, weights, images, batch, cond), 1e-5, 'nll');
  });

  it('a bad gradient scale is refused before any work, leaking nothing', () => {
    expect(() => model.backward(images, cond, { gradScale: NaN })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });

  it('every parameter gradient matches finite differences of the oracle NLL', () => {
    model.parameters.zeroGrad();
    model.backward(images, cond, { gradScale: 1 });
    for (const p of model.parameters.list()) {
      const analytic = p.grad ? p.grad.toFloat32Array() : new Float32Array(p.value.size);
      const values = Float64Array.from(weights.get(p.name)!);
      const loss = (x: Float64Array) => {
        const trial = new Map<string, ArrayLike<number>>(weights).set(p.name, x);
        return oracleNll(config, trial, images, batch, cond).reduce((a, b) => a + b, 0);
      };
      expectGradient(analytic, loss, values, { rng, samples: 8, tolerance: 1e-3, what: p.name });
    }
  });
});
