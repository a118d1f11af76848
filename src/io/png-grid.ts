/**
 * A batch of images as one PNG: the images in a grid, row-major with `columns` per row,
 * `padding` black pixels between neighbouring cells (none around the border), each
 * image upscaled by an integer `scale` (pixel replication, so samples stay crisp).
 * Gray PNG for C = 1, gray and alpha for C = 2, RGB for C = 3, RGBA for C = 4 (the
 * padding transparent there). Cell (r, c) has its top-left corner at
 * x = c·(W·scale + padding), y = r·(H·scale + padding).
 */
import { PNG } from 'pngjs';

import { PixelCNNError } from '../errors';
import { writeFileAtomicSync } from './atomic-write';

export interface GridShape {
  count: number;
  channels: number;
  height: number;
  width: number;
}

export interface GridLayout {
  /** Images per row (fewer when there are fewer images). */
  columns: number;
  /** Black pixels between cells, in output pixels (default 2). */
  padding?: number;
  /** Integer upscaling factor (default 1). */
  scale?: number;
}

/** PNG's color type for each channel count: gray, gray and alpha, RGB, RGBA. */
const PNG_COLOR_TYPES: Record<number, 0 | 4 | 2 | 6> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** Whether a grid can show images of `channels` channels (1 to 4). */
export const pngGridTakes = (channels: number): boolean => Object.hasOwn(PNG_COLOR_TYPES, channels);

function checkInt(value: unknown, min: number, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new PixelCNNError('ERR_ARG', `encodePngGrid: ${what} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value as number;
}

/**
 * The grid's size in pixels; ERR_ARG if it is too large to encode or its images have
 * channels a PNG cannot show. Callers with long work before the write (sampling) check
 * it first.
 */
export function gridSize(
  shape: GridShape, layout: GridLayout,
): { outW: number; outH: number; cellW: number; cellH: number } {
  const columns = Math.min(layout.columns, shape.count);
  const padding = layout.padding ?? 2;
  const scale = layout.scale ?? 1;
  if (!pngGridTakes(shape.channels)) {
    throw new PixelCNNError('ERR_ARG', `PNG grids take 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA) channels, got ${shape.channels}`);
  }
  const rows = Math.ceil(shape.count / columns);
  const cellW = shape.width * scale;
  const cellH = shape.height * scale;
  const outW = columns * cellW + (columns - 1) * padding;
  const outH = rows * cellH + (rows - 1) * padding;
  // PNG allows 2^31−1, but zlib and memory give out long before; keep it sane.
  if (outW * outH * shape.channels > 2 ** 30) {
    throw new PixelCNNError('ERR_ARG', `a ${outW}×${outH} PNG grid is too large`);
  }
  return { outW, outH, cellW, cellH };
}

/** Encodes 8-bit display pixels [B, C, H, W] as a PNG grid. */
export function encodePngGrid(images: Uint8Array, shape: GridShape, layout: GridLayout): Buffer {
  const count = checkInt(shape?.count, 1, 'count');
  const C = checkInt(shape.channels, 1, 'channels');
  const H = checkInt(shape.height, 1, 'height');
  const W = checkInt(shape.width, 1, 'width');
  const columns = Math.min(checkInt(layout?.columns, 1, 'columns'), count);
  const padding = checkInt(layout.padding ?? 2, 0, 'padding');
  const scale = checkInt(layout.scale ?? 1, 1, 'scale');
  if (!(images instanceof Uint8Array) || images.length !== count * C * H * W) {
    throw new PixelCNNError(
      'ERR_LENGTH',
      `encodePngGrid: expected ${count}×${C}×${H}×${W} = ${count * C * H * W} pixels, ` +
        `got ${images instanceof Uint8Array ? images.length : typeof images}`,
    );
  }

  const { outW, outH, cellW, cellH } = gridSize(shape, { columns, padding, scale });

  const out = Buffer.alloc(outW * outH * C); // zeros: the black background
  const plane = H * W;
  for (let n = 0; n < count; n++) {
    const x0 = (n % columns) * (cellW + padding);
    const y0 = Math.floor(n / columns) * (cellH + padding);
    const base = n * C * plane;
    for (let i = 0; i < cellH; i++) {
      const srcRow = Math.floor(i / scale) * W;
      const dstRow = ((y0 + i) * outW + x0) * C;
      for (let j = 0; j < cellW; j++) {
        const src = base + srcRow + Math.floor(j / scale);
        const dst = dstRow + j * C;
        // Planar [C, H, W] in, interleaved out.
        for (let c = 0; c < C; c++) out[dst + c] = images[src + c * plane];
      }
    }
  }

  const colorType = PNG_COLOR_TYPES[C];
  const inputHasAlpha = C % 2 === 0;
  const png = new PNG({ width: outW, height: outH, colorType, inputColorType: colorType, inputHasAlpha });
  png.data = out;
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha });
}

/** encodePngGrid, written to `file` atomically, so that a reader never sees half a PNG. */
export function writePngGrid(file: string, images: Uint8Array, shape: GridShape, layout: GridLayout): void {
  writeFileAtomicSync(file, encodePngGrid(images, shape, layout));
}
