/**
 * Image completion (SPEC.md §7): each source image's top rows are kept and the rest
 * drawn, several times an image. completionInputs() makes the sampler's `known`
 * images and mask, and the labels, for that; completionGrid() lays sources, what was
 * kept and the completions out as one grid row a source.
 */
import { PixelCNNError, shown } from '../errors';
import { toDisplay } from '../data/quantize';
import { requireConfigObject, type ModelConfig } from '../nn/config';
import { checkSampleCount } from './options';

export interface CompletionSources {
  /** Levels [N, C, H, W], each below the model's K. */
  levels: Uint8Array;
  /** The class of each source, for a class-conditional model. */
  labels?: Int32Array;
}

/** The gray that marks pixels not kept in the grid's second column. */
const UNKNOWN_DISPLAY = 128;

function pixelsPerImage(config: ModelConfig): number {
  return config.channels * config.height * config.width;
}

function checkKeepRows(config: ModelConfig, keepRows: number): void {
  if (!Number.isInteger(keepRows) || keepRows < 0 || keepRows >= config.height) {
    throw new PixelCNNError('ERR_ARG', `keepRows must be an integer in 0..${config.height - 1} (the image has ${config.height} rows), got ${shown(keepRows)}`);
  }
}

/** Whether pixel index `k` of an image [C, H, W] lies in its top `keepRows` rows. */
function kept(config: ModelConfig, k: number, keepRows: number): boolean {
  return Math.floor(k / config.width) % config.height < keepRows;
}

/**
 * The sampler's inputs for `perImage` completions of each source, source by source:
 * known images (the sources repeated), a mask of their top `keepRows` rows (every
 * channel), and each completion's label.
 */
export function completionInputs(
  config: ModelConfig,
  sources: CompletionSources,
  keepRows: number,
  perImage: number,
): { count: number; known: { images: Uint8Array; mask: Uint8Array }; labels?: Int32Array } {
  requireConfigObject(config, 'completionInputs: config');
  if (typeof sources !== 'object' || sources === null) throw new PixelCNNError('ERR_TYPE', 'completionInputs: sources must be an object ({ levels, labels })');
  checkKeepRows(config, keepRows);
  if (!Number.isInteger(perImage) || perImage < 1) {
    throw new PixelCNNError('ERR_ARG', `perImage must be an integer ≥ 1, got ${shown(perImage)}`);
  }
  const size = pixelsPerImage(config);
  if (!(sources.levels instanceof Uint8Array) || sources.levels.length === 0 || sources.levels.length % size !== 0) {
    throw new PixelCNNError('ERR_LENGTH', `sources must be a Uint8Array of whole images of ${size} levels`);
  }
  const n = sources.levels.length / size;
  if (sources.labels !== undefined && (!(sources.labels instanceof Int32Array) || sources.labels.length !== n)) {
    throw new PixelCNNError('ERR_LENGTH', `sources.labels must be an Int32Array of one label a source (${n})`);
  }
  const count = n * perImage;
  checkSampleCount(config, count);
  const images = new Uint8Array(count * size);
  const mask = new Uint8Array(count * size);
  const imageMask = Uint8Array.from({ length: size }, (_, k) => (kept(config, k, keepRows) ? 1 : 0));
  for (let c = 0; c < count; c++) {
    const source = Math.floor(c / perImage);
    images.set(sources.levels.subarray(source * size, (source + 1) * size), c * size);
    mask.set(imageMask, c * size);
  }
  const labels = sources.labels && Int32Array.from({ length: count }, (_, c) => sources.labels![Math.floor(c / perImage)]);
  return { count, known: { images, mask }, labels };
}

/**
 * Display pixels (SPEC.md §1) of a grid with one row a source: the source, its kept
 * rows with the rest gray, then its `perImage` completions. [N·(perImage + 2), C, H, W].
 */
export function completionGrid(config: ModelConfig, sources: Uint8Array, completions: Uint8Array, keepRows: number, perImage: number): Uint8Array {
  checkKeepRows(config, keepRows);
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
    for (let k = 0; k < size; k++) grid[row + size + k] = kept(config, k, keepRows) ? source[k] : UNKNOWN_DISPLAY;
    grid.set(shownCompletions.subarray(s * perImage * size, (s + 1) * perImage * size), row + 2 * size);
  }
  return grid;
}
