/**
 * A completion mask drawn as a PNG image, as large as the model's images: its light
 * pixels (red, green and blue all ≥ 128, and opaque: alpha ≥ 128) are kept from the
 * source images, its dark or transparent ones are drawn. The light/dark split is the
 * same 128 threshold as binarization (SPEC.md §1, K = 2), so a gray-scale brush
 * stroke means one thing or the other, never something in between.
 */
import { PixelCNNError, shown } from '../errors';
import { declaredPngSize, decodePngPixels, readPngBytes, type ImageSize } from '../io/png-read';
import { optionsObject } from '../options';

const LIGHT = 128;

/** The mask [H, W] of `file`: 1 where a pixel is kept, 0 where it is drawn. */
export function readKeepMask(file: string, size: ImageSize): Uint8Array {
  if (typeof file !== 'string' || file === '') throw new PixelCNNError('ERR_ARG', `readKeepMask: the file must be a non-empty string, got ${shown(file)}`);
  const { height, width } = optionsObject(size, 'readKeepMask: size');
  if (![height, width].every((n) => Number.isSafeInteger(n) && n! >= 1)) {
    throw new PixelCNNError('ERR_ARG', `readKeepMask: size must be { height, width }, integers ≥ 1, got ${shown(height)} and ${shown(width)}`);
  }
  const bytes = readPngBytes(file, { pipes: true });
  const declared = declaredPngSize(file, bytes);
  if (declared.width !== width || declared.height !== height) {
    throw new PixelCNNError(
      'ERR_DATA',
      `the mask ${file} is ${declared.width}×${declared.height} pixels (width × height); the model's images are ${width}×${height}`,
    );
  }
  const rgba = decodePngPixels(file, bytes);
  return Uint8Array.from({ length: width * height }, (_, i) => {
    const [r, g, b, a] = rgba.subarray(4 * i, 4 * i + 4);
    return Math.min(r, g, b, a) >= LIGHT ? 1 : 0;
  });
}
