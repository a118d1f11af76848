/**
 * CPU vs CUDA, in the manner of ggml's test-backend-ops: every op, forward and
 * backward, run on both backends from the same random inputs and compared by
 * normalized error; then whole-model parity (the same weights give the same
 * per-image NLL). Skips cleanly where no GPU answers.
 */
import { describe, expect, it } from 'vitest';

import { backendReport, loadBackend, type Backend, type Tensor } from '../../src';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { normalizedError } from '../helpers/compare';
import { farLogits } from '../helpers/far-logits';
import { cudaAvailable, emulatorRequested, tf32 } from '../helpers/cuda';
import { integers, makeRng, numel, uniform } from '../helpers/random';

const convTolerance = tf32 ? 5e-3 : 1e-5;

type HostValue = { data: Float32Array | Int32Array | Uint8Array; shape: number[] };
type Op = (be: Backend, t: (v: HostValue) => Tensor) => (Tensor | undefined)[];

function compare(name: string, op: Op, tolerance: number): void {
  const results = ['cpu', 'cuda'].map((backendName) => {
    const be = loadBackend(backendName as 'cpu' | 'cuda');
    const inputs: Tensor[] = [];
    const outputs = op(be, (v) => {
      const t = be.tensor(v.data, v.shape);
      inputs.push(t);
      return t;
    });
    const values = outputs.map((t) => (t ? Array.from(t.toArray()) : null));
    // Freeing checks the guard regions around every tensor (test/setup/guards.ts).
    for (const t of [...outputs, ...inputs]) t?.dispose();
    return values;
  });
  results[0].forEach((cpuOut, i) => {
    const cudaOut = results[1][i];
    expect(cudaOut === null, `${name} output ${i} presence`).toBe(cpuOut === null);
    if (!cpuOut || !cudaOut) return;
    expect(cudaOut.every(Number.isFinite), `${name} output ${i} finite`).toBe(true);
    const error = normalizedError(cudaOut, cpuOut);
    expect(error, `${name} output ${i}: normalized error ${error.toExponential(2)}`).toBeLessThanOrEqual(tolerance);
  });
}

const rng = makeRng(2024);
const f32 = (shape: number[], scale = 1): HostValue => ({ data: Float32Array.from(uniform(rng, numel(shape), scale)), shape });

