/**
 * The safetensors reader and writer: round trips, a file built byte by byte from the
 * format description (so that encoder and decoder cannot share a misreading), and
 * one case per malformation the reference implementation refuses, each of which must
 * throw ERR_CHECKPOINT with a reason.
 */
import { describe, expect, it } from 'vitest';

import {
  decodeSafetensors,
  encodeSafetensors,
  rawTensor,
  toFloat32,
  type RawTensor,
  type SafetensorsFile,
} from '../../src/io/safetensors';
import { integers, makeRng, uniform } from '../helpers/random';
import { expectCode } from '../helpers/expect-code';

/** A file from a hand-written header and data section: 8-byte LE length, header, data. */
function build(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true); // low half of the u64
  view.setUint32(4, 0, true); // high half
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian float32 bytes, written one by one with DataView (independent of host order). */
function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

function i32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setInt32(i * 4, values[i], true);
  return out;
}

function randomBytes(seed: number, n: number): Uint8Array {
  return Uint8Array.from(integers(makeRng(seed), n, 256));
}

/** Runs `call` and returns its error, failing the test unless it is ERR_CHECKPOINT with a message. */
function checkpointError(call: () => unknown): Error {
  return expectCode('ERR_CHECKPOINT', call, 15);
}

const expectMalformed = (bytes: Uint8Array, reason: RegExp | string): void => {
  const message = checkpointError(() => decodeSafetensors(bytes)).message;
  if (typeof reason === 'string') expect(message).toBe(reason);
  else expect(message).toMatch(reason);
};

/** The header JSON of an encoded file, parsed. */
function headerOf(bytes: Uint8Array): Record<string, unknown> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
}

/** A valid entry header for tests that break one thing at a time. */
const entry = (dtype: string, shape: unknown, offsets: unknown): string =>
  JSON.stringify({ dtype, shape, data_offsets: offsets });

describe('round trip', () => {
  const rng = makeRng(7);
  const tensors = new Map<string, RawTensor>([
    ['conv.weight', rawTensor(Float32Array.from(uniform(rng, 2 * 3 * 4)), [2, 3, 4])],
    ['scalar', rawTensor(Float32Array.from(uniform(rng, 1)), [])], // 0-d: one element
    ['odd', rawTensor(Uint8Array.from(integers(rng, 7, 256)), [7])], // leaves what follows unaligned
    ['doubles', rawTensor(Float64Array.from(uniform(rng, 5, 1e6)), [5])],
    ['labels', rawTensor(Int32Array.from(integers(rng, 6, 1000), (v) => v - 500), [3, 2])],
    ['empty', rawTensor(new Float32Array(0), [0, 3])], // zero-size
    ['step', rawTensor(BigInt64Array.from([-(2n ** 62n), 12345678901234n]), [2])],
    ['half', { dtype: 'BF16', shape: [3], data: randomBytes(1, 6) }],
    ['mask', { dtype: 'BOOL', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) }],
    ['0', { dtype: 'U16', shape: [2], data: randomBytes(2, 4) }], // an integer-like name keeps its place
  ]);
  const file: SafetensorsFile = {
    metadata: { format: 'gated-pixelcnn', version: '1', config: JSON.stringify({ levels: 256, layers: 3 }) },
    tensors,
  };
  const bytes = encodeSafetensors(file);

  it('preserves names, order, dtypes, shapes, bytes and metadata', () => {
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual(file.metadata);
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, tensor] of tensors) {
      const got = back.tensors.get(name)!;
      expect(got.dtype, name).toBe(tensor.dtype);
      expect(got.shape, name).toEqual(tensor.shape);
      expect(Array.from(got.data), name).toEqual(Array.from(tensor.data));
    }
    expect(encodeSafetensors(back)).toEqual(bytes);
  });

  it('pads the header with spaces to a multiple of 8 bytes', () => {
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header.trimEnd().endsWith('}')).toBe(true);
    expect(header.slice(header.trimEnd().length)).toMatch(/^ {0,7}$/);
  });

  it('reads float32 back exactly, even from unaligned bytes', () => {
    const back = decodeSafetensors(bytes);
    const weight = back.tensors.get('conv.weight')!;
    expect(toFloat32(weight, 'conv.weight')).toEqual(new Float32Array(tensors.get('conv.weight')!.data.buffer));
    // Three bytes of U8 first put the F32 tensor off any 4-byte boundary, where a
    // Float32Array view of the bytes could not be made.
    const values = Float32Array.from(uniform(makeRng(8), 5));
    const shifted = decodeSafetensors(
      encodeSafetensors({
        metadata: {},
        tensors: new Map([
          ['odd', rawTensor(Uint8Array.from([1, 2, 3]), [3])],
          ['v', rawTensor(values, [5])],
        ]),
      }),
    ).tensors.get('v')!;
    expect(shifted.data.byteOffset % 4).not.toBe(0);
    expect(toFloat32(shifted, 'v')).toEqual(values);
    expect(toFloat32(back.tensors.get('scalar')!, 'scalar')).toHaveLength(1);
    expect(toFloat32(back.tensors.get('empty')!, 'empty')).toHaveLength(0);
  });

  it('writes an empty file as the reference does', () => {
    // The reference's serialize() of no tensors and no metadata: "{}" and six spaces.
    expect(Array.from(encodeSafetensors({ metadata: {}, tensors: new Map() }))).toEqual([
      8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32,
    ]);
    expect(decodeSafetensors(build('{}'))).toEqual({ metadata: {}, tensors: new Map() });
  });

  it('survives random damage with a checkpoint error or a valid file, never anything else', () => {
    const damage = makeRng(99);
    for (let trial = 0; trial < 400; trial++) {
      const copy = bytes.slice(0, trial % 4 === 0 ? Math.floor(damage() * bytes.length) : bytes.length);
      for (let k = 0; k < 3; k++) copy[Math.floor(damage() * copy.length)] = Math.floor(damage() * 256);
      try {
        decodeSafetensors(copy);
      } catch (error) {
        expect((error as { code?: string }).code, (error as Error).message).toBe('ERR_CHECKPOINT');
      }
    }
  });
});

