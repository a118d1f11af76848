/**
 * Reading PNG files as inputs (image folders, completion masks): the bytes, the size
 * the file declares, then the pixels. The size is read before the pixels are inflated,
 * so that an image of the wrong size, or a small file declaring a huge one, is refused
 * at once rather than after seconds and gigabytes.
 */
import { PNG } from 'pngjs';

import { PixelCNNError } from '../errors';
import { checkPngStructure } from './png-structure';
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
  if (size.width === 0 || size.height === 0) throw new PixelCNNError('ERR_DATA', `${file} declares ${size.width}×${size.height} pixels: a PNG has at least one`);
  if (size.width * size.height > MAX_IMAGE_PIXELS) {
    throw new PixelCNNError(
      'ERR_DATA',
      `${file} declares ${size.width}×${size.height} pixels, more than the ${MAX_IMAGE_PIXELS} an image may have (Pillow's limit against decompression bombs)`,
    );
  }
  return size;
}

/**
 * The pixels as RGBA, 8 bits each, interleaved: 16-bit and 1-, 2- and 4-bit samples
 * rescaled to 8 bits (v · 255 / (2^depth − 1), rounded), a colour key's pixels
 * transparent with their colour kept.
 */
export function decodePngPixels(file: string, bytes: Buffer): Uint8Array {
  const structure = checkPngStructure(file, bytes);
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (error) {
    // A file cut short was refused above; what pngjs finds here is wrong inside a chunk (a filter type, a palette index).
    const tooLarge = error instanceof RangeError && /allocation|too large|Invalid (typed )?array length/i.test(error.message);
    const why = tooLarge ? 'is too large to decode' : 'is not a readable PNG (corrupt)';
    throw new PixelCNNError('ERR_DATA', `${file} ${why}: ${(error as Error).message}`, { cause: error });
  }
  const rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length);
  if (structure.colorKey) restoreKeyedColor(rgba, structure.colorKey, structure.bitDepth);
  return rgba;
}

/**
 * pngjs sets a keyed pixel's colour to black with its alpha; its colour is the key's.
 * Only keyed pixels are transparent in a gray or RGB image, so those with alpha 0.
 */
function restoreKeyedColor(rgba: Uint8Array, key: number[], bitDepth: number): void {
  const to8Bits = (v: number) => (bitDepth === 8 ? v : Math.floor((v * 255) / (2 ** bitDepth - 1) + 0.5));
  const [r, g, b] = (key.length === 1 ? [key[0], key[0], key[0]] : key).map(to8Bits);
  for (let at = 0; at < rgba.length; at += 4) {
    if (rgba[at + 3] === 0) [rgba[at], rgba[at + 1], rgba[at + 2]] = [r, g, b];
  }
}
