/**
 * The grid `train` writes at each evaluation (samples.png in its output folder): ten
 * images a class for the first ten classes, or a hundred without classes, drawn with
 * the same seed each time, so that one grid after another shows the model learning.
 */
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { writeSampleGrid } from '../sample/grid';

export const SAMPLES_FILE = 'samples.png';

const PER_ROW = 10;

/** Draws the grid with `model`'s current weights and writes it to `file` (atomically). */
export async function writeTrainingSamples(model: GatedPixelCNN, file: string): Promise<void> {
  const { classes } = model.config;
  const rows = classes > 0 ? Math.min(classes, PER_ROW) : PER_ROW;
  const labels = classes > 0 ? Int32Array.from({ length: rows * PER_ROW }, (_, n) => Math.floor(n / PER_ROW)) : undefined;
  const levels = await model.sample({ count: rows * PER_ROW, labels, seed: 0 });
  writeSampleGrid(file, levels, model.config, { columns: PER_ROW });
}
