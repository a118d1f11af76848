/**
 * Fused softmax cross-entropy: per-image NLL in nats against the oracle, the
 * logits' gradient against finite differences, K = 2 and K = 256, uint8 and int32
 * targets, and stability with huge logits at K = 256 and with logits far from zero.
 */
import { describe, expect, it } from 'vitest';

import { cpu, f32, read } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { farLogits } from '../helpers/far-logits';
import { expectGradient } from '../helpers/finite-diff';
import { integers, makeRng, numel, uniform } from '../helpers/random';
import { crossEntropy } from '../oracle/loss';

const shapes: [number, number, number, number, number][] = [
  [2, 1, 2, 3, 4], // binarized
  [1, 3, 256, 2, 3], // RGB, 8-bit
  [3, 1, 4, 5, 1],
  [2, 2, 256, 1, 2],
];

describe.each(shapes)('cross-entropy on logits [%i, %i, %i, %i, %i]', (...shape) => {
  const [batch, channels, levels, height, width] = shape;
  const targetShape = [batch, channels, height, width];
  const rng = makeRng(numel(shape));
  const logits = uniform(rng, numel(shape), 4);
  const targets = integers(rng, numel(targetShape), levels);

  it.each(['uint8', 'int32'] as const)('with %s targets: NLL and gradient', (dtype) => {
    const tt = cpu.tensor(dtype === 'uint8' ? Uint8Array.from(targets) : targets, targetShape);
    const lt = f32(logits, shape);
    const scale = 0.37;
    const { nll, gradLogits } = cpu.softmaxCrossEntropy(lt, tt, { gradScale: scale });
    expect(nll.shape).toEqual([batch]);
    expectClose(read(nll), crossEntropy(logits, targets, shape), 1e-6, 'nll');
    const total = (v: Float64Array) => scale * crossEntropy(v, targets, shape).reduce((a, b) => a + b);
    expectGradient(read(gradLogits), total, logits.slice(), { rng, samples: 64, what: 'logits' });
    expect(cpu.softmaxCrossEntropy(lt, tt).gradLogits).toBeUndefined();
  });
});

it('stays finite and exact with logits in the thousands at K = 256', () => {
  const shape: [number, number, number, number, number] = [2, 1, 256, 2, 2];
  const rng = makeRng(9);
  const logits = uniform(rng, numel(shape), 3000);
  const targets = integers(rng, 8, 256);
  const { nll, gradLogits } = cpu.softmaxCrossEntropy(f32(logits, shape), cpu.tensor(targets, [2, 1, 2, 2]), { gradScale: 1 });
  expectClose(read(nll), crossEntropy(logits, targets, shape), 1e-6, 'nll');
  const grad = read(gradLogits);
  expect(grad.every(Number.isFinite)).toBe(true);
  // Each position's gradient sums to zero over the levels (softmax minus one-hot).
  for (let i = 0; i < 8; i++) {
    const n = Math.floor(i / 4);
    let sum = 0;
    for (let k = 0; k < 256; k++) sum += grad[(n * 256 + k) * 4 + (i % 4)];
    expect(Math.abs(sum)).toBeLessThan(1e-5);
  }
});

it('keeps log Σ exp beside logits far from zero (diverged weights): the NLL of tied top levels is log(their number)', () => {
  const shape: [number, number, number, number, number] = [2, 3, 4, 3, 5];
  const { logits, targets, perImage } = farLogits(makeRng(10), shape);
  const got = read(cpu.softmaxCrossEntropy(cpu.tensor(logits, shape), cpu.tensor(targets, [2, 3, 3, 5])).nll);
  expect(perImage.every((v) => v > 10)).toBe(true);
  expectClose(got, perImage, 1e-6, 'nll');
  expectClose(got, crossEntropy(logits, targets, shape), 1e-6, 'nll against the oracle');
});
