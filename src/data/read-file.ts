/**
 * Reads a dataset file whole, gunzipping it when it starts with the gzip magic
 * (MNIST-style IDX files are usually distributed as .gz; neither IDX, which starts
 * with two zero bytes, nor CIFAR-10, which starts with a label 0–9, can begin with
 * 0x1f 0x8b). Failures to read become ERR_IO, a corrupt gzip stream ERR_DATA.
 */
import * as zlib from 'node:zlib';

import { PixelCNNError } from '../errors';
import { readRegularFile } from '../io/read-regular-file';

export function readDataFile(path: string): Uint8Array {
  if (typeof path !== 'string' || path.length === 0) {
    throw new PixelCNNError('ERR_ARG', `a data file path must be a non-empty string, got ${String(path)}`);
  }
  let bytes: Buffer;
  try {
    bytes = readRegularFile(path);
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (error) {
      throw new PixelCNNError('ERR_DATA', `${path}: corrupt gzip data: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