describe('a file built by hand from the format description', () => {
  const rng = makeRng(2024);
  const weights = Float32Array.from(uniform(rng, 6, 3));
  const labels = Int32Array.from(integers(rng, 4, 1 << 30), (v, i) => (i % 2 ? -v : v));
  // Keys deliberately not in data order: the offsets, not the key order, place the data.
  const header =
    '{"labels":{"dtype":"I32","shape":[4],"data_offsets":[24,40]},' +
    '"__metadata__":{"format":"gated-pixelcnn","note":"h\\u00e9llo"},' +
    '"w":{"shape":[2,3],"dtype":"F32","data_offsets":[0,24]}}';
  const data = new Uint8Array(40);
  data.set(f32Bytes(weights), 0);
  data.set(i32Bytes(labels), 24);
  const handmade = build(header, data);

  it('decodes', () => {
    const file = decodeSafetensors(handmade);
    expect(file.metadata).toEqual({ format: 'gated-pixelcnn', note: 'héllo' });
    expect([...file.tensors.keys()]).toEqual(['w', 'labels']); // data order
    const w = file.tensors.get('w')!;
    expect(w.dtype).toBe('F32');
    expect(w.shape).toEqual([2, 3]);
    expect(toFloat32(w, 'w')).toEqual(weights);
    const l = file.tensors.get('labels')!;
    expect(l.dtype).toBe('I32');
    expect(l.shape).toEqual([4]);
    const view = new DataView(l.data.buffer, l.data.byteOffset, l.data.byteLength);
    expect(Array.from({ length: 4 }, (_, i) => view.getInt32(i * 4, true))).toEqual(Array.from(labels));
  });

  it('encodes the same content to a file that decodes to the same values', () => {
    const encoded = encodeSafetensors({
      metadata: { format: 'gated-pixelcnn', note: 'héllo' },
      tensors: new Map([
        ['w', rawTensor(weights, [2, 3])],
        ['labels', rawTensor(labels, [4])],
      ]),
    });
    // Same data section, byte for byte, since the layout is the same.
    expect(encoded.subarray(encoded.length - 40)).toEqual(data);
    expect(headerOf(encoded)).toEqual({
      __metadata__: { format: 'gated-pixelcnn', note: 'héllo' },
      w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      labels: { dtype: 'I32', shape: [4], data_offsets: [24, 40] },
    });
    const back = decodeSafetensors(encoded);
    expect(toFloat32(back.tensors.get('w')!, 'w')).toEqual(weights);
    expect(back.tensors.get('labels')!.data).toEqual(i32Bytes(labels));
  });
});

