/** Writing sampled levels as a PNG grid (levels → 8-bit display values, SPEC.md §1). */
import { toDisplay } from '../data/quantize';
import { gridSize, writePngGrid, type GridLayout, type GridShape } from '../io/png-grid';
import { requireConfigObject, type ModelConfig } from '../nn/config';
import { optionsObject } from '../options';

interface SampleGridOptions {
  columns: number;
  scale?: number;
}

function shapeAndLayout(count: number, config: ModelConfig, options: SampleGridOptions): [GridShape, GridLayout] {
  requireConfigObject(config, 'a sample grid: config');
  const { columns, scale } = optionsObject(options, 'a sample grid: options');
  return [
    { count, channels: config.channels, height: config.height, width: config.width },
    { columns: columns!, scale: scale ?? 2, padding: 2 },
  ];
}

/** Checks, before sampling, that a grid of `count` images can be written (ERR_ARG if too large). */
export function checkSampleGrid(count: number, config: ModelConfig, options: SampleGridOptions): void {
  gridSize(...shapeAndLayout(count, config, options));
}

/** Writes `levels` [count, C, H, W] as a grid of `columns` images per row, scaled up `scale` times. */
export function writeSampleGrid(file: string, levels: Uint8Array, config: ModelConfig, options: SampleGridOptions): void {
  requireConfigObject(config, 'writeSampleGrid: config');
  writeDisplayGrid(file, toDisplay(levels, config.levels), config, options);
}

/** writeSampleGrid for images already in 8-bit display values. */
export function writeDisplayGrid(file: string, pixels: Uint8Array, config: ModelConfig, options: SampleGridOptions): void {
  const count = pixels.length / (config.channels * config.height * config.width);
  writePngGrid(file, pixels, ...shapeAndLayout(count, config, options));
}
