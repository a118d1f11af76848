/**
 * Image completion: the sampler's inputs keep each source's top rows (every channel)
 * and repeat sources and labels per completion; the grid shows source, kept part and
 * completions; and a model completing random sources keeps their top rows to the
 * level and draws the rest, with each source's label, on both samplers alike.
 */
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src';
import { toDisplay } from '../../src/data/quantize';
import { resolveConfig } from '../../src/nn/config';
import { completionGrid, completionInputs } from '../../src/sample/completion';
import { makeRng } from '../helpers/random';

const config = resolveConfig({
  channels: 2, height: 5, width: 4, levels: 4, hidden: 6, layers: 2, firstKernel: 3, kernel: 3, headHidden: 4, classes: 3,
});
const size = 2 * 5 * 4;

function randomLevels(seed: number, images: number): Uint8Array {
  const rng = makeRng(seed);
  return Uint8Array.from({ length: images * size }, () => Math.floor(rng() * config.levels));
}

/** Whether index k of an image [C, H, W] is in its top `rows` rows. */
const inTop = (k: number, rows: number) => Math.floor(k / config.width) % config.height < rows;

describe('completionInputs', () => {
  it('repeats each source and label per completion, with a mask of the top rows of every channel', () => {
    const levels = randomLevels(1, 3);
    const labels = Int32Array.of(2, 0, 1);
    const { count, known, labels: repeated } = completionInputs(config, { levels, labels }, 2, 4);
    expect(count).toBe(12);
    expect([...repeated!]).toEqual([2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1]);
    for (let c = 0; c < count; c++) {
      const source = Math.floor(c / 4);
      expect(known.images.subarray(c * size, (c + 1) * size)).toEqual(levels.subarray(source * size, (source + 1) * size));
      for (let k = 0; k < size; k++) expect(known.mask[c * size + k], `completion ${c}, index ${k}`).toBe(inTop(k, 2) ? 1 : 0);
    }
  });

  it.each([
    ['keepRows as tall as the image', 5, 1, randomLevels(2, 1), 'ERR_ARG'],
    ['a negative keepRows', -1, 1, randomLevels(2, 1), 'ERR_ARG'],
    ['perImage 0', 2, 0, randomLevels(2, 1), 'ERR_ARG'],
    ['sources that are not whole images', 2, 1, randomLevels(2, 1).subarray(1), 'ERR_LENGTH'],
    ['no sources', 2, 1, new Uint8Array(0), 'ERR_LENGTH'],
  ])('refuses %s', (_, keepRows, perImage, levels, code) => {
    expect(() => completionInputs(config, { levels }, keepRows, perImage)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses labels that are not one a source (ERR_LENGTH)', () => {
    for (const labels of [Int32Array.of(2), Int32Array.of(0, 1, 2, 0)]) {
      expect(() => completionInputs(config, { levels: randomLevels(2, 3), labels }, 2, 2)).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
    }
  });
});

describe('completionGrid', () => {
  it('lays out each source, its kept rows (the rest gray) and its completions in one row', () => {
    const sources = randomLevels(3, 2);
    const completions = randomLevels(4, 6);
    const grid = completionGrid(config, sources, completions, 3, 3);
    expect(grid.length).toBe(2 * 5 * size);
    const shown = (levels: Uint8Array, n: number) => toDisplay(levels.subarray(n * size, (n + 1) * size), config.levels);
    for (let s = 0; s < 2; s++) {
      const tile = (column: number) => grid.subarray((s * 5 + column) * size, (s * 5 + column + 1) * size);
      expect(tile(0)).toEqual(shown(sources, s));
      const kept = shown(sources, s).map((v, k) => (inTop(k, 3) ? v : 128));
      expect(tile(1)).toEqual(kept);
      for (let j = 0; j < 3; j++) expect(tile(2 + j)).toEqual(shown(completions, s * 3 + j));
    }
    expect(() => completionGrid(config, sources, completions.subarray(size), 3, 3)).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
  });
});

describe('completing images with a model', () => {
  it('keeps the top rows of every source to the level and draws the rest, the cached sampler as the naive one', async () => {
    const model = GatedPixelCNN.create(config, { seed: 5, backend: 'cpu' });
    const levels = randomLevels(6, 2);
    const inputs = completionInputs(config, { levels, labels: Int32Array.of(1, 2) }, 2, 3);
    const cached = await model.sample({ ...inputs, seed: 9 });
    const naive = await model.sample({ ...inputs, seed: 9, sampler: 'naive' });
    model.dispose();
    expect(naive).toEqual(cached);
    let drawnDiffering = 0;
    for (let c = 0; c < inputs.count; c++) {
      const source = Math.floor(c / 3);
      for (let k = 0; k < size; k++) {
        const [got, had] = [cached[c * size + k], levels[source * size + k]];
        if (inTop(k, 2)) expect(got, `completion ${c}, kept index ${k}`).toBe(had);
        else if (got !== had) drawnDiffering++;
      }
    }
    // 36 drawn pixels in each of 6 completions: a sampler that kept them all would draw nothing.
    expect(drawnDiffering).toBeGreaterThan(36);
  });
});
