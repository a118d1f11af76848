/**
 * A test split held out of a training set that has none: a fraction of its images,
 * chosen by a fixed shuffle, the same for the same data on every run whatever the run's
 * seed (so that a resumed run holds out the same images); each split keeps the images'
 * order.
 */
import { PixelCNNError } from '../errors';
import { gatherImages, shuffledIndices } from './batches';
import { createDataset, type ImageDataset } from './dataset';
import { Rng } from './rng';

/** Tags the hold-out's Rng stream. */
const HOLD_OUT_STREAM = 0x484f_4c44; // 'HOLD'

/** The images `indices` (ascending) of `data`, as a dataset. */
function subset(data: ImageDataset, indices: number[], source: string): ImageDataset {
  const gathered = gatherImages(data, indices);
  // Images without names are named by their place in the data ("#17"), so that a split's image can be found there.
  const imageNames = indices.map((i) => data.imageNames?.[i] ?? `#${i}`);
  return createDataset({ ...data, ...gathered, count: indices.length, imageNames }, source);
}

/** Splits `fraction` (in (0, 1)) of `data`'s images off as a test set; the rest is the training set. */
export function holdOut(data: ImageDataset, fraction: number): { train: ImageDataset; test: ImageDataset } {
  const testCount = Math.round(data.count * fraction);
  if (!(fraction > 0 && fraction < 1) || testCount < 1 || testCount >= data.count) {
    throw new PixelCNNError(
      'ERR_ARG',
      `holding out ${fraction} of ${data.count} images must leave at least one test and one training image`,
    );
  }
  const held = new Uint8Array(data.count);
  for (const i of shuffledIndices(data.count, new Rng(0, HOLD_OUT_STREAM)).subarray(0, testCount)) held[i] = 1;
  const [train, test]: number[][] = [[], []];
  for (let i = 0; i < data.count; i++) (held[i] ? test : train).push(i);
  return { train: subset(data, train, 'the training split'), test: subset(data, test, 'the held-out test split') };
}
