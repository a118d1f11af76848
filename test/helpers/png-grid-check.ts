/** Checking a decoded PNG grid pixel by pixel against the images it should show. */
import type { PNG } from 'pngjs';
import { expect } from 'vitest';

/** Checks every output pixel against the input (or black padding, transparent where the images have alpha). */
export function checkGrid(
  png: PNG,
  images: Uint8Array,
  [count, C, H, W]: number[],
  { columns, padding, scale }: { columns: number; padding: number; scale: number },
): void {
  const cols = Math.min(columns, count);
  const rows = Math.ceil(count / cols);
  expect(png.width).toBe(cols * W * scale + (cols - 1) * padding);
  expect(png.height).toBe(rows * H * scale + (rows - 1) * padding);
  // pngjs decodes to RGBA whatever the file's color type.
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const at = (y * png.width + x) * 4;
      const [cellX, inX] = [Math.floor(x / (W * scale + padding)), x % (W * scale + padding)];
      const [cellY, inY] = [Math.floor(y / (H * scale + padding)), y % (H * scale + padding)];
      const n = cellY * cols + cellX;
      const inside = inX < W * scale && inY < H * scale && n < count;
      const input = (channel: number) =>
        images[((n * C + channel) * H + Math.floor(inY / scale)) * W + Math.floor(inX / scale)];
      const hasAlpha = C % 2 === 0;
      // Gray (C = 1, 2) decodes as R = G = B; alpha is the last channel, or opaque.
      for (let c = 0; c < 4; c++) {
        const want = c === 3 && !hasAlpha ? 255 : !inside ? 0 : input(c === 3 ? C - 1 : C <= 2 ? 0 : c);
        if (png.data[at + c] !== want) {
          throw new Error(`pixel (${x}, ${y}) component ${c}: ${png.data[at + c]}, expected ${want}`);
        }
      }
    }
  }
}
