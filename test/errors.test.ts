/**
 * Malformed calls throw errors with stable codes and never crash the process or
 * change their in-place arguments; each is checked through the TypeScript API and,
 * bypassing it, against the native addon directly.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { PixelCNNError, type Tensor } from '../src';
import { cpu, f32, i32, rawAddon } from './helpers/backend';
import { expectCode } from './helpers/expect-code';
import { makeRng, uniform } from './helpers/random';

const rng = makeRng(42);
const x = f32(uniform(rng, 2 * 3 * 4 * 5), [2, 3, 4, 5]);
const w = f32(uniform(rng, 6 * 3 * 2 * 3), [6, 3, 2, 3]);
const u = f32(uniform(rng, 2 * 6 * 4 * 5), [2, 6, 4, 5]);
const table = f32(uniform(rng, 10 * 6), [10, 6]);
const logits = f32(uniform(rng, 2 * 1 * 4 * 3 * 3), [2, 1, 4, 3, 3]);


describe('through the TypeScript API', () => {
  const cases: [string, string, () => unknown][] = [
    ['conv weight with the wrong input channels', 'ERR_SHAPE', () => cpu.conv2d(x, f32(uniform(rng, 12), [2, 2, 1, 3]), null)],
    ['conv input of rank 3', 'ERR_SHAPE', () => cpu.conv2d(f32(uniform(rng, 12), [3, 2, 2]), w, null)],
    ['conv bias of the wrong length', 'ERR_SHAPE', () => cpu.conv2d(x, w, f32(uniform(rng, 5), [5]))],
    ['conv groups that do not divide the channels', 'ERR_SHAPE', () => cpu.conv2d(x, w, null, { groups: 2 })],
    ['conv with an int32 input', 'ERR_DTYPE', () => cpu.conv2d(i32([1, 2, 3, 4], [1, 1, 2, 2]), w, null)],
    ['conv with a NaN offset', 'ERR_ARG', () => cpu.conv2d(x, w, null, { dy: NaN })],
    ['conv with a fractional offset', 'ERR_ARG', () => cpu.conv2d(x, w, null, { dx: 0.5 })],
    ['conv backward with a zero kernel size', 'ERR_ARG', () => cpu.conv2dBackwardWeights(x, x, [0, 1], { bias: false })],
    ['gate with an odd channel count', 'ERR_SHAPE', () => cpu.gate(x)],
    ['gate bias of the wrong shape', 'ERR_SHAPE', () => cpu.gate(u, { bias: f32(uniform(rng, 6), [1, 6]) })],
    ['gate extra of the wrong shape', 'ERR_SHAPE', () => cpu.gate(u, { extra: x })],
    ['embedding label out of range', 'ERR_RANGE', () => cpu.embedding(table, i32([3, 10], [2]))],
    ['embedding negative label', 'ERR_RANGE', () => cpu.embedding(table, i32([-1], [1]))],
    ['embedding float labels', 'ERR_DTYPE', () => cpu.embedding(table, f32(uniform(rng, 2), [2]))],
    ['embedding backward label out of range', 'ERR_RANGE', () => cpu.embeddingBackward(f32(uniform(rng, 12), [2, 6]), i32([0, 12], [2]), 10)],
    ['linear feature mismatch', 'ERR_SHAPE', () => cpu.linear(f32(uniform(rng, 6), [2, 3]), table)],
    ['add of different shapes', 'ERR_SHAPE', () => cpu.add(x, u)],
    ['head without prev for C = 3', 'ERR_ARG', () => cpu.headChannels(u, null, x)],
    ['cross-entropy target level out of range', 'ERR_RANGE', () => cpu.softmaxCrossEntropy(logits, cpu.tensor(Uint8Array.from({ length: 18 }, (_, i) => (i === 7 ? 4 : 1)), [2, 1, 3, 3]))],
    ['cross-entropy targets of the wrong shape', 'ERR_SHAPE', () => cpu.softmaxCrossEntropy(logits, i32([0, 1], [2]))],
    ['cross-entropy float targets', 'ERR_DTYPE', () => cpu.softmaxCrossEntropy(logits, f32(uniform(rng, 18), [2, 1, 3, 3]))],
    ['cross-entropy NaN gradient scale', 'ERR_ARG', () => cpu.softmaxCrossEntropy(logits, cpu.zeros([2, 1, 3, 3], 'uint8'), { gradScale: NaN })],
    ['cross-entropy gradient scale beyond a float', 'ERR_ARG', () => cpu.softmaxCrossEntropy(logits, cpu.zeros([2, 1, 3, 3], 'uint8'), { gradScale: 1e300 })],
    ['clipping with a NaN limit', 'ERR_ARG', () => cpu.clipGradNorm([x], NaN)],
    ['clipping with a negative limit', 'ERR_ARG', () => cpu.clipGradNorm([x], -1)],
    ['tensor data shorter than the shape', 'ERR_LENGTH', () => cpu.tensor(new Float32Array(5), [2, 3])],
    ['tensor with a zero dimension', 'ERR_SHAPE', () => cpu.tensor(new Float32Array(0), [2, 0])],
    ['tensor with six dimensions', 'ERR_SHAPE', () => cpu.tensor(new Float32Array(1), [1, 1, 1, 1, 1, 1])],
    ['tensor from a Float64Array', 'ERR_DTYPE', () => cpu.tensor(new Float64Array(2) as never, [2])],
    ['zeros of an unknown dtype', 'ERR_DTYPE', () => cpu.zeros([2], 'float16' as never)],
    ['an op given a plain object', 'ERR_TYPE', () => cpu.relu({ shape: [1] } as unknown as Tensor)],
  ];
  it.each(cases)('%s -> %s', (_, code, call) => {
    expectCode(code, call);
  });

  it('errors are PixelCNNError instances that name the op', () => {
    const error = expectCode('ERR_SHAPE', () => cpu.add(x, u));
    expect(error).toBeInstanceOf(PixelCNNError);
    expect(error.message).toMatch(/^add: /);
  });

  it.each([
    ['lr NaN', { lr: NaN }],
    ['negative lr', { lr: -1 }],
    ['beta1 of 1', { beta1: 1 }],
    ['beta2 NaN', { beta2: NaN }],
    ['eps of 0', { eps: 0 }],
    ['eps that is 0 as a float', { eps: 1e-46 }],
    ['lr beyond a float', { lr: 1e300 }],
    ['weight decay beyond a float', { weightDecay: 1e300 }],
    ['lr × weight decay beyond a float', { lr: 1e20, weightDecay: 1e20, decoupled: true }],
    ['negative weight decay', { weightDecay: -0.1 }],
    ['step 0', { step: 0 }],
    ['fractional step', { step: 1.5 }],
  ])('adamStep with %s fails with ERR_ARG and leaves every tensor unchanged', (_, bad) => {
    const param = f32(uniform(rng, 8), [8]);
    const m = f32(uniform(rng, 8), [8]);
    const v = f32(uniform(rng, 8, 1).map(Math.abs), [8]);
    const before = [param, m, v].map((t) => t.toFloat32Array());
    const { step = 1, ...options } = bad as { step?: number };
    // A good update listed first: nothing is applied unless every update is valid.
    const first = { param: f32(uniform(rng, 8), [8]), grad: f32(uniform(rng, 8), [8]), m: cpu.zeros([8]), v: cpu.zeros([8]), step: 1 };
    const firstBefore = first.param.toFloat32Array();
    expectCode('ERR_ARG', () => cpu.adamStep([first, { param, grad: f32(uniform(rng, 8), [8]), m, v, step }], { lr: 0.1, ...options }));
    expect(first.param.toFloat32Array()).toEqual(firstBefore);
    expect([param, m, v].map((t) => t.toFloat32Array())).toEqual(before);
  });

  it('adamStep listing a tensor twice (or a view of it) fails with ERR_ARG and changes nothing', () => {
    const param = f32(uniform(rng, 8), [8]);
    const before = param.toFloat32Array();
    const update = () => ({ param, grad: f32(uniform(rng, 8), [8]), m: cpu.zeros([8]), v: cpu.zeros([8]), step: 1 });
    expectCode('ERR_ARG', () => cpu.adamStep([update(), update()], { lr: 0.1 }));
    const view = { ...update(), param: cpu.reshape(param, [2, 4]), grad: f32(uniform(rng, 8), [2, 4]), m: cpu.zeros([2, 4]), v: cpu.zeros([2, 4]) };
    expectCode('ERR_ARG', () => cpu.adamStep([update(), view], { lr: 0.1 }));
    expect(param.toFloat32Array()).toEqual(before);
  });

  it('clipGradNorm listing a tensor twice (or a view of it) fails with ERR_ARG and changes nothing', () => {
    const grad = f32(uniform(rng, 8), [8]);
    const before = grad.toFloat32Array();
    expectCode('ERR_ARG', () => cpu.clipGradNorm([grad, grad], 1e-3));
    expectCode('ERR_ARG', () => cpu.clipGradNorm([grad, cpu.reshape(grad, [2, 4])], 1e-3));
    expect(grad.toFloat32Array()).toEqual(before);
  });

  it('adamStep with moments of the wrong shape fails with ERR_SHAPE', () => {
    expectCode('ERR_SHAPE', () => cpu.adamStep([{ param: f32(uniform(rng, 8), [8]), grad: f32(uniform(rng, 8), [8]), m: cpu.zeros([4]), v: cpu.zeros([8]), step: 1 }], { lr: 0.1 }));
  });

  it('accumulate into a tensor of another shape fails and leaves the target unchanged', () => {
    const target = f32(uniform(rng, 6), [6]);
    const before = target.toFloat32Array();
    expectCode('ERR_SHAPE', () => cpu.accumulate(target, f32(uniform(rng, 4), [4])));
    expect(target.toFloat32Array()).toEqual(before);
  });

  it('a tensor from another backend instance is refused', async () => {
    const { Backend } = await import('../src');
    const other = new Backend(rawAddon());
    expectCode('ERR_BACKEND', () => cpu.relu(other.zeros([2])));
  });
});

describe('against the native addon directly', () => {
  const addon = rawAddon();
  const nx = addon.tensorFromArray(new Float32Array(2 * 3 * 4 * 5).fill(0.5), [2, 3, 4, 5]);
  const cases: [string, string, () => unknown][] = [
    ['a plain object as a tensor', 'ERR_TYPE', () => addon.relu({} as never)],
    ['an object faking a tensor', 'ERR_TYPE', () => addon.relu({ shape: [1], dtype: 'float32', toArray() {} } as never)],
    ['a missing argument', 'ERR_TYPE', () => (addon.convForward as (...a: unknown[]) => unknown)(nx)],
    ['a string as an offset', 'ERR_TYPE', () => addon.convForward(nx, nx, null, '1' as never, 0, 1)],
    ['Infinity as an offset', 'ERR_ARG', () => addon.convForward(nx, nx, null, Infinity, 0, 1)],
    ['groups of 0', 'ERR_ARG', () => addon.convForward(nx, nx, null, 0, 0, 0)],
    ['a shape that is not an array', 'ERR_TYPE', () => addon.tensorZeros(3 as never, 'float32')],
    ['a shape with a negative dimension', 'ERR_SHAPE', () => addon.tensorZeros([2, -1], 'float32')],
    ['a shape too large to allocate', 'ERR_SHAPE', () => addon.tensorZeros([1 << 30, 1 << 30], 'float32')],
    ['an options object that is a number', 'ERR_TYPE', () => addon.adamStep([nx], [nx], [nx], [nx], [1], 5 as never)],
    ['a tensor list with a hole', 'ERR_TYPE', () => addon.globalNorm([nx, undefined as never])],
  ];
  it.each(cases)('%s -> %s', (_, code, call) => {
    expectCode(code, call);
  });

  it('a sampling request whose sizes would overflow is refused before anything is allocated', () => {
    const config = { channels: 1, height: 2 ** 52, width: 2 ** 12, levels: 4, hidden: 1, layers: 1, firstKernel: 3, kernel: 3, skip: 1, headHidden: 1, classes: 0, condDim: 0, spatialCond: 0 };
    const request = { config, weights: {}, batch: 1, firstImage: 0, temperature: 1, seed: 0, keepLogits: false };
    expectCode('ERR_SHAPE', () => addon.sampleCached!(request as never));
    expectCode('ERR_SHAPE', () => addon.sampleCached!({ ...request, config: { ...config, height: 4, width: 4, firstKernel: 2 ** 52 + 1 } } as never));
  });

  it('a sampling request with a known level beyond the model\'s levels is refused (ERR_RANGE)', () => {
    const config = { channels: 1, height: 2, width: 2, levels: 2, hidden: 1, layers: 1, firstKernel: 3, kernel: 3, skip: 1, headHidden: 1, classes: 0, condDim: 0, spatialCond: 0 };
    const request = { config, weights: {}, batch: 1, firstImage: 0, temperature: 1, seed: 0, keepLogits: false, known: Uint8Array.of(0, 200, 1, 0), knownMask: Uint8Array.of(1, 1, 1, 1) };
    expectCode('ERR_RANGE', () => addon.sampleCached!(request as never));
  });

  it('tensorFromArray reads its data after the shape, whose getters may resize the buffer', () => {
    // A resizable ArrayBuffer (ES2024, beyond this project's type library).
    type Resizable = ArrayBuffer & { resize(bytes: number): void };
    const buffer = new (ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => Resizable)(4096 * 4, { maxByteLength: 4096 * 4 });
    const data = new Float32Array(buffer).fill(1.5);
    const shape = [0];
    Object.defineProperty(shape, 0, { get: () => (buffer.resize(0), 4096) });
    expectCode('ERR_LENGTH', () => addon.tensorFromArray(data, shape));
  });

  it('tensorFromArray takes an array over a SharedArrayBuffer', () => {
    const data = new Float32Array(new SharedArrayBuffer(4 * 4)).fill(2.5);
    expect([...addon.tensorFromArray(data, [4]).toArray()]).toEqual([2.5, 2.5, 2.5, 2.5]);
  });

  it('the native class cannot be constructed from JS', () => {
    const NativeTensor = Object.getPrototypeOf(nx).constructor;
    expectCode('ERR_TYPE', () => new NativeTensor());
  });

  it('the process is still healthy after all of the above', () => {
    const t = addon.tensorFromArray(new Float32Array([1, -1]), [2]);
    expect([...addon.relu(t).toArray()]).toEqual([1, 0]);
  });
});

describe('error codes', () => {
  it('every code the native addon throws is one that ErrorCode names', () => {
    const root = path.resolve(__dirname, '..');
    const native = [...readFileSync(path.join(root, 'native', 'core', 'errors.h'), 'utf8').matchAll(/"(ERR_[A-Z_]+)"/g)].map((m) => m[1]);
    const typed = new Set([...readFileSync(path.join(root, 'src', 'errors.ts'), 'utf8').matchAll(/\| '(ERR_[A-Z_]+)'/g)].map((m) => m[1]));
    expect(native.length).toBeGreaterThan(10);
    expect(native.filter((code) => !typed.has(code))).toEqual([]);
  });
});
