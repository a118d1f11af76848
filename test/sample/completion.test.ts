/**
 * Image completion: the sampler's inputs keep each source's top rows, or the pixels of
 * a mask (every channel), and repeat sources and labels per completion; the grid shows
 * source, kept part and completions; and a model completing random sources keeps their
 * kept pixels to the level and draws the rest, with each source's label, on both
 * samplers alike.
 */
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src';
import { toDisplay } from '../../src/data/quantize';
import { resolveConfig } from '../../src/nn/config';
import { completionGrid, completionInputs, type KeptPixels } from '../../src/sample/completion';
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

/** A random mask [H, W] keeping about half the pixels, with some left to draw. */
function randomMask(seed: number): Uint8Array {
  const rng = makeRng(seed);
  const mask = Uint8Array.from({ length: config.height * config.width }, () => (rng() < 0.5 ? 1 : 0));
  mask[mask.length - 1] = 0;
  return mask;
}

/** Whether index k of an image [C, H, W] is a pixel `mask` keeps. */
const inMask = (k: number, mask: Uint8Array) => mask[k % mask.length] === 1;

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

  it('keeps the pixels of a mask in every channel of every completion', () => {
    const levels = randomLevels(7, 2);
    const mask = randomMask(8);
    const { count, known } = completionInputs(config, { levels }, mask, 3);
    expect(count).toBe(6);
    for (let c = 0; c < count; c++) {
      const source = Math.floor(c / 3);
      expect(known.images.subarray(c * size, (c + 1) * size)).toEqual(levels.subarray(source * size, (source + 1) * size));
      for (let k = 0; k < size; k++) expect(known.mask[c * size + k], `completion ${c}, index ${k}`).toBe(inMask(k, mask) ? 1 : 0);
    }
  });

  it.each([
    ['a mask of the wrong size', new Uint8Array(19), /a Uint8Array mask of 5×4 = 20 values/],
    ['a mask with values other than 0 and 1', Uint8Array.from({ length: 20 }, (_, k) => (k === 7 ? 255 : 0)), /0 \(drawn\) and 1 \(kept\) only, got 255 at index 7/],
    ['a mask that keeps every pixel', new Uint8Array(20).fill(1), /keeps every pixel: there is nothing to draw/],
    ['a mask that is not a Uint8Array', new Float32Array(20), /a number of rows or a Uint8Array mask/],
  ])('refuses %s (ERR_ARG)', (_, mask, message) => {
    expect(() => completionInputs(config, { levels: randomLevels(2, 1) }, mask as Uint8Array, 1)).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(message) }));
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

  it('takes labels as an array too, and refuses labels and levels the model does not have, and labels of another kind', () => {
    const levels = randomLevels(2, 2); // two sources
    expect(completionInputs(config, { levels, labels: [2, 0] }, 2, 2)).toEqual(completionInputs(config, { levels, labels: Int32Array.of(2, 0) }, 2, 2));
    for (const [sources, code, message] of [
      [{ levels, labels: [0, config.classes] }, 'ERR_RANGE', /sources\.labels\[1\] is \d+, not a class of this model/],
      [{ levels, labels: [0, 0.5] }, 'ERR_RANGE', /sources\.labels\[1\] is 0.5/],
      [{ levels, labels: Float64Array.of(0, 1) }, 'ERR_TYPE', /sources\.labels must be an Int32Array or an array of numbers, got a Float64Array/],
      [{ levels, labels: [0, 0], classless: true }, 'ERR_ARG', /sources\.labels were given, and this model has no classes/],
      [{ levels: Uint8Array.from(levels, (v, i) => (i === 5 ? config.levels : v)) }, 'ERR_RANGE', /sources\.levels\[5\] is level \d+, outside/],
    ] as const) {
      const model = 'classless' in sources ? { ...config, classes: 0 } : config;
      expect(() => completionInputs(model, sources as never, 2, 2)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
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

  it('shows the pixels of a mask as kept, the rest gray', () => {
    const sources = randomLevels(9, 2);
    const mask = randomMask(10);
    const grid = completionGrid(config, sources, randomLevels(11, 2), mask, 1);
    for (let s = 0; s < 2; s++) {
      const shown = toDisplay(sources.subarray(s * size, (s + 1) * size), config.levels);
      expect(grid.subarray((s * 3 + 1) * size, (s * 3 + 2) * size)).toEqual(shown.map((v, k) => (inMask(k, mask) ? v : 128)));
    }
  });
});

describe('completing images with a model', () => {
  const mask = randomMask(13);
  it.each([
    ['the top rows', 2 as KeptPixels, (k: number) => inTop(k, 2)],
    ['the pixels of a mask', mask as KeptPixels, (k: number) => inMask(k, mask)],
  ])('keeps %s of every source to the level and draws the rest, the cached sampler as the naive one', async (_, kept, isKept) => {
    const model = GatedPixelCNN.create(config, { seed: 5, backend: 'cpu' });
    const levels = randomLevels(6, 2);
    const inputs = completionInputs(config, { levels, labels: Int32Array.of(1, 2) }, kept, 3);
    const cached = await model.sample({ ...inputs, seed: 9 });
    const naive = await model.sample({ ...inputs, seed: 9, sampler: 'naive' });
    model.dispose();
    expect(naive).toEqual(cached);
    let drawn = 0;
    let drawnDiffering = 0;
    for (let c = 0; c < inputs.count; c++) {
      const source = Math.floor(c / 3);
      for (let k = 0; k < size; k++) {
        const [got, had] = [cached[c * size + k], levels[source * size + k]];
        if (isKept(k)) expect(got, `completion ${c}, kept index ${k}`).toBe(had);
        else {
          drawn++;
          if (got !== had) drawnDiffering++;
        }
      }
    }
    // A draw of 4 levels matches its source about a quarter of the time; a sampler that kept them all would differ nowhere.
    expect(drawnDiffering).toBeGreaterThan(drawn / 2);
  });
});
