/**
 * Checkpoints (SPEC.md §8): models round-trip through a file bit for bit, a file
 * built byte by byte from the spec's table loads into the weights put in it (so that
 * writer and reader cannot share a misreading), and every malformed file is refused
 * with ERR_CHECKPOINT and a reason, leaving the process able to load the next one.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PixelCNNError } from '../../src/errors';
import {
  decodeSafetensors, encodeSafetensors, rawTensor, type SafetensorsFile,
} from '../../src/io/safetensors';
import { decodeCheckpoint, encodeCheckpoint, readCheckpoint } from '../../src/nn/checkpoint';
import type { ConfigInput, ModelConfig } from '../../src/nn/config';
import type { Conditioning } from '../../src/nn/batch-inputs';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { integers, makeRng, uniform, type Rng } from '../helpers/random';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpcnn-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
/** Writes bytes to a fresh file in the temp dir and returns its path. */
function fileWith(bytes: Uint8Array, name = `ckpt-${fileCount++}.safetensors`): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** The error `fn` throws (fails the test if it returns). */
function thrown(fn: () => unknown): PixelCNNError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PixelCNNError);
    return error as PixelCNNError;
  }
  throw new Error('expected an error, but none was thrown');
}

const bitsOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function expectSameWeights(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, values] of expected) {
    const got = actual.get(name)!;
    expect(got, name).toBeInstanceOf(Float32Array);
    expect(got.length, name).toBe(values.length);
    // Bit for bit (also tells -0 from 0 and keeps NaN payloads, were there any).
    expect(Buffer.from(bitsOf(got)).equals(Buffer.from(bitsOf(values))), name).toBe(true);
  }
}

/** Random images and whatever conditioning the configuration needs. */
function batchFor(config: ModelConfig, batch: number, rng: Rng): { images: Uint8Array; cond: Conditioning } {
  const { channels: C, height: H, width: W } = config;
  const images = Uint8Array.from(integers(rng, batch * C * H * W, config.levels));
  const cond: Conditioning = {};
  if (config.classes > 0) cond.labels = integers(rng, batch, config.classes);
  if (config.condDim > 0) cond.vectors = Float32Array.from(uniform(rng, batch * config.condDim));
  if (config.spatialCond > 0) cond.spatial = Float32Array.from(uniform(rng, batch * config.spatialCond * H * W));
  return { images, cond };
}

// ---------------------------------------------------------------------------------
// Round trips

const roundTripConfigs: (ConfigInput & { name: string; present: string[] })[] = [
  {
    name: 'C=1 with classes',
    channels: 1, height: 5, width: 4, levels: 4, hidden: 3, layers: 2, firstKernel: 3, kernel: 3,
    skip: 3, headHidden: 4, classes: 3, condDim: 0, spatialCond: 0,
    present: ['blocks.0.class_v.weight', 'blocks.1.class_h.weight'],
  },
  {
    name: 'C=3 with a global vector and a spatial map',
    channels: 3, height: 4, width: 5, levels: 4, hidden: 3, layers: 2, firstKernel: 3, kernel: 3,
    skip: 3, headHidden: 4, classes: 0, condDim: 2, spatialCond: 2,
    present: ['blocks.0.cond_v.weight', 'blocks.1.cond_h.weight', 'blocks.0.spatial_v.weight', 'blocks.1.spatial_h.weight', 'head.prev'],
  },
];

