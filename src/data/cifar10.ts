/**
 * CIFAR-10's binary format (the "binary version" batches, e.g. data_batch_1.bin):
 * records of 1 label byte (0..9) and 3072 pixel bytes, 1024 red, 1024 green, 1024 blue,
 * each plane 32×32 row-major. A record's pixels are already [C, H, W], so a file is
 * copied record by record into the [N, 3, 32, 32] dataset.
 */
import { PixelCNNError } from '../errors';
import { createDataset, type ImageDataset } from './dataset';
import { readDataFile } from './read-file';

const PIXELS = 3 * 32 * 32;
const RECORD = 1 + PIXELS;

/** Reads and concatenates the given CIFAR-10 binary batch files, in order. */
export function loadCifar10(files: string[]): ImageDataset {
  if (!Array.isArray(files) || files.length === 0) {
    throw new PixelCNNError('ERR_ARG', 'loadCifar10: give at least one CIFAR-10 binary batch file');
  }
  const contents = files.map((file) => {
    const bytes = readDataFile(file);
    if (bytes.length === 0 || bytes.length % RECORD !== 0) {
      throw new PixelCNNError(
        'ERR_DATA',
        `${file}: a CIFAR-10 binary file is a whole number of ${RECORD}-byte records, ` +
          `but it has ${bytes.length} bytes`,
      );
    }
    return bytes;
  });
  const count = contents.reduce((n, bytes) => n + bytes.length / RECORD, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let n = 0;
  contents.forEach((bytes, f) => {
    for (let r = 0; r < bytes.length / RECORD; r++, n++) {
      const label = bytes[r * RECORD];
      if (label >= 10) {
        throw new PixelCNNError('ERR_DATA', `${files[f]}: record ${r} has label ${label}, outside 0..9`);
      }
      labels[n] = label;
      images.set(bytes.subarray(r * RECORD + 1, (r + 1) * RECORD), n * PIXELS);
    }
  });
  return createDataset({ images, labels, count, channels: 3, height: 32, width: 32, classes: 10 }, files.join(', '));
}