describe.skipIf(!cudaAvailable)('CPU vs CUDA, op by op', () => {
  it.each([
    { kernel: [1, 3], dy: 1, dx: 1, cin: 1, cout: 8 }, // first vertical, n0 = 3
    { kernel: [3, 7], dy: 3, dx: 3, cin: 3, cout: 8 }, // first vertical, n0 = 7 (negative pad)
    { kernel: [1, 3], dy: 0, dx: 3, cin: 3, cout: 8 }, // first horizontal, n0 = 7
    { kernel: [2, 3], dy: 1, dx: 1, cin: 16, cout: 32 }, // vertical, n = 3
    { kernel: [1, 2], dy: 0, dx: 1, cin: 16, cout: 32 }, // horizontal, n = 3
    { kernel: [1, 1], dy: 0, dx: 0, cin: 32, cout: 32 }, // 1×1
  ])('offset convolution $kernel at ($dy, $dx), $cin -> $cout', ({ kernel, dy, dx, cin, cout }) => {
    const x = f32([3, cin, 9, 7]);
    const w = f32([cout, cin, ...kernel], 0.3);
    const b = f32([cout]);
    const gy = f32([3, cout, 9, 7]);
    const gx0 = f32([3, cin, 9, 7]);
    compare('conv', (be, t) => {
      const options = { dy, dx };
      const g = be.conv2dBackwardWeights(t(x), t(gy), kernel as [number, number], { ...options, bias: true });
      const gx = t(gx0);
      be.conv2dBackwardDataAccumulate(gx, t(gy), t(w), options);
      return [
        be.conv2d(t(x), t(w), t(b), options), be.conv2dBackwardData(t(gy), t(w), options), g.gradWeight, g.gradBias,
        gx, be.channelSums(t(gy)),
      ];
    }, convTolerance);
  });

  it('offset convolution over planes of 144 values (bias added four at a time, summed in several steps a warp)', () => {
    const x = f32([2, 3, 12, 12]);
    const w = f32([5, 3, 2, 3], 0.3);
    const b = f32([5]);
    const gy = f32([2, 5, 12, 12]);
    compare('conv, 144-value planes', (be, t) => {
      const g = be.conv2dBackwardWeights(t(x), t(gy), [2, 3], { dy: 1, dx: 1, bias: true });
      return [be.conv2d(t(x), t(w), t(b), { dy: 1, dx: 1 }), g.gradWeight, g.gradBias];
    }, convTolerance);
  });

  it('grouped 1×1 convolution (head.out)', () => {
    const x = f32([2, 12, 5, 5]);
    const w = f32([9, 4, 1, 1]);
    const gy = f32([2, 9, 5, 5]);
    compare('grouped conv', (be, t) => {
      const g = be.conv2dBackwardWeights(t(x), t(gy), [1, 1], { groups: 3, bias: true });
      return [be.conv2d(t(x), t(w), null, { groups: 3 }), be.conv2dBackwardData(t(gy), t(w), { groups: 3 }), g.gradWeight, g.gradBias];
    }, convTolerance);
  });

  it('gate with every term, forward and backward', () => {
    // Planes of 1 122 values: more than one round of the backward kernel's four positions a thread.
    const shape = [3, 8, 33, 34];
    const [u, extra, spatial, gOut] = [f32(shape, 2), f32(shape), f32(shape), f32([3, 4, 33, 34])];
    const bias = f32([3, 8]);
    compare('gate', (be, t) => {
      const terms = { extra: t(extra), bias: t(bias), spatial: t(spatial) };
      const back = be.gateBackward(t(gOut), t(u), terms);
      return [be.gate(t(u), terms), back.gradInput, back.gradBias];
    }, 1e-5);
  });

  it('gate without terms (no bias gradient), forward and backward', () => {
    const [u, gOut] = [f32([2, 6, 7, 5], 2), f32([2, 3, 7, 5])];
    compare('bare gate', (be, t) => [be.gate(t(u)), be.gateBackward(t(gOut), t(u)).gradInput], 1e-5);
  });

  it('embedding, linear, add, accumulate, channel sums, relu', () => {
    const table = f32([10, 6]);
    const labels: HostValue = { data: Int32Array.from([3, 9, 3, 0]), shape: [4] };
    const g6 = f32([4, 6]);
    const x = f32([4, 5]);
    const w = f32([6, 5]);
    // 210 values: the elementwise kernels' four-at-a-time loop and its scalar rest.
    const a = f32([2, 3, 7, 5]);
    const b = f32([2, 3, 7, 5]);
    compare('conditioning and elementwise', (be, t) => {
      const sums = [be.channelSums(t(a)), be.channelSums(t(g6))];
      const lin = be.linearBackward(t(g6), t(x), t(w), { inputGrad: true });
      const acc = t(a);
      be.accumulate(acc, t(b));
      return [
        be.embedding(t(table), t(labels)), be.embeddingBackward(t(g6), t(labels), 10),
        be.linear(t(x), t(w)), lin.gradWeight, lin.gradInput,
        be.add(t(a), t(b)), acc, be.relu(t(a)), be.reluBackward(t(b), t(a)), ...sums,
      ];
    }, 1e-6);
  });

  it('head channels, C = 3', () => {
    const hidden = f32([2, 4, 3, 5]);
    const prev = f32([4, 3, 3]);
    const xt = f32([2, 3, 3, 5]);
    const gOut = f32([2, 12, 3, 5]);
    compare('head', (be, t) => {
      const out = be.headChannels(t(hidden), t(prev), t(xt));
      const back = be.headChannelsBackward(t(gOut), out, t(xt), { prev: true });
      return [out, back.gradHidden, back.gradPrev];
    }, 1e-5);
  });

  it.each([2, 256])('softmax cross-entropy, K = %i', (levels) => {
    const logits = f32([2, 3, levels, 4, 3], 5);
    const targets: HostValue = { data: Uint8Array.from(integers(rng, 2 * 3 * 4 * 3, levels)), shape: [2, 3, 4, 3] };
    compare('cross-entropy', (be, t) => {
      const r = be.softmaxCrossEntropy(t(logits), t(targets), { gradScale: 0.5 });
      return [r.nll, r.gradLogits];
    }, 1e-5);
  });

  it('softmax cross-entropy with logits far from zero (diverged weights)', () => {
    const shape: [number, number, number, number, number] = [2, 3, 4, 3, 5];
    const { logits, targets, perImage } = farLogits(rng, shape);
    const be = loadBackend('cuda');
    const [lt, tt] = [be.tensor(logits, shape), be.tensor(targets, [2, 3, 3, 5])];
    const result = be.softmaxCrossEntropy(lt, tt);
    const error = normalizedError(Array.from(result.nll.toArray()), perImage);
    for (const t of [lt, tt, result.nll]) t.dispose();
    expect(error, `normalized error ${error.toExponential(2)}`).toBeLessThanOrEqual(1e-6);
  });

  it('adam, adamw, global norm and clipping', () => {
    const [param, grad, m] = [f32([300]), f32([300]), f32([300])];
    const v: HostValue = { data: Float32Array.from(uniform(rng, 300)).map(Math.abs), shape: [300] };
    compare('optimizer', (be, t) => {
      const [p1, m1, v1, p2, m2, v2] = [t(param), t(m), t(v), t(param), t(m), t(v)];
      be.adamStep([{ param: p1, grad: t(grad), m: m1, v: v1, step: 3 }], { lr: 0.01, weightDecay: 0.1 });
      be.adamStep([{ param: p2, grad: t(grad), m: m2, v: v2, step: 3 }], { lr: 0.01, weightDecay: 0.1, decoupled: true });
      const g = t(grad);
      const norm = be.tensor(Float32Array.of(be.globalNorm([g, p1])), [1]);
      be.clipGradNorm([g], 0.5);
      return [p1, m1, v1, p2, m2, v2, norm, g];
    }, 1e-6);
  });

  it('adam over 50 parameters in one call (two launches), each with its own step; their global norm', () => {
    const sizes = Array.from({ length: 50 }, (_, k) => 1 + ((k * 37) % 300));
    const values = sizes.map((n) => [f32([n]), f32([n]), f32([n]), { data: Float32Array.from(uniform(rng, n)).map(Math.abs), shape: [n] }]);
    compare('many parameters', (be, t) => {
      const updates = values.map(([param, grad, m, v], k) => ({ param: t(param), grad: t(grad), m: t(m), v: t(v), step: 1 + (k % 7) }));
      be.adamStep(updates, { lr: 0.01, weightDecay: 0.1 });
      const norm = be.tensor(Float32Array.of(be.globalNorm(updates.map((u) => u.param))), [1]);
      return [...updates.flatMap((u) => [u.param, u.m, u.v]), norm];
    }, 1e-6);
  });

  it('moving averages over 50 pairs in one call (two launches)', () => {
    const sizes = Array.from({ length: 50 }, (_, k) => 1 + ((k * 41) % 300));
    const pairs = sizes.map((n) => [f32([n]), f32([n])]);
    compare('moving averages', (be, t) => {
      const averages = pairs.map(([average]) => t(average));
      be.movingAverage(averages, pairs.map(([, value]) => t(value)), 0.99);
      return averages;
    }, 1e-6);
  });

  it('refuses labels and levels out of range with ERR_RANGE, and keeps working', () => {
    const be = loadBackend('cuda');
    const table = be.tensor(new Float32Array(20), [10, 2]);
    expect(() => be.embedding(table, be.tensor(Int32Array.of(1, 10), [2]))).toThrow(expect.objectContaining({ code: 'ERR_RANGE' }));
    const logits = be.tensor(new Float32Array(2 * 4), [1, 1, 2, 2, 2]);
    expect(() => be.softmaxCrossEntropy(logits, be.tensor(Uint8Array.of(0, 1, 2, 0), [1, 1, 2, 2]))).toThrow(expect.objectContaining({ code: 'ERR_RANGE' }));
    expect([...be.relu(be.tensor(Float32Array.of(-1, 2), [2])).toArray()]).toEqual([0, 2]);
  });
});

