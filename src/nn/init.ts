/**
 * Initial weights, as PyTorch initializes the same layers: every convolution and
 * matrix uniform in ±1/√fan_in (weights and biases alike, fan_in from the weight),
 * class tables uniform with unit variance (as nn.Embedding's N(0, 1) has).
 */
import type { ModelConfig } from './config';
import { parameterShapes, shapeSize } from './layout';

export function initialParameters(
  config: ModelConfig,
  random: () => number,
): Map<string, Float32Array> {
  const shapes = parameterShapes(config);
  const values = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    values.set(name, uniform(shapeSize(shape), bound(name, shape, shapes), random));
  }
  return values;
}

function bound(name: string, shape: number[], shapes: Map<string, number[]>): number {
  if (/class_[vh]\.weight$/.test(name)) return Math.sqrt(3);
  if (name === 'head.prev') return 1 / Math.sqrt(shape[1]);
  // A bias takes its weight's fan-in; a weight's fan-in is everything but its first dimension.
  const weight = name.endsWith('.bias') ? shapes.get(name.replace(/bias$/, 'weight'))! : shape;
  const fanIn = weight.slice(1).reduce((a, b) => a * b, 1);
  return 1 / Math.sqrt(fanIn);
}

function uniform(n: number, limit: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * limit;
  return out;
}
