/** Small configurations that exercise every path of the cached samplers, and random conditioning for them. */
import type { ConfigInput, ModelConfig } from '../../src/nn/config';
import type { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { integers, makeRng, uniform } from './random';

export const samplerConfigs: (ConfigInput & { name: string })[] = [
  { name: 'C=1, K=4, classes', channels: 1, height: 7, width: 6, levels: 4, hidden: 8, layers: 4, firstKernel: 7, kernel: 3, skip: 6, headHidden: 8, classes: 3 },
  { name: 'C=3, K=256, every conditioning', channels: 3, height: 5, width: 6, levels: 256, hidden: 6, layers: 3, firstKernel: 3, kernel: 5, skip: 5, headHidden: 7, classes: 2, condDim: 3, spatialCond: 2 },
  { name: 'C=2, one block, 1×9', channels: 2, height: 1, width: 9, levels: 3, hidden: 4, layers: 1, firstKernel: 5, kernel: 3, skip: 4, headHidden: 4 },
];

/** Random known pixels for `count` images: levels and a mask that keeps about half. */
export function randomKnown(config: Pick<ModelConfig, 'channels' | 'height' | 'width' | 'levels'>, count: number, seed: number) {
  const rng = makeRng(seed);
  const n = count * config.channels * config.height * config.width;
  return { images: Uint8Array.from(integers(rng, n, config.levels)), mask: Uint8Array.from(integers(rng, n, 2)) };
}

export function samplerConditioning(model: GatedPixelCNN, count: number, seed: number) {
  const rng = makeRng(seed);
  const c = model.config;
  return {
    labels: c.classes ? Int32Array.from(integers(rng, count, c.classes)) : undefined,
    vectors: c.condDim ? Float32Array.from(uniform(rng, count * c.condDim)) : undefined,
    spatial: c.spatialCond ? Float32Array.from(uniform(rng, count * c.spatialCond * c.height * c.width)) : undefined,
  };
}