describe('checkpoint round trip', () => {
  for (const { name, present, ...input } of roundTripConfigs) {
    it(`create → save → load keeps every weight and the logits bit for bit (${name})`, () => {
      const model = GatedPixelCNN.create(input, { backend: cpu, seed: 11 });
      const file = path.join(dir, `roundtrip-${input.channels}.safetensors`);
      model.save(file);
      const loaded = GatedPixelCNN.load(file, { backend: cpu });
      try {
        expect(loaded.config).toEqual(model.config);
        const weights = model.weights();
        for (const tensor of present) expect(weights.has(tensor), tensor).toBe(true);
        for (const [tensor, values] of weights) {
          expect(values.some((v) => v !== 0), `${tensor} is not all zeros`).toBe(true);
        }
        expectSameWeights(loaded.weights(), weights);

        const { images, cond } = batchFor(model.config, 3, makeRng(5));
        const before = model.logits(images, cond);
        const after = loaded.logits(images, cond);
        expect(before.length).toBe(3 * input.channels * input.levels! * input.height * input.width);
        expect(Buffer.from(bitsOf(after)).equals(Buffer.from(bitsOf(before)))).toBe(true);
      } finally {
        model.dispose();
        loaded.dispose();
      }
    });
  }

  it('keeps a class-conditional model\'s class names, as a JSON array under metadata "classNames"', () => {
    const { name: _name, present: _present, ...input } = roundTripConfigs[0];
    const classNames = Array.from({ length: input.classes! }, (_, y) => `class ${y} ✓`);
    const model = GatedPixelCNN.create(input, { backend: cpu, seed: 3, classNames });
    const file = path.join(dir, 'class-names.safetensors');
    model.save(file);
    const loaded = GatedPixelCNN.load(file, { backend: cpu });
    try {
      expect(loaded.classNames).toEqual(classNames);
      expect(readCheckpoint(file).extras.classNames).toEqual(classNames);
      expect(readCheckpoint(file).extras.metadata).toEqual({});
      expect(JSON.parse(decodeSafetensors(fs.readFileSync(file)).metadata.classNames)).toEqual(classNames);
      expect(() => model.save(file, { metadata: { classNames: '[]' } })).toThrow(/give class names as extras\.classNames/);
    } finally {
      model.dispose();
      loaded.dispose();
    }
    expect(() => GatedPixelCNN.create(input, { backend: cpu, classNames: classNames.slice(1) })).toThrow(
      new PixelCNNError('ERR_ARG', `model: class names must name each of the ${input.classes} classes, got ${input.classes! - 1}`),
    );
  });

  it('keeps extras (optimizer tensors, metadata) for readCheckpoint; load ignores them', () => {
    const { name: _name, present: _present, ...input } = roundTripConfigs[0];
    const model = GatedPixelCNN.create(input, { backend: cpu, seed: 3 });
    const file = path.join(dir, 'extras.safetensors');
    model.save(file, {
      tensors: new Map([['optimizer.step', rawTensor(new Int32Array([7]), [1])]]),
      metadata: { note: 'x' },
    });

    const checkpoint = readCheckpoint(file);
    expect(checkpoint.config).toEqual(model.config);
    expectSameWeights(checkpoint.weights, model.weights());
    expect([...checkpoint.extras.tensors.keys()]).toEqual(['optimizer.step']);
    const step = checkpoint.extras.tensors.get('optimizer.step')!;
    expect(step.dtype).toBe('I32');
    expect(step.shape).toEqual([1]);
    expect([...step.data]).toEqual([7, 0, 0, 0]);
    expect(checkpoint.extras.metadata).toEqual({ note: 'x' });

    // The raw file still says what SPEC.md §8 says, beside the extra entry.
    const raw = decodeSafetensors(fs.readFileSync(file));
    expect(raw.metadata.format).toBe('gated-pixelcnn');
    expect(raw.metadata.version).toBe('1');
    expect(raw.metadata.note).toBe('x');

    const loaded = GatedPixelCNN.load(file, { backend: cpu });
    try {
      expectSameWeights(loaded.weights(), model.weights());
      expect(loaded.weights().has('optimizer.step')).toBe(false);
    } finally {
      model.dispose();
      loaded.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------
// A file built by hand from SPEC.md §8

/**
 * C=1, H=W=3, K=2, p=1, L=1, n0=3 (r0=1), n=3, s=1, q=1, no conditioning. From the
 * table of §8 with Cin = C = 1, and §3's first-block kernels: vertical r0 × n0 = 1 × 3,
 * horizontal 1 × r0 = 1 × 1. No head.prev (C = 1), no class/cond/spatial tensors.
 */
const tinyConfig = {
  channels: 1, height: 3, width: 3, levels: 2, hidden: 1, layers: 1, firstKernel: 3,
  kernel: 3, skip: 1, headHidden: 1, classes: 0, condDim: 0, spatialCond: 0,
};
const tinyTensors: [string, number[]][] = [
  ['blocks.0.v.weight', [2, 1, 1, 3]],
  ['blocks.0.v.bias', [2]],
  ['blocks.0.h.weight', [2, 1, 1, 1]],
  ['blocks.0.h.bias', [2]],
  ['blocks.0.vh.weight', [2, 2, 1, 1]],
  ['blocks.0.vh.bias', [2]],
  ['blocks.0.res.weight', [1, 1, 1, 1]],
  ['blocks.0.res.bias', [1]],
  ['blocks.0.skip.weight', [1, 1, 1, 1]],
  ['blocks.0.skip.bias', [1]],
  ['head.hidden.weight', [1, 1, 1, 1]],
  ['head.hidden.bias', [1]],
  ['head.out.weight', [2, 1, 1, 1]],
  ['head.out.bias', [2]],
];

function tinyWeights(seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  return new Map(
    tinyTensors.map(([name, shape]) => [name, Float32Array.from(uniform(rng, shape.reduce((a, b) => a * b, 1)))]),
  );
}

/**
 * The file of SPEC.md §8 without our encoder: a JSON header written as a string,
 * its length as a little-endian u64, then each tensor's float32 values, little-endian,
 * in the order given.
 */
function handBuiltFile(order: [string, number[]][], weights: Map<string, Float32Array>): Uint8Array {
  const configJson = JSON.stringify(JSON.stringify(tinyConfig)); // a JSON string holding JSON
  let header = `{"__metadata__":{"format":"gated-pixelcnn","version":"1","config":${configJson}}`;
  let offset = 0;
  for (const [name, shape] of order) {
    const bytes = weights.get(name)!.length * 4;
    header += `,"${name}":{"dtype":"F32","shape":[${shape.join(',')}],"data_offsets":[${offset},${offset + bytes}]}`;
    offset += bytes;
  }
  header += '}';
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true); // low half of the u64
  view.setUint32(4, 0, true); // high half
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [name] of order) {
    for (const value of weights.get(name)!) {
      view.setFloat32(at, value, true);
      at += 4;
    }
  }
  expect(at).toBe(out.length);
  return out;
}

describe('a checkpoint built byte by byte from SPEC.md §8', () => {
  it('loads into exactly the weights written into it', () => {
    const weights = tinyWeights(21);
    const file = fileWith(handBuiltFile(tinyTensors, weights));
    const model = GatedPixelCNN.load(file, { backend: cpu });
    try {
      expect(model.config).toEqual(tinyConfig);
      const loaded = model.weights();
      expect([...loaded.keys()]).toEqual(tinyTensors.map(([name]) => name));
      for (const [name, shape] of tinyTensors) {
        expect(model.parameters.get(name).shape, name).toEqual(shape);
        expect([...loaded.get(name)!], name).toEqual([...weights.get(name)!]);
      }
      // And the model computes with them: logits [B, C, K, H, W], finite.
      const logits = model.logits(Uint8Array.from(integers(makeRng(4), 2 * 9, 2)));
      expect(logits.length).toBe(2 * 1 * 2 * 3 * 3);
      expect(logits.every(Number.isFinite)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('does not depend on the order of tensors in the header or the data', () => {
    const weights = tinyWeights(22);
    const shuffled = [...tinyTensors].reverse();
    const model = GatedPixelCNN.load(fileWith(handBuiltFile(shuffled, weights)), { backend: cpu });
    try {
      expectSameWeights(model.weights(), weights);
    } finally {
      model.dispose();
    }
  });

  it('is what encodeCheckpoint writes for the same configuration and weights', () => {
    const weights = tinyWeights(23);
    const ours = encodeCheckpoint(tinyConfig, weights);
    // Decoded by our reader, and by a reader that knows only the format.
    const decoded = decodeCheckpoint(ours);
    expect(decoded.config).toEqual(tinyConfig);
    expectSameWeights(decoded.weights, weights);

    const view = new DataView(ours.buffer, ours.byteOffset, ours.byteLength);
    const headerLength = Number(view.getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(ours.subarray(8, 8 + headerLength))) as Record<
      string, { dtype: string; shape: number[]; data_offsets: [number, number] }
    > & { __metadata__: Record<string, string> };
    expect(header.__metadata__.format).toBe('gated-pixelcnn');
    expect(header.__metadata__.version).toBe('1');
    expect(JSON.parse(header.__metadata__.config)).toEqual(tinyConfig);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names.sort()).toEqual(tinyTensors.map(([name]) => name).sort());
    for (const [name, shape] of tinyTensors) {
      const entry = header[name];
      expect(entry.dtype, name).toBe('F32');
      expect(entry.shape, name).toEqual(shape);
      const [begin, end] = entry.data_offsets;
      const values = weights.get(name)!;
      expect(end - begin, name).toBe(values.length * 4);
      for (let i = 0; i < values.length; i++) {
        expect(view.getFloat32(8 + headerLength + begin + 4 * i, true), name).toBe(values[i]);
      }
    }
    // And the hand-built file decodes to the same thing.
    const theirs = decodeCheckpoint(handBuiltFile(tinyTensors, weights));
    expect(theirs.config).toEqual(decoded.config);
    expectSameWeights(theirs.weights, decoded.weights);
  });
});

// ---------------------------------------------------------------------------------
// Malformed checkpoints

/** A valid checkpoint of a small C=3 model with classes (so head.prev and class tables exist). */
const badBaseConfig: ConfigInput = {
  channels: 3, height: 4, width: 3, levels: 4, hidden: 3, layers: 2, firstKernel: 3, kernel: 3,
  skip: 3, headHidden: 4, classes: 2, condDim: 0, spatialCond: 0,
};

function validBytes(): Uint8Array {
  const model = GatedPixelCNN.create(badBaseConfig, { backend: cpu, seed: 9 });
  try {
    return encodeCheckpoint(model.config, model.weights());
  } finally {
    model.dispose();
  }
}

/** Decodes a valid file, lets `edit` change it, and encodes it again. */
function edited(edit: (file: SafetensorsFile) => void): Uint8Array {
  const file = decodeSafetensors(validBytes());
  const copy: SafetensorsFile = {
    metadata: { ...file.metadata },
    tensors: new Map([...file.tensors].map(([name, t]) => [name, { ...t, shape: [...t.shape], data: t.data.slice() }])),
  };
  edit(copy);
  return encodeSafetensors(copy);
}

type HeaderEntry = { dtype: string; shape: number[]; data_offsets: [number, number] };

/** A valid file split into its parsed header and its data section. */
function splitFile(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  return { header, data: bytes.slice(8 + headerLength) };
}

/** Bytes from a header (object or raw text) and a data section, length written by hand. */
function joinFile(header: Record<string, unknown> | string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Tensor entries of a parsed header, in data order. */
function entriesByOffset(header: Record<string, unknown>): [string, HeaderEntry][] {
  return Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, entry]) => [name, entry as HeaderEntry] as [string, HeaderEntry])
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
}

/** Loads the bytes from a file and expects ERR_CHECKPOINT naming the file and the problem. */
function expectRefused(bytes: Uint8Array, reason: RegExp): void {
  const file = fileWith(bytes);
  const error = thrown(() => GatedPixelCNN.load(file, { backend: cpu }));
  expect(error.code).toBe('ERR_CHECKPOINT');
  expect(error.message).toContain(file);
  expect(error.message).toMatch(reason);
  // The in-memory decoder refuses it the same way.
  const direct = thrown(() => decodeCheckpoint(bytes));
  expect(direct.code).toBe('ERR_CHECKPOINT');
  expect(direct.message).toMatch(reason);
}

describe('malformed checkpoints are refused with ERR_CHECKPOINT and a reason', () => {
  it('the valid base file loads (so each fault below is the only one)', () => {
    const model = GatedPixelCNN.load(fileWith(validBytes()), { backend: cpu });
    expect(model.weights().has('head.prev')).toBe(true);
    expect(model.weights().has('blocks.1.class_h.weight')).toBe(true);
    model.dispose();
  });

  it('a truncated file', () => {
    const bytes = validBytes();
    expectRefused(bytes.slice(0, bytes.length - 6), /truncated/);
  });

  it('a file cut inside its header', () => {
    expectRefused(validBytes().slice(0, 40), /header length \d+ runs past the end/);
  });

  it('a file shorter than the 8-byte length', () => {
    expectRefused(validBytes().slice(0, 5), /shorter than the 8-byte header length/);
  });

  it('a header length past the end of the file', () => {
    const bytes = validBytes();
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, BigInt(bytes.length), true);
    expectRefused(bytes, /header length \d+ runs past the end/);
  });

  it('a header that is not valid JSON', () => {
    const { data } = splitFile(validBytes());
    expectRefused(joinFile('{"__metadata__": {"format": "gated-pixelcnn",', data), /not valid JSON/);
  });

  it('overlapping data offsets', () => {
    const { header, data } = splitFile(validBytes());
    const entries = entriesByOffset(header);
    // Move the second tensor 4 bytes back into the first, and every later one with it,
    // dropping the 4 bytes at the end so that nothing else is wrong.
    for (const [, entry] of entries.slice(1)) {
      entry.data_offsets = [entry.data_offsets[0] - 4, entry.data_offsets[1] - 4];
    }
    expectRefused(joinFile(header, data.slice(0, data.length - 4)), new RegExp(`"${entries[1][0].replace(/\./g, '\\.')}".*overlaps`));
  });

  it('a hole between two tensors', () => {
    const { header, data } = splitFile(validBytes());
    const entries = entriesByOffset(header);
    const split = entries[3][1].data_offsets[0];
    for (const [, entry] of entries.slice(3)) {
      entry.data_offsets = [entry.data_offsets[0] + 4, entry.data_offsets[1] + 4];
    }
    const padded = new Uint8Array(data.length + 4);
    padded.set(data.subarray(0, split), 0);
    padded.set(data.subarray(split), split + 4);
    expectRefused(joinFile(header, padded), /hole of 4 bytes/);
  });

  it('trailing bytes after the last tensor', () => {
    const { header, data } = splitFile(validBytes());
    const padded = new Uint8Array(data.length + 8);
    padded.set(data);
    expectRefused(joinFile(header, padded), /8 trailing bytes/);
  });

  it('a shape whose size times the dtype does not match its byte range', () => {
    const { header, data } = splitFile(validBytes());
    const entry = header['head.hidden.bias'] as HeaderEntry;
    expect(entry.shape).toEqual([4]);
    entry.shape = [5];
    expectRefused(joinFile(header, data), /"head\.hidden\.bias".*needs 20 bytes.*give 16/);
  });

  it('a model tensor missing for the configuration', () => {
    expectRefused(edited((f) => f.tensors.delete('head.prev')), /missing tensors: head\.prev/);
  });

  it('a conditioning tensor missing for the configuration', () => {
    expectRefused(edited((f) => f.tensors.delete('blocks.1.class_v.weight')), /missing tensors: blocks\.1\.class_v\.weight/);
  });

  it('an extra tensor not under optimizer.', () => {
    const bytes = edited((f) => f.tensors.set('blocks.0.cond_v.weight', rawTensor(new Float32Array(6), [6, 1])));
    expectRefused(bytes, /unexpected tensor blocks\.0\.cond_v\.weight/);
  });

  it('a model tensor of dtype F64 instead of F32', () => {
    const bytes = edited((f) => {
      const t = f.tensors.get('blocks.0.vh.bias')!;
      const values = new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
      f.tensors.set('blocks.0.vh.bias', rawTensor(Float64Array.from(values), t.shape));
    });
    expectRefused(bytes, /blocks\.0\.vh\.bias has dtype F64, expected F32/);
  });

  it('a model tensor of dtype I32 instead of F32', () => {
    const bytes = edited((f) => f.tensors.set('head.out.bias', rawTensor(Int32Array.from({ length: 12 }, (_, i) => i), [12])));
    expectRefused(bytes, /head\.out\.bias has dtype I32, expected F32/);
  });

  it('a model tensor of the wrong shape (same number of elements)', () => {
    const bytes = edited((f) => {
      const t = f.tensors.get('blocks.1.vh.weight')!; // [6, 6, 1, 1]
      f.tensors.set('blocks.1.vh.weight', { ...t, shape: [6, 6] });
    });
    expectRefused(bytes, /blocks\.1\.vh\.weight has shape \[6,6\], expected \[6,6,1,1\]/);
  });

  it('a model tensor of the wrong shape (transposed)', () => {
    const bytes = edited((f) => {
      const t = f.tensors.get('blocks.0.class_v.weight')!; // [2, 6]
      f.tensors.set('blocks.0.class_v.weight', { ...t, shape: [6, 2] });
    });
    expectRefused(bytes, /blocks\.0\.class_v\.weight has shape \[6,2\], expected \[2,6\]/);
  });

  it('metadata format other than "gated-pixelcnn"', () => {
    expectRefused(edited((f) => { f.metadata.format = 'pixelcnn++'; }), /format is "pixelcnn\+\+", expected "gated-pixelcnn"/);
  });

  it('no metadata at all', () => {
    expectRefused(edited((f) => { f.metadata = {}; }), /no "format" in its __metadata__/);
  });

  it('an unsupported version', () => {
    expectRefused(edited((f) => { f.metadata.version = '2'; }), /version "2" is not supported/);
  });

  it('a config that is not JSON', () => {
    expectRefused(edited((f) => { f.metadata.config = '{channels: 3'; }), /"config" is not valid JSON/);
  });

  it('a config that is JSON but not an object', () => {
    expectRefused(edited((f) => { f.metadata.config = '[3, 4, 3]'; }), /"config" is not a JSON object/);
  });

  it.each([
    ['not JSON', '["a", ', /"classNames" is not valid JSON/],
    ['not an array', '{"0": "a"}', /"classNames": class names must be an array of strings/],
    ['one name short', '["a"]', /"classNames": class names must name each of the 2 classes, got 1/],
    ['a name twice', '["a", "a"]', /"classNames": class names must differ, but "a" names two classes/],
    ['an empty name', '["a", ""]', /"classNames": class names must be non-empty strings, got "" for class 1/],
    ['a number for a name', '["a", 1]', /"classNames": class names must be non-empty strings, got 1 for class 1/],
  ])('class names that are %s', (_, json, reason) => {
    expectRefused(edited((f) => { f.metadata.classNames = json; }), reason);
  });

  it('no config', () => {
    expectRefused(edited((f) => { delete f.metadata.config; }), /no "config"/);
  });

  it('a config missing a key', () => {
    const bytes = edited((f) => {
      const config = JSON.parse(f.metadata.config) as Record<string, unknown>;
      delete config.skip;
      f.metadata.config = JSON.stringify(config);
    });
    expectRefused(bytes, /"config" lacks skip/);
  });

  it('a config with an invalid value (firstKernel 4)', () => {
    const bytes = edited((f) => {
      f.metadata.config = JSON.stringify({ ...JSON.parse(f.metadata.config), firstKernel: 4 });
    });
    expectRefused(bytes, /"config" is invalid: firstKernel must be an integer odd and ≥ 3, got 4/);
  });

  it('a config beyond this implementation\'s limits, refused before anything is built (a hundred million blocks)', () => {
    const bytes = edited((f) => {
      f.metadata.config = JSON.stringify({ ...JSON.parse(f.metadata.config), layers: 1e8 });
    });
    expectRefused(bytes, /"config" is invalid: layers must be at most 4096/);
  });

  it('a config whose class table would not fit one array', () => {
    const bytes = edited((f) => {
      f.metadata.config = JSON.stringify({ ...JSON.parse(f.metadata.config), classes: 2 ** 31 });
    });
    expectRefused(bytes, /"config" is invalid: blocks\.0\.class_v\.weight would hold/);
  });

  it('a config with a value of the wrong type', () => {
    const bytes = edited((f) => {
      f.metadata.config = JSON.stringify({ ...JSON.parse(f.metadata.config), hidden: '3' });
    });
    expectRefused(bytes, /"config" is invalid: hidden/);
  });

  it('a config with an unknown key', () => {
    const bytes = edited((f) => {
      f.metadata.config = JSON.stringify({ ...JSON.parse(f.metadata.config), dropout: 0 });
    });
    expectRefused(bytes, /"config" is invalid: .*dropout/);
  });

  it('a config that disagrees with the tensors (hidden 4 with tensors of hidden 3)', () => {
    const bytes = edited((f) => {
      f.metadata.config = JSON.stringify({ ...JSON.parse(f.metadata.config), hidden: 4 });
    });
    expectRefused(bytes, /has shape .* expected/);
  });

  it.each([NaN, Infinity, -Infinity])('a weight that is %s, naming it (it would make every logit NaN)', (bad) => {
    expectRefused(edited((file) => {
      const data = file.tensors.get('blocks.1.h.weight')!.data;
      new DataView(data.buffer, data.byteOffset, data.byteLength).setFloat32(4 * 5, bad, true);
    }), new RegExp(`tensor: blocks\\.1\\.h\\.weight\\[5\\] is ${bad}: weights must be finite`));
    // Nor can such weights build a model or be written.
    const model = GatedPixelCNN.create(badBaseConfig, { backend: cpu, seed: 9 });
    const weights = model.weights();
    weights.get('head.out.bias')![2] = bad;
    expect(thrown(() => GatedPixelCNN.fromWeights(model.config, weights, cpu))).toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/head\.out\.bias\[2\] is/) });
    expect(thrown(() => encodeCheckpoint(model.config, weights))).toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/head\.out\.bias\[2\] is/) });
    model.dispose();
  });

  it('a missing file is ERR_IO, not ERR_CHECKPOINT', () => {
    const file = path.join(dir, 'does-not-exist.safetensors');
    const error = thrown(() => GatedPixelCNN.load(file, { backend: cpu }));
    expect(error.code).toBe('ERR_IO');
    expect(error.message).toContain(file);
  });

  it('a directory in place of the file is ERR_IO', () => {
    const error = thrown(() => GatedPixelCNN.load(dir, { backend: cpu }));
    expect(error.code).toBe('ERR_IO');
  });

  it('leaves the process healthy: a valid checkpoint still loads and computes', () => {
    const model = GatedPixelCNN.create(badBaseConfig, { backend: cpu, seed: 9 });
    const file = path.join(dir, 'final.safetensors');
    model.save(file);
    const loaded = GatedPixelCNN.load(file, { backend: cpu });
    try {
      expectSameWeights(loaded.weights(), model.weights());
      const { images, cond } = batchFor(model.config, 2, makeRng(8));
      expect(Buffer.from(bitsOf(loaded.logits(images, cond))).equals(Buffer.from(bitsOf(model.logits(images, cond))))).toBe(true);
    } finally {
      model.dispose();
      loaded.dispose();
    }
  });
});
