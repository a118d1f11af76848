/**
 * Our own reader and writer of the safetensors format (SPEC.md §8): an 8-byte
 * little-endian header length N, N bytes of UTF-8 JSON naming each tensor's dtype,
 * shape and byte range, then the raw little-endian row-major data.
 *
 * Written here rather than taken from a package so that checkpoints load without a
 * dependency, and so that every file is validated as strictly as the reference Rust
 * implementation (huggingface/safetensors, tensor.rs) does: a checkpoint is read
 * from disk that anyone may have written, so nothing in it is trusted. Every
 * malformation throws PixelCNNError('ERR_CHECKPOINT') with a reason a user can act on.
 */
import { PixelCNNError, kindOf } from '../errors';

export type SafetensorsDType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

export interface RawTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** Raw little-endian bytes, row-major. */
  data: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, RawTensor>;
}

/** Bytes per element of each dtype. */
const DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** The reference implementation's cap: a bigger header is an attack or a corrupt length. */
const MAX_HEADER_SIZE = 100_000_000;
const METADATA_KEY = '__metadata__';

// A declaration with a `never` return (not an arrow) so that TypeScript narrows after it.
function fail(reason: string): never {
  throw new PixelCNNError('ERR_CHECKPOINT', reason);
}

const isDType = (value: unknown): value is SafetensorsDType =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, value);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Bytes a tensor of this dtype and shape occupies, or a reason why it cannot be
 * computed. Multiplies in order with an overflow check at every step, as the
 * reference does with checked_mul; our limit is 2^53, where doubles stop being exact
 * (BigInt, so that the check itself cannot round).
 */
function byteLength(dtype: SafetensorsDType, shape: readonly number[]): number | string {
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  let count = 1n;
  for (const dim of shape) {
    count *= BigInt(dim);
    if (count > limit) return `the element count of shape [${shape.join(', ')}] overflows`;
  }
  const bytes = count * BigInt(DTYPE_SIZE[dtype]);
  if (bytes > limit) return `the byte length of shape [${shape.join(', ')}] of ${dtype} overflows`;
  return Number(bytes);
}

function describeShape(shape: unknown): string | undefined {
  if (!Array.isArray(shape)) return 'is not an array';
  const bad = shape.find((dim) => !isCount(dim));
  return bad === undefined ? undefined : `has the entry ${JSON.stringify(bad)}, not a non-negative integer`;
}

// ---------------------------------------------------------------------------------
// Writing