describe.skipIf(!cudaAvailable)('CPU vs CUDA, the whole model', () => {
  it('the same weights give the same per-image NLL and gradients', () => {
    const config = { channels: 3, height: 8, width: 8, levels: 16, hidden: 16, layers: 4, firstKernel: 7, kernel: 3, skip: 16, headHidden: 16, classes: 5 };
    const cpuModel = GatedPixelCNN.create(config, { backend: 'cpu', seed: 1 });
    const cudaModel = GatedPixelCNN.fromWeights(cpuModel.config, cpuModel.weights(), 'cuda');
    const images = Uint8Array.from(integers(rng, 6 * 3 * 64, 16));
    const cond = { labels: Int32Array.from([0, 1, 2, 3, 4, 0]) };
    // Relative error of the NLL: ≤ 1e-4 in fp32 math (GATED_PIXELCNN_TF32=0); TF32 convolutions allow 1e-3.
    const tolerance = tf32 ? 1e-3 : 1e-4;
    expect(normalizedError(cudaModel.nll(images, cond), cpuModel.nll(images, cond))).toBeLessThanOrEqual(tolerance);
    cpuModel.backward(images, cond);
    cudaModel.backward(images, cond);
    for (const p of cpuModel.parameters.list()) {
      const theirs = cudaModel.parameters.get(p.name).grad;
      expect(theirs === null, p.name).toBe(p.grad === null);
      if (!p.grad || !theirs) continue;
      expect(normalizedError(theirs.toFloat32Array(), p.grad.toFloat32Array()), p.name).toBeLessThanOrEqual(tf32 ? 2e-2 : 1e-3);
    }
  });
});

it.runIf(emulatorRequested)('GATED_PIXELCNN_CUDA_EMULATOR runs this suite on the CUDA emulator', () => {
  expect(cudaAvailable).toBe(true);
  expect(loadBackend('cuda').features.device).toBe('CUDA emulator on the CPU');
});

it('without a GPU, CUDA is reported unavailable with a reason and auto picks the CPU', () => {
  const report = backendReport();
  const cuda = report.candidates.find((c) => c.name === 'cuda')!;
  if (cuda.available) return; // nothing to check on a GPU machine
  expect(cuda.detail.length).toBeGreaterThan(5);
  expect(report.chosen).toBe(process.env.GATED_PIXELCNN_BACKEND || 'cpu');
  expect(() => loadBackend('cuda')).toThrow(expect.objectContaining({ code: 'ERR_BACKEND' }));
});
