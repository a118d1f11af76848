/**
 * Reading PNG files as inputs (image folders, completion masks): the bytes, the size
 * the file declares, then the pixels. The size is read before the pixels are inflated,
 * so that an image of the wrong size, or a small file declaring a huge one, is refused
 * at once rather than after seconds and gigabytes.
 */
import { PNG } from 'pngjs';

import { PixelCNNError } from '../errors';
import { readRegularFile } from './read-regular-file';

export interface ImageSize {
  width: number;
  height: number;
}

/** The bytes of a PNG file; `pipes: false` for files found in a folder rather than named by the user. */
export function readPngBytes(file: string, { pipes }: { pipes: boolean }): Buffer {
  try {
    return readRegularFile(file, { pipes });
  } catch (error) {
    throw new PixelCNNError('ERR_IO', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Pillow's limit against decompression bombs (its DecompressionBombError), in pixels. */
const MAX_IMAGE_PIXELS = 2 * 89_478_485;

/** The size a PNG declares in its IHDR chunk, which the format puts first. */
export function declaredPngSize(file: string, bytes: Buffer): ImageSize {
  const startsLikePng = bytes.length >= 24 && bytes.subarray(0, 8).equals(PNG_SIGNATURE) && bytes.toString('latin1', 12, 16) === 'IHDR';
  if (!startsLikePng) throw new PixelCNNError('ERR_DATA', `${file} is not a readable PNG: it does not start with a PNG signature and header`);
  const size = { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  if (size.width * size.height > MAX_IMAGE_PIXELS) {
    throw new PixelCNNError(
      'ERR_DATA',
      `${file} declares ${size.width}×${size.height} pixels, more than the ${MAX_IMAGE_PIXELS} an image may have (Pillow's limit against decompression bombs)`,
    );
  }
  return size;
}

/** The pixels as RGBA, 8 bits each, interleaved (16-bit PNGs rescaled by pngjs). */
export function decodePngPixels(file: string, bytes: Buffer): Uint8Array {
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (error) {
    // pngjs's own words for a file that ends early say nothing of the file ("read requests waiting on finished stream").
    const truncated = /finished stream/.test((error as Error).message);
    const why = error instanceof RangeError ? 'is too large to decode' : 'is not a readable PNG (truncated or corrupt)';
    throw new PixelCNNError('ERR_DATA', `${file} ${why}${truncated ? ': it ends early' : `: ${(error as Error).message}`}`, { cause: error });
  }
  return new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length);
}