/** Serializes; tensors are laid out in the order given, header padded with spaces to a multiple of 8 bytes. */
export function encodeSafetensors(file: SafetensorsFile): Uint8Array {
  const entries: string[] = [];
  const metadataKeys = Object.keys(file.metadata);
  for (const key of metadataKeys) {
    if (typeof file.metadata[key] !== 'string') {
      fail(`metadata value "${key}" is a ${typeof file.metadata[key]}, not a string`);
    }
  }
  // Like the reference, __metadata__ is left out when there is none; it reads back as {}.
  if (metadataKeys.length > 0) entries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(file.metadata)}`);

  let offset = 0;
  for (const [name, tensor] of file.tensors) {
    if (name === METADATA_KEY) fail(`a tensor cannot be named "${METADATA_KEY}": the format reserves it`);
    if (!isDType(tensor.dtype)) fail(`tensor "${name}" has the unknown dtype ${JSON.stringify(tensor.dtype)}`);
    const shapeProblem = describeShape(tensor.shape);
    if (shapeProblem !== undefined) fail(`tensor "${name}": shape ${shapeProblem}`);
    const expected = byteLength(tensor.dtype, tensor.shape);
    if (typeof expected === 'string') fail(`tensor "${name}": ${expected}`);
    if (tensor.data.byteLength !== expected) {
      fail(
        `tensor "${name}" has ${tensor.data.byteLength} bytes of data, but shape [${tensor.shape.join(', ')}] ` +
          `of ${tensor.dtype} needs ${expected}`,
      );
    }
    const info = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    // Built by hand, not with JSON.stringify of one object: that would move
    // integer-like names ("0", "12") to the front and lose the order we were given.
    entries.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += tensor.data.byteLength;
  }

  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  // Padding the header to a multiple of 8 puts the data section, and with it every
  // tensor of 8-byte or smaller elements laid out in size order, on an aligned offset.
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const tensor of file.tensors.values()) {
    out.set(tensor.data, at);
    at += tensor.data.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Reading

interface Entry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and validates; throws ERR_CHECKPOINT with a reason on any malformation. Returned data may be views into `bytes`. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) throw new PixelCNNError('ERR_ARG', `decodeSafetensors needs the file's bytes as a Uint8Array, got ${kindOf(bytes)}`);
  if (bytes.byteLength < 8) {
    fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_SIZE)) {
    fail(`header length ${declared} is larger than the ${MAX_HEADER_SIZE}-byte limit (is it a safetensors file?)`);
  }
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.byteLength) {
    fail(`header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file`);
  }

  const text = decodeUtf8(bytes.subarray(8, 8 + headerLength));
  // The reference refuses anything before the '{' (whitespace, a byte-order mark).
  if (!text.startsWith('{')) {
    fail(`header is not a JSON object: it starts with ${JSON.stringify(text.slice(0, 12))}, not '{'`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    fail(`header is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed)) fail(`header is ${describeJson(parsed)}, not a JSON object`);
  const header = parsed;
  // JSON.parse keeps the last of two equal keys without a word; a checkpoint with two
  // different tensors under one name is ambiguous, so refuse it.
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) fail(duplicate);

  const metadata = readMetadata(header[METADATA_KEY]);
  const entries: Entry[] = [];
  for (const name of Object.keys(header)) {
    if (name !== METADATA_KEY) entries.push(readEntry(name, header[name]));
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  checkTiling(entries, dataLength);

  // Listed in data order, so that a file we wrote reads back in the order we wrote it.
  const tensors = new Map<string, RawTensor>();
  for (const entry of entries) {
    tensors.set(entry.name, {
      dtype: entry.dtype,
      shape: entry.shape,
      data: bytes.subarray(dataStart + entry.begin, dataStart + entry.end),
    });
  }
  return { metadata, tensors };
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    // ignoreBOM keeps a byte-order mark in the text, where the '{' check refuses it.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
}

function readMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) fail(`"${METADATA_KEY}" is ${describeJson(value)}, not an object of strings`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') fail(`"${METADATA_KEY}" value "${key}" is ${describeJson(item)}, not a string`);
  }
  // fromEntries defines own properties, so a key "__proto__" stays data, not a prototype.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function readEntry(name: string, value: unknown): Entry {
  const where = `tensor "${name}"`;
  if (!isPlainObject(value)) fail(`${where} is ${describeJson(value)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (dtype === undefined) fail(`${where} has no "dtype"`);
  if (!isDType(dtype)) fail(`${where} has the unknown dtype ${JSON.stringify(dtype)}`);
  if (shape === undefined) fail(`${where} has no "shape"`);
  const shapeProblem = describeShape(shape);
  if (shapeProblem !== undefined) fail(`${where}: "shape" ${shapeProblem}`);
  if (offsets === undefined) fail(`${where} has no "data_offsets"`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail(`${where}: "data_offsets" ${JSON.stringify(offsets)} is not a pair [begin, end] of non-negative integers`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) fail(`${where}: "data_offsets" begin ${begin} is after end ${end}`);

  const dims = shape as number[]; // describeShape checked every entry
  const expected = byteLength(dtype, dims);
  if (typeof expected === 'string') fail(`${where}: ${expected}`);
  if (end - begin !== expected) {
    fail(
      `${where}: shape [${dims.join(', ')}] of ${dtype} needs ${expected} bytes, ` +
        `but "data_offsets" [${begin}, ${end}] give ${end - begin}`,
    );
  }
  return { name, dtype, shape: dims, begin, end };
}

/**
 * The byte ranges, sorted, must cover the data section exactly: the first at 0, each
 * where the previous ended, the last at its end. No tensor can then overlap another,
 * read past the file, or hide bytes between them. Sorts `entries` in place.
 */
function checkTiling(entries: Entry[], dataLength: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous: string | undefined;
  for (const entry of entries) {
    if (entry.begin < at) {
      fail(`tensor "${entry.name}" (bytes ${entry.begin} to ${entry.end}) overlaps tensor "${previous}", which ends at ${at}`);
    }
    if (entry.begin > at) {
      const after = previous === undefined ? 'the start of the data section' : `tensor "${previous}"`;
      fail(`a hole of ${entry.begin - at} bytes lies between ${after} and tensor "${entry.name}" (bytes ${at} to ${entry.begin})`);
    }
    at = entry.end;
    previous = entry.name;
  }
  if (at > dataLength) {
    fail(`the tensors need ${at} bytes of data but the file holds only ${dataLength}: it is truncated`);
  }
  if (at < dataLength) {
    fail(`${dataLength - at} trailing bytes follow the last tensor (the tensors cover ${at} of ${dataLength} data bytes)`);
  }
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value === 'object' ? 'an' : 'a'} ${typeof value} (${JSON.stringify(value).slice(0, 40)})`;
}

/**
 * Finds a key that occurs twice in one object of the JSON text, which JSON.parse
 * has already accepted as valid (so this scan can assume well-formed input). Returns
 * a reason naming it, or undefined. Keys are compared decoded, so "a" and "\u0061"
 * are the same name.
 */
function findDuplicateKey(text: string): string | undefined {
  // One frame per open object (a set of its keys and its own key in its parent) or array (null).
  const stack: ({ keys: Set<string>; name: string | undefined } | null)[] = [];
  let expectingKey = false;
  let lastKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (expectingKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const frame = stack[stack.length - 1]!;
        if (frame.keys.has(key)) {
          return stack.length === 1
            ? `tensor name "${key}" occurs twice in the header`
            : `key "${key}" occurs twice in "${frame.name}" of the header`;
        }
        frame.keys.add(key);
        lastKey = key;
        expectingKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push({ keys: new Set(), name: lastKey });
      expectingKey = true;
    } else if (c === '[') {
      stack.push(null);
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectingKey = stack[stack.length - 1] !== null;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------
// Typed arrays

/** True where typed arrays are little-endian (everywhere Node runs today), so bytes copy as they are. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Convenience: a RawTensor from a typed array (Float32Array -> F32, Int32Array -> I32, Uint8Array -> U8, Float64Array -> F64, BigInt64Array -> I64), copying bytes as little-endian. */
export function rawTensor(
  data: Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array,
  shape: readonly number[],
): RawTensor {
  const dtype: SafetensorsDType =
    data instanceof Float32Array
      ? 'F32'
      : data instanceof Float64Array
        ? 'F64'
        : data instanceof Int32Array
          ? 'I32'
          : data instanceof BigInt64Array
            ? 'I64'
            : 'U8';
  const shapeProblem = describeShape(shape);
  if (shapeProblem !== undefined) throw new PixelCNNError('ERR_SHAPE', `shape ${shapeProblem}`);
  const bytes = byteLength(dtype, shape);
  if (typeof bytes === 'string') throw new PixelCNNError('ERR_SHAPE', bytes);
  if (bytes !== data.byteLength) {
    throw new PixelCNNError(
      'ERR_LENGTH',
      `${data.length} elements do not fill shape [${shape.join(', ')}] (${bytes / DTYPE_SIZE[dtype]} elements)`,
    );
  }
  const out = new Uint8Array(data.byteLength);
  if (LITTLE_ENDIAN || DTYPE_SIZE[dtype] === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else {
    const view = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) {
      if (data instanceof Float32Array) view.setFloat32(i * 4, data[i], true);
      else if (data instanceof Float64Array) view.setFloat64(i * 8, data[i], true);
      else if (data instanceof Int32Array) view.setInt32(i * 4, data[i], true);
      else view.setBigInt64(i * 8, (data as BigInt64Array)[i], true);
    }
  }
  return { dtype, shape: [...shape], data: out };
}

/** The tensor as a new Float32Array; throws ERR_CHECKPOINT if its dtype is not F32. (Copy: the bytes may be unaligned.) */
export function toFloat32(t: RawTensor, name: string): Float32Array {
  if (t.dtype !== 'F32') fail(`tensor "${name}" has dtype ${t.dtype}; expected F32`);
  const expected = byteLength('F32', t.shape);
  if (expected !== t.data.byteLength) {
    fail(`tensor "${name}" has ${t.data.byteLength} bytes of data, which does not fit shape [${t.shape.join(', ')}] of F32`);
  }
  const out = new Float32Array(t.data.byteLength / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(t.data);
  } else {
    const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}