describe('malformed files throw ERR_CHECKPOINT', () => {
  const valid = encodeSafetensors({
    metadata: { format: 'gated-pixelcnn' },
    tensors: new Map([['w', rawTensor(Float32Array.from(uniform(makeRng(5), 6)), [2, 3])]]),
  });
  const data24 = randomBytes(3, 24);

  it('shorter than 8 bytes', () => {
    expectMalformed(new Uint8Array(0), /0 bytes, shorter than the 8-byte header length/);
    expectMalformed(valid.subarray(0, 5), /5 bytes, shorter than the 8-byte header length/);
  });

  it('data cut short', () => {
    expectMalformed(valid.subarray(0, valid.length - 3), /need 24 bytes of data but the file holds only 21: it is truncated/);
  });

  it('header length past the end of the file', () => {
    const bytes = new Uint8Array(300);
    new DataView(bytes.buffer).setUint32(0, 5000, true);
    expectMalformed(bytes, 'header length 5000 runs past the end of the 300-byte file');
    // The header itself cut short.
    expectMalformed(valid.subarray(0, 20), /runs past the end of the 20-byte file/);
  });

  it('header larger than the cap', () => {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 100_000_001, true);
    expectMalformed(bytes, /header length 100000001 is larger than the 100000000-byte limit/);
    view.setBigUint64(0, 2n ** 64n - 1n, true); // would wrap a 32-bit or signed reading
    expectMalformed(bytes, /header length 18446744073709551615 is larger than/);
  });

  it('header not valid UTF-8', () => {
    const json = new TextEncoder().encode('{"w":1}    ');
    json[2] = 0xff; // never valid in UTF-8
    expectMalformed(build(json), /not valid UTF-8/);
    expectMalformed(build(Uint8Array.from([0x7b, 0x22, 0xc3, 0x22, 0x7d, 0x20])), /not valid UTF-8/); // cut sequence
  });

  it('header not valid JSON', () => {
    expectMalformed(build('{"w": }'), /header is not valid JSON/);
    expectMalformed(build('{"w":{}} x'), /header is not valid JSON/);
  });

  it('header not a JSON object', () => {
    expectMalformed(build('[1, 2]  '), /header is not a JSON object: it starts with "\[1, 2\]/);
    expectMalformed(build('  {}    '), /header is not a JSON object: it starts with " /); // the reference wants '{' first
    expectMalformed(build('\ufeff{}'), /header is not a JSON object/); // a byte-order mark
    expectMalformed(build('"text"  '), /header is not a JSON object/);
  });

  it('bad __metadata__', () => {
    expectMalformed(build('{"__metadata__":{"format":"x","version":1}}'), /"__metadata__" value "version" is a number \(1\), not a string/);
    expectMalformed(build('{"__metadata__":{"k":null}}'), /"__metadata__" value "k" is null/);
    expectMalformed(build('{"__metadata__":["a"]}'), /"__metadata__" is an array, not an object of strings/);
    expectMalformed(build('{"__metadata__":"a"}'), /"__metadata__" is a string/);
  });

  it('a tensor entry that is not an object or lacks a field', () => {
    expectMalformed(build('{"w":[0,24]}'), /tensor "w" is an array, not an object/);
    expectMalformed(build('{"w":{"shape":[6],"data_offsets":[0,24]}}', data24), /tensor "w" has no "dtype"/);
    expectMalformed(build('{"w":{"dtype":"F32","data_offsets":[0,24]}}', data24), /tensor "w" has no "shape"/);
    expectMalformed(build('{"w":{"dtype":"F32","shape":[6]}}', data24), /tensor "w" has no "data_offsets"/);
  });

  it('unknown dtype', () => {
    expectMalformed(build(`{"w":${entry('F128', [3], [0, 24])}}`, data24), /tensor "w" has the unknown dtype "F128"/);
    expectMalformed(build(`{"w":${entry('f32', [6], [0, 24])}}`, data24), /unknown dtype "f32"/);
  });

  it('negative or fractional shape entry', () => {
    expectMalformed(build(`{"w":${entry('F32', [-2, -3], [0, 24])}}`, data24), /tensor "w": "shape" has the entry -2, not a non-negative integer/);
    expectMalformed(build(`{"w":${entry('F32', [1.5, 4], [0, 24])}}`, data24), /"shape" has the entry 1.5/);
    expectMalformed(build(`{"w":${entry('F32', ['6'], [0, 24])}}`, data24), /"shape" has the entry "6"/);
    expectMalformed(build(`{"w":${entry('F32', 6, [0, 24])}}`, data24), /"shape" is not an array/);
  });

  it('bad data_offsets', () => {
    expectMalformed(build(`{"w":${entry('F32', [6], [0, 24.5])}}`, data24), /"data_offsets" \[0,24\.5\] is not a pair/);
    expectMalformed(build(`{"w":${entry('F32', [6], [-4, 20])}}`, data24), /"data_offsets" \[-4,20\] is not a pair/);
    expectMalformed(build(`{"w":${entry('F32', [6], [0, 12, 24])}}`, data24), /is not a pair/);
    expectMalformed(build(`{"w":${entry('F32', [6], [0, 2 ** 60])}}`, data24), /is not a pair/); // beyond exact doubles
  });

  it('begin after end', () => {
    expectMalformed(build(`{"w":${entry('F32', [1], [8, 4])}}`, data24), /tensor "w": "data_offsets" begin 8 is after end 4/);
  });

  it('overlapping tensors', () => {
    const header = `{"a":${entry('F32', [4], [0, 16])},"b":${entry('F32', [4], [8, 24])}}`;
    expectMalformed(build(header, data24), /tensor "b" \(bytes 8 to 24\) overlaps tensor "a", which ends at 16/);
  });

  it('a hole between tensors, or before the first', () => {
    const header = `{"a":${entry('F32', [2], [0, 8])},"b":${entry('F32', [3], [12, 24])}}`;
    expectMalformed(build(header, data24), /a hole of 4 bytes lies between tensor "a" and tensor "b" \(bytes 8 to 12\)/);
    expectMalformed(build(`{"w":${entry('F32', [5], [4, 24])}}`, data24), /hole of 4 bytes lies between the start of the data section and tensor "w"/);
  });

  it('trailing bytes after the last tensor', () => {
    expectMalformed(build(`{"w":${entry('F32', [5], [0, 20])}}`, data24), /4 trailing bytes follow the last tensor/);
    expectMalformed(build('{}', data24), /24 trailing bytes/);
  });

  it('shape and dtype that do not match the byte length', () => {
    expectMalformed(build(`{"w":${entry('F32', [2, 2], [0, 24])}}`, data24), /tensor "w": shape \[2, 2\] of F32 needs 16 bytes, but "data_offsets" \[0, 24\] give 24/);
    expectMalformed(build(`{"w":${entry('F64', [6], [0, 24])}}`, data24), /F64 needs 48 bytes/);
    expectMalformed(build(`{"w":${entry('F32', [], [0, 24])}}`, data24), /shape \[\] of F32 needs 4 bytes/);
  });

  it('element count that overflows', () => {
    expectMalformed(build(`{"w":${entry('F32', [2 ** 31, 2 ** 31, 2 ** 31], [0, 0])}}`), /tensor "w": the element count of shape \[2147483648, 2147483648, 2147483648\] overflows/);
    // Fits as a count, overflows as bytes.
    expectMalformed(build(`{"w":${entry('F64', [2 ** 52], [0, 0])}}`), /the byte length of shape \[4503599627370496\] of F64 overflows/);
  });

  it('duplicate tensor names', () => {
    const a = entry('F32', [3], [0, 12]);
    const b = entry('F32', [3], [12, 24]);
    expectMalformed(build(`{"w":${a},"w":${b}}`, data24), /tensor name "w" occurs twice in the header/);
    expectMalformed(build(`{"w":${a},"\\u0077":${b}}`, data24), /tensor name "w" occurs twice/); // same name, escaped
    expectMalformed(build(`{"w":{"dtype":"F32","dtype":"I32","shape":[6],"data_offsets":[0,24]}}`, data24), /key "dtype" occurs twice in "w"/);
    // Names that only look alike are different names, and one key may recur in different objects.
    const ok = decodeSafetensors(build(`{"__metadata__":{"w":"w"},"w":${a},"w ":${b}}`, data24));
    expect([...ok.tensors.keys()]).toEqual(['w', 'w ']);
    expect(ok.metadata).toEqual({ w: 'w' });
  });

  it('tensor as a non-F32 dtype through toFloat32', () => {
    const t = rawTensor(Int32Array.from([1, 2]), [2]);
    expect(checkpointError(() => toFloat32(t, 'labels')).message).toMatch(/tensor "labels" has dtype I32; expected F32/);
    expect(checkpointError(() => toFloat32({ dtype: 'F32', shape: [3], data: new Uint8Array(8) }, 'w')).message).toMatch(
      /8 bytes of data, which does not fit shape \[3\]/,
    );
  });
});

describe('encodeSafetensors refuses what it cannot write', () => {
  const w = rawTensor(Float32Array.from(uniform(makeRng(11), 4)), [4]);
  const encode = (tensors: [string, RawTensor][], metadata: Record<string, string> = {}) => () =>
    encodeSafetensors({ metadata, tensors: new Map(tensors) });

  it('the reserved name __metadata__', () => {
    expect(checkpointError(encode([['__metadata__', w]])).message).toMatch(/cannot be named "__metadata__"/);
  });

  it('shapes that are not non-negative integers', () => {
    expect(checkpointError(encode([['w', { ...w, shape: [2.5, 1.6] }]])).message).toMatch(/tensor "w": shape has the entry 2.5/);
    expect(checkpointError(encode([['w', { ...w, shape: [-4] }]])).message).toMatch(/has the entry -4/);
    expect(checkpointError(encode([['w', { ...w, shape: [NaN] }]])).message).toMatch(/has the entry null/);
  });

  it('data that does not fit the shape', () => {
    expect(checkpointError(encode([['w', { ...w, shape: [5] }]])).message).toMatch(/has 16 bytes of data, but shape \[5\] of F32 needs 20/);
  });

  it('an unknown dtype or a non-string metadata value', () => {
    expect(checkpointError(encode([['w', { ...w, dtype: 'F8' as 'F32' }]])).message).toMatch(/unknown dtype "F8"/);
    expect(checkpointError(encode([], { n: 3 as unknown as string })).message).toMatch(/metadata value "n" is a number/);
  });
});

describe('rawTensor', () => {
  it('maps each typed array to its dtype and copies little-endian bytes', () => {
    const rng = makeRng(3);
    const f = Float32Array.from(uniform(rng, 6));
    const t = rawTensor(f, [3, 2]);
    expect(t).toMatchObject({ dtype: 'F32', shape: [3, 2] });
    expect(t.data).toEqual(f32Bytes(f));
    f[0] = 42; // a copy, not a view
    expect(t.data).not.toEqual(f32Bytes(f));
    expect(rawTensor(new Float64Array(2), [2]).dtype).toBe('F64');
    expect(rawTensor(new Int32Array(2), [2]).dtype).toBe('I32');
    expect(rawTensor(new Uint8Array(2), [2]).dtype).toBe('U8');
    const big = rawTensor(BigInt64Array.from([-2n]), []);
    expect(big.dtype).toBe('I64');
    expect(Array.from(big.data)).toEqual([254, 255, 255, 255, 255, 255, 255, 255]);
    // A view into a larger buffer copies only its own elements.
    const sub = Int32Array.from(integers(rng, 8, 100)).subarray(2, 5);
    expect(rawTensor(sub, [3]).data).toEqual(i32Bytes(sub));
  });

  it('refuses a shape that does not match the length', () => {
    let error: unknown;
    try {
      rawTensor(new Float32Array(5), [2, 3]);
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('ERR_LENGTH');
    expect(() => rawTensor(new Float32Array(1), [0.5, 2])).toThrow(/has the entry 0.5/);
  });
});
