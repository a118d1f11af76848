/**
 * Per-image outputs of the command: `eval --nll-out` writes each image's NLL, the
 * model's own, named by file for an image folder; `sample --images-dir` writes each
 * drawn image as a PNG in a class folder, which reads back as the levels drawn.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadImageFolder } from '../../src/data/image-folder';
import { quantize } from '../../src/data/quantize';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { runCli, trainTiny } from '../helpers/cli';
import { writePngFolder } from '../helpers/png-folder';
import { tinyDataset } from '../helpers/tiny-data';

describe('per-image outputs of gated-pixelcnn', () => {
  it('eval --nll-out writes the NLL of each test image, named by its file, that the model gives it', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-per-image-');
    expect(trained.status, trained.stderr).toBe(0);
    // The MNIST-like model's classes have no names: a test folder names them by label.
    const testSet = tinyDataset(9, 6, 3, 5);
    const testDir = writePngFolder(path.join(dir, 'test-folder'), testSet, ['0', '1', '2']);
    const table = path.join(dir, 'scores', 'nll.csv');
    const evaluated = runCli('eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--nll-out', table, '--json', '--no-progress');
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stderr).toMatch(/wrote each image's NLL to .*nll\.csv/);
    const report = JSON.parse(evaluated.stdout) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(['checkpoint', 'dataset', 'nll', 'bitsPerDim', 'images']);

    const [header, ...rows] = readFileSync(table, 'utf8').trimEnd().split('\n').map((line) => line.split(','));
    expect(header).toEqual(['index', 'image', 'label', 'class', 'nats', 'bits_per_dim']);
    const folder = loadImageFolder(testDir, { channels: 1, classNames: ['0', '1', '2'] });
    const model = GatedPixelCNN.load(checkpoint, { backend: cpu });
    const nlls = model.nll(quantize(folder.images, 4), { labels: folder.labels });
    model.dispose();
    expect(rows.map((r) => [Number(r[0]), r[1], Number(r[2]), r[3]])).toEqual(
      folder.imageNames!.map((name, n) => [n, name, folder.labels[n], '']));
    expect(rows[0][1]).toBe(path.join('0', 'img0.png'));
    rows.forEach((r, n) => {
      expect(Number(r[4])).toBeCloseTo(nlls[n], 4);
      expect(Number(r[5])).toBeCloseTo(nlls[n] / (36 * Math.LN2), 6);
    });
    expect(rows.reduce((sum, r) => sum + Number(r[4]), 0) / rows.length).toBeCloseTo(report.nll as number, 4);

    // On IDX files the images have no names; --limit limits the table too.
    const idxTable = path.join(dir, 'idx.csv');
    expect(runCli('eval', '--checkpoint', checkpoint, ...data, '--limit', '5', '--nll-out', idxTable, '--no-progress').status).toBe(0);
    const idxRows = readFileSync(idxTable, 'utf8').trimEnd().split('\n').slice(1).map((line) => line.split(','));
    expect(idxRows.map((r) => r.slice(0, 4))).toEqual([0, 1, 2, 3, 4].map((n) => [String(n), '', String(testSetLabel(n)), '']));

    // The checkpoint is never overwritten, and a bad place fails before evaluating.
    const onCheckpoint = runCli('eval', '--checkpoint', checkpoint, ...data, '--nll-out', checkpoint);
    expect([onCheckpoint.status, onCheckpoint.stderr]).toEqual([1, expect.stringMatching(/--nll-out names the checkpoint/)]);
    const onFolder = runCli('eval', '--checkpoint', checkpoint, ...data, '--nll-out', dir);
    expect([onFolder.status, onFolder.stderr]).toEqual([1, expect.stringMatching(/it is a folder \(ERR_IO\)/)]);
  });

  it('sample --images-dir writes each image as a PNG in its class folder, reading back as the levels drawn', () => {
    const { dir, trained, checkpoint } = trainTiny('gpcnn-cli-images-dir-');
    expect(trained.status, trained.stderr).toBe(0);
    const images = path.join(dir, 'samples');
    const levelsFile = path.join(dir, 'levels.u8');
    const sampled = runCli('sample', '--checkpoint', checkpoint, '--labels', '2,0', '--per-label', '3', '--out', path.join(dir, 'grid.png'),
      '--levels-out', levelsFile, '--images-dir', images, '--no-progress');
    expect(sampled.status, sampled.stderr).toBe(0);
    expect(sampled.stderr).toMatch(/samples\/ \(6 PNG files\)/);
    const levels = readFileSync(levelsFile);
    const back = loadImageFolder(images, { channels: 1, classNames: ['0', '1', '2'] });
    expect(back.imageNames).toEqual(['0/3.png', '0/4.png', '0/5.png', '2/0.png', '2/1.png', '2/2.png'].map((f) => path.join(...f.split('/'))));
    const quantized = quantize(back.images, 4);
    back.imageNames!.forEach((name, k) => {
      const n = Number(path.basename(name, '.png'));
      expect(back.labels[k]).toBe(n < 3 ? 2 : 0);
      expect(quantized.subarray(k * 36, (k + 1) * 36)).toEqual(new Uint8Array(levels.subarray(n * 36, (n + 1) * 36)));
    });

    // A folder that holds anything, or one that would hold another output, is refused before sampling.
    const grid = path.join(dir, 'other.png');
    const again = runCli('sample', '--checkpoint', checkpoint, '--labels', '1', '--out', grid, '--images-dir', images);
    expect([again.status, again.stderr]).toEqual([1, expect.stringMatching(/samples: it is not empty .*\(ERR_IO\)/)]);
    const fresh = path.join(dir, 'fresh');
    mkdirSync(fresh);
    const inside = runCli('sample', '--checkpoint', checkpoint, '--labels', '1', '--out', path.join(fresh, 'grid.png'), '--images-dir', fresh);
    expect([inside.status, inside.stderr]).toEqual([1, expect.stringMatching(/grid\.png would be written into --images-dir/)]);
    expect(existsSync(grid)).toBe(false);
  });
});

/** The label of test image n of trainTiny's test set (tinyDataset cycles through its 3 classes). */
const testSetLabel = (n: number): number => n % 3;
