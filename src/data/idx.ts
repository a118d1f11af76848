/**
 * The IDX file format (MNIST's): two zero bytes, a type byte, a dimension count, then
 * that many big-endian uint32 dimensions and the big-endian data, row-major.
 * parseIdx checks every part of it and returns a fresh typed array in host order.
 */
import { PixelCNNError } from '../errors';
import { readDataFile } from './read-file';

export type IdxType = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  /** Dimensions, outermost first. */
  dims: number[];
  type: IdxType;
  /** The elements, row-major, length = product of dims. */
  data: IdxData;
}

const TYPES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: 'u8', size: 1 },
  0x09: { type: 'i8', size: 1 },
  0x0b: { type: 'i16', size: 2 },
  0x0c: { type: 'i32', size: 4 },
  0x0d: { type: 'f32', size: 4 },
  0x0e: { type: 'f64', size: 8 },
};

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

/** Parses IDX bytes; `source` (a file name) is only used in error messages. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  const fail: (why: string) => never = (why) => {
    throw new PixelCNNError('ERR_DATA', `${source}: not a valid IDX file: ${why}`);
  };
  if (bytes.length < 4) fail(`${bytes.length} bytes is shorter than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`the magic number must start with two zero bytes, found ${hex(bytes[0])} ${hex(bytes[1])}`);
  }
  const kind = TYPES[bytes[2]];
  if (kind === undefined) {
    fail(`unknown element type ${hex(bytes[2])} (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)`);
  }
  const ndim = bytes[3];
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    fail(`the header declares ${ndim} dimensions (${headerBytes} bytes) but the file has ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  // A double holds the product exactly up to 2^53, far beyond any real file; a larger
  // (inexact) product still fails the length check below, which is what matters.
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * kind.size;
  if (bytes.length !== expected) {
    const shape = `[${dims.join(', ')}]`;
    fail(
      `${kind.type} ${shape} needs ${expected} bytes but the file has ${bytes.length} ` +
        `(${bytes.length < expected ? 'truncated' : 'trailing bytes'})`,
    );
  }

  const at = headerBytes;
  let data: IdxData;
  switch (kind.type) {
    case 'u8':
      // A copy, never a view: the input may be a pooled Buffer or be reused by the caller.
      data = new Uint8Array(count);
      data.set(bytes.subarray(at, at + count));
      break;
    case 'i8':
      data = new Int8Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + count));
      break;
    case 'i16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(at + 2 * i, false);
      data = out;
      break;
    }
    case 'i32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(at + 4 * i, false);
      data = out;
      break;
    }
    case 'f32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + 4 * i, false);
      data = out;
      break;
    }
    case 'f64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(at + 8 * i, false);
      data = out;
      break;
    }
  }
  return { dims, type: kind.type, data };
}

/** Reads and parses an IDX file (gzipped or not). ERR_IO if it cannot be read. */
export function readIdxFile(path: string): IdxArray {
  return parseIdx(readDataFile(path), path);
}
