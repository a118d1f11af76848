/**
 * Image completion (SPEC.md §7): each source image's kept pixels (its top rows, or the
 * pixels a mask marks) are kept and the rest drawn, several times an image.
 * completionInputs() makes the sampler's `known` images and mask, and the labels, for
 * that; completionGrid() lays sources, what was kept and the completions out as one grid
 * row a source.
 */
import { kindOf, PixelCNNError, shown } from '../errors';
import { toDisplay } from '../data/quantize';
import { requireConfigObject, type ModelConfig } from '../nn/config';
import { checkSampleCount } from './options';

export interface CompletionSources {
  /** Levels [N, C, H, W], each below the model's K. */
  levels: Uint8Array;
  /** The class of each source, for a class-conditional model. */
  labels?: Int32Array | readonly number[];
}

/**
 * The pixels kept from every source: its top rows (a number), or a mask [H, W] with 1
 * where a pixel is kept and 0 where it is drawn. A kept pixel keeps all its channels.
 */
export type KeptPixels = number | Uint8Array;

/** The gray that marks pixels not kept in the grid's second column. */
const UNKNOWN_DISPLAY = 128;

function pixelsPerImage(config: ModelConfig): number {
  return config.channels * config.height * config.width;
}

/** The kept pixels as a mask [H, W] of 0 and 1, checked: some pixel must be left to draw. */
function keptMask(config: ModelConfig, kept: KeptPixels): Uint8Array {
  const { height, width } = config;
  if (typeof kept === 'number') {
    if (!Number.isInteger(kept) || kept < 0 || kept >= height) {
      throw new PixelCNNError('ERR_ARG', `keepRows must be an integer in 0..${height - 1} (the image has ${height} rows), got ${shown(kept)}`);
    }
    return Uint8Array.from({ length: height * width }, (_, k) => (k < kept * width ? 1 : 0));
  }
  if (!(kept instanceof Uint8Array) || kept.length !== height * width) {
    throw new PixelCNNError('ERR_ARG', `the kept pixels must be a number of rows or a Uint8Array mask of ${height}×${width} = ${height * width} values`);
  }
  const bad = kept.findIndex((v) => v > 1);
  if (bad >= 0) throw new PixelCNNError('ERR_ARG', `a mask of kept pixels holds 0 (drawn) and 1 (kept) only, got ${kept[bad]} at index ${bad}`);
  if (!kept.includes(0)) throw new PixelCNNError('ERR_ARG', 'the mask keeps every pixel: there is nothing to draw');
  return kept;
}

/** A mask [H, W] repeated for every channel of an image [C, H, W]. */
function channelMask(config: ModelConfig, pixelMask: Uint8Array): Uint8Array {
  const mask = new Uint8Array(pixelsPerImage(config));
  for (let c = 0; c < config.channels; c++) mask.set(pixelMask, c * pixelMask.length);
  return mask;
}

/**
 * The sampler's inputs for `perImage` completions of each source, source by source:
 * known images (the sources repeated), a mask of their kept pixels (every channel), and
 * each completion's label.
 */
export function completionInputs(
  config: ModelConfig,
  sources: CompletionSources,
  kept: KeptPixels,
  perImage: number,
): { count: number; known: { images: Uint8Array; mask: Uint8Array }; labels?: Int32Array } {
  requireConfigObject(config, 'completionInputs: config');
  if (typeof sources !== 'object' || sources === null) throw new PixelCNNError('ERR_TYPE', 'completionInputs: sources must be an object ({ levels, labels })');
  const pixelMask = keptMask(config, kept);
  if (!Number.isInteger(perImage) || perImage < 1) {
    throw new PixelCNNError('ERR_ARG', `perImage must be an integer ≥ 1, got ${shown(perImage)}`);
  }
  const size = pixelsPerImage(config);
  if (!(sources.levels instanceof Uint8Array) || sources.levels.length === 0 || sources.levels.length % size !== 0) {
    throw new PixelCNNError('ERR_LENGTH', `sources must be a Uint8Array of whole images of ${size} levels`);
  }
  const n = sources.levels.length / size;
  const outside = sources.levels.findIndex((level) => level >= config.levels);
  if (outside >= 0) {
    throw new PixelCNNError('ERR_RANGE', `sources.levels[${outside}] is level ${sources.levels[outside]}, outside [0, ${config.levels})`);
  }
  const { labels: given } = sources;
  if (given !== undefined) {
    if (!(given instanceof Int32Array) && !Array.isArray(given)) {
      throw new PixelCNNError('ERR_TYPE', `sources.labels must be an Int32Array or an array of numbers, got ${kindOf(given)}`);
    }
    if (given.length !== n) throw new PixelCNNError('ERR_LENGTH', `sources.labels must hold one label a source (${n}), got ${given.length}`);
    if (config.classes === 0) throw new PixelCNNError('ERR_ARG', 'sources.labels were given, and this model has no classes');
    given.forEach((label: unknown, i: number) => {
      if (!Number.isInteger(label) || (label as number) < 0 || (label as number) >= config.classes) {
        throw new PixelCNNError('ERR_RANGE', `sources.labels[${i}] is ${shown(label)}, not a class of this model (0 to ${config.classes - 1})`);
      }
    });
  }
  const count = n * perImage;
  checkSampleCount(config, count);
  const images = new Uint8Array(count * size);
  const mask = new Uint8Array(count * size);
  const imageMask = channelMask(config, pixelMask);
  for (let c = 0; c < count; c++) {
    const source = Math.floor(c / perImage);
    images.set(sources.levels.subarray(source * size, (source + 1) * size), c * size);
    mask.set(imageMask, c * size);
  }
  const labels = given && Int32Array.from({ length: count }, (_, c) => given[Math.floor(c / perImage)]);
  return { count, known: { images, mask }, labels };
}

/**
 * Display pixels (SPEC.md §1) of a grid with one row a source: the source, its kept
 * pixels with the rest gray, then its `perImage` completions. [N·(perImage + 2), C, H, W].
 */
export function completionGrid(config: ModelConfig, sources: Uint8Array, completions: Uint8Array, kept: KeptPixels, perImage: number): Uint8Array {
  const imageMask = channelMask(config, keptMask(config, kept));
  const size = pixelsPerImage(config);
  const n = sources.length / size;
  if (completions.length !== n * perImage * size) {
    throw new PixelCNNError('ERR_LENGTH', `completions must hold ${perImage} images a source (${n * perImage * size} levels), got ${completions.length}`);
  }
  const shownSources = toDisplay(sources, config.levels);
  const shownCompletions = toDisplay(completions, config.levels);
  const columns = perImage + 2;
  const grid = new Uint8Array(n * columns * size);
  for (let s = 0; s < n; s++) {
    const source = shownSources.subarray(s * size, (s + 1) * size);
    const row = s * columns * size;
    grid.set(source, row);
    for (let k = 0; k < size; k++) grid[row + size + k] = imageMask[k] === 1 ? source[k] : UNKNOWN_DISPLAY;
    grid.set(shownCompletions.subarray(s * perImage * size, (s + 1) * perImage * size), row + 2 * size);
  }
  return grid;
}
