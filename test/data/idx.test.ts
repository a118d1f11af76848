/** IDX parsing: hand-built files of each type (big-endian dims and data), and every way a file can be malformed. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

import { parseIdx, readIdxFile } from '../../src/data/idx';
import { makeRng } from '../helpers/random';
import { idxBytes } from '../helpers/idx-file';

const idx = idxBytes;

/** Big-endian bytes of `values` written by `set` (a DataView setter) of `size` bytes each. */
type Setter = (v: DataView, at: number, x: number) => void;

function bigEndian(values: ArrayLike<number>, size: number, set: Setter): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) set(view, i * size, values[i]);
  return out;
}

const byCode = (code: string) => expect.objectContaining({ code });

describe('parseIdx', () => {
  const rng = makeRng(11);

  it('reads a u8 3-D array; dims are big-endian', () => {
    const dims = [3, 2, 260]; // 260 = 0x104 needs two bytes, so a byte-order mix-up shows
    const body = Uint8Array.from({ length: 3 * 2 * 260 }, () => Math.floor(rng() * 256));
    const parsed = parseIdx(idx(0x08, dims, body));
    expect(parsed.type).toBe('u8');
    expect(parsed.dims).toEqual(dims);
    expect(parsed.data).toBeInstanceOf(Uint8Array);
    expect(parsed.data).toEqual(body);
  });

  it('reads an i32 1-D array big-endian', () => {
    const values = Int32Array.from({ length: 37 }, () => Math.floor(rng() * 2 ** 32) - 2 ** 31);
    values[0] = 0x01020304;
    values[1] = -2;
    const bytes = idx(0x0c, [37], bigEndian(values, 4, (v, at, x) => v.setInt32(at, x, false)));
    expect([...bytes.subarray(8, 12)]).toEqual([1, 2, 3, 4]); // the test's own encoding is big-endian
    const parsed = parseIdx(bytes);
    expect(parsed.type).toBe('i32');
    expect(parsed.dims).toEqual([37]);
    expect(parsed.data).toBeInstanceOf(Int32Array);
    expect(parsed.data).toEqual(values);
  });

  const i8: Setter = (v, at, x) => v.setInt8(at, x);
  const i16: Setter = (v, at, x) => v.setInt16(at, x, false);
  const f32: Setter = (v, at, x) => v.setFloat32(at, x, false);
  const f64: Setter = (v, at, x) => v.setFloat64(at, x, false);
  it.each([
    ['i8', 0x09, Int8Array, 1, i8, (r: number) => Math.floor(r * 256) - 128],
    ['i16', 0x0b, Int16Array, 2, i16, (r: number) => Math.floor(r * 65536) - 32768],
    ['f32', 0x0d, Float32Array, 4, f32, (r: number) => Math.fround(r * 200 - 100)],
    ['f64', 0x0e, Float64Array, 8, f64, (r: number) => r * 2e6 - 1e6],
  ] as const)('reads %s', (name, code, Type, size, set, draw) => {
    const values = new Type(2 * 5);
    for (let i = 0; i < values.length; i++) values[i] = draw(rng());
    const parsed = parseIdx(idx(code, [2, 5], bigEndian(values, size, set)));
    expect(parsed.type).toBe(name);
    expect(parsed.dims).toEqual([2, 5]);
    expect(parsed.data).toBeInstanceOf(Type);
    expect(parsed.data).toEqual(values);
  });

  it('copies: changing the input afterwards does not change the result', () => {
    const body = Uint8Array.from({ length: 6 }, () => 1 + Math.floor(rng() * 255));
    const bytes = idx(0x08, [6], body);
    const parsed = parseIdx(bytes);
    bytes.fill(0);
    expect(parsed.data).toEqual(body);
  });

  it('reads from a view at a byte offset', () => {
    const body = Uint8Array.from({ length: 6 }, () => Math.floor(rng() * 256));
    const file = idx(0x08, [2, 3], body);
    const backing = new Uint8Array(file.length + 5);
    backing.set(file, 5);
    expect(parseIdx(backing.subarray(5)).data).toEqual(body);
  });

  const good = idx(0x08, [2, 3], Uint8Array.from([9, 8, 7, 6, 5, 4]));
  it.each([
    ['too short for the magic', good.subarray(0, 3), /shorter than the 4-byte magic/],
    ['bad magic', Uint8Array.from([0, 1, ...good.subarray(2)]), /two zero bytes/],
    ['unknown type', Uint8Array.from([0, 0, 0x0a, ...good.subarray(3)]), /unknown element type 0x0a/],
    ['truncated header', good.subarray(0, 9), /declares 2 dimensions/],
    ['short data', good.subarray(0, good.length - 1), /truncated/],
    ['long data', Uint8Array.from([...good, 0]), /trailing bytes/],
    ['dims that do not fit the data', idx(0x0c, [3], new Uint8Array(8)), /i32 \[3\] needs 20 bytes but the file has 16/],
  ])('refuses %s (ERR_DATA, naming the source)', (_, bytes, why) => {
    expect(() => parseIdx(bytes, 'my-file.idx')).toThrow(byCode('ERR_DATA'));
    expect(() => parseIdx(bytes, 'my-file.idx')).toThrow(/^my-file\.idx: /);
    expect(() => parseIdx(bytes, 'my-file.idx')).toThrow(why);
  });
});

describe('readIdxFile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idx-test-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rng = makeRng(12);
  const body = Uint8Array.from({ length: 4 * 3 * 3 }, () => Math.floor(rng() * 256));
  const bytes = idx(0x08, [4, 3, 3], body);

  it('reads plain and gzipped files alike', () => {
    fs.writeFileSync(path.join(dir, 'a-idx3-ubyte'), bytes);
    fs.writeFileSync(path.join(dir, 'a-idx3-ubyte.gz'), zlib.gzipSync(bytes));
    for (const name of ['a-idx3-ubyte', 'a-idx3-ubyte.gz']) {
      const parsed = readIdxFile(path.join(dir, name));
      expect(parsed.dims).toEqual([4, 3, 3]);
      expect(parsed.data).toEqual(body);
    }
  });

  it('a missing file is ERR_IO naming it; a corrupt gzip is ERR_DATA', () => {
    const missing = path.join(dir, 'nope');
    expect(() => readIdxFile(missing)).toThrow(byCode('ERR_IO'));
    expect(() => readIdxFile(missing)).toThrow(missing);
    const corrupt = path.join(dir, 'bad.gz');
    fs.writeFileSync(corrupt, zlib.gzipSync(bytes).subarray(0, 20));
    expect(() => readIdxFile(corrupt)).toThrow(byCode('ERR_DATA'));
  });
});
