/** Writing sampled levels as a PNG grid (levels → 8-bit display values, SPEC.md §1). */
import { toDisplay } from '../data/quantize';
import { writePngGrid } from '../io/png-grid';
import type { ModelConfig } from '../nn/config';

/** Writes `levels` [count, C, H, W] as a grid of `columns` images per row, scaled up `scale` times. */
export function writeSampleGrid(
  file: string, levels: Uint8Array, config: ModelConfig, options: { columns: number; scale?: number },
): void {
  const count = levels.length / (config.channels * config.height * config.width);
  writePngGrid(
    file,
    toDisplay(levels, config.levels),
    { count, channels: config.channels, height: config.height, width: config.width },
    { columns: options.columns, scale: options.scale ?? 2, padding: 2 },
  );
}
