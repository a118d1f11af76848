/**
 * Per-image outputs of the command: `eval --nll-out` writes each image's NLL, the
 * model's own, named by file for an image folder; `sample --images-dir` writes each
 * drawn image as a PNG in a class folder, which reads back as the levels drawn.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadImageFolder } from '../../src/data/image-folder';
import { quantize } from '../../src/data/quantize';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { runCli, savedByHand, trainTiny } from '../helpers/cli';
import { writePngFolder } from '../helpers/png-folder';
import { tinyDataset } from '../helpers/tiny-data';

describe('per-image outputs of gated-pixelcnn', () => {
  it('eval --nll-out writes the NLL of each test image, named by its file, that the model gives it', () => {
    const { dir, data, args, trained, checkpoint } = trainTiny('gpcnn-cli-per-image-');
    expect(trained.status, trained.stderr).toBe(0);
    // The MNIST-like model's classes have no names: a test folder names them by label.
    const testSet = tinyDataset(9, 6, 3, 5);
    const testDir = writePngFolder(path.join(dir, 'test-folder'), testSet, ['0', '1', '2']);
    const table = path.join(dir, 'scores', 'nll.csv');
    // Batches of 4 of the 9 images: each batch's NLLs land in their own rows.
    const evaluated = runCli('eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--nll-out', table,
      '--batch-size', '4', '--json', '--no-progress');
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
      folder.imageNames!.map((name, n) => [n, name, folder.labels[n], String(folder.labels[n])])); // class: the folder's name
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

    // A test split held out of the IDX training images names each image by its place there.
    // (The run trained on all of them: a copy saved by hand, which says nothing of its
    // training set, is evaluated on a split of them.)
    const trainFiles = (flag: string) => args[args.indexOf(flag) + 1];
    const heldOut = path.join(dir, 'held-out.csv');
    expect(runCli('eval', '--checkpoint', savedByHand(checkpoint), '--dataset', 'idx', '--train-images', trainFiles('--train-images'),
      '--train-labels', trainFiles('--train-labels'), '--test-fraction', '0.25', '--nll-out', heldOut, '--no-progress').status).toBe(0);
    const heldOutNames = readFileSync(heldOut, 'utf8').trimEnd().split('\n').slice(1).map((line) => line.split(',')[1]);
    expect(heldOutNames).toHaveLength(16);
    expect(heldOutNames.every((name) => /^#\d+$/.test(name))).toBe(true);

    // Only a .csv file is written, never an input, and never the checkpoint (through a link either); a bad place fails before evaluating.
    const image = path.join(testDir, '0', 'img0.png');
    const onImage = runCli('eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--nll-out', image);
    expect([onImage.status, onImage.stderr]).toEqual([1, expect.stringMatching(/give a file name ending in \.csv/)]);
    const linked = path.join(dir, 'model.csv');
    symlinkSync(checkpoint, linked);
    const onCheckpoint = runCli('eval', '--checkpoint', linked, ...data, '--nll-out', checkpoint.replace(/safetensors$/, 'csv'));
    expect(onCheckpoint.status, onCheckpoint.stderr).toBe(0);
    const throughLink = runCli('eval', '--checkpoint', checkpoint, ...data, '--nll-out', linked);
    expect([throughLink.status, throughLink.stderr]).toEqual([1, expect.stringMatching(/model\.csv would overwrite the input .*model\.safetensors \(ERR_ARG\)/)]);
    const folderCsv = path.join(dir, 'folder.csv');
    mkdirSync(folderCsv);
    const onFolder = runCli('eval', '--checkpoint', checkpoint, ...data, '--nll-out', folderCsv);
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
    expect(sampled.stderr).toMatch(/samples \(6 PNG files\)/);
    const levels = readFileSync(levelsFile);
    const back = loadImageFolder(images, { channels: 1, classNames: ['0', '1', '2'] });
    expect(back.imageNames).toEqual(['0/3.png', '0/4.png', '0/5.png', '2/0.png', '2/1.png', '2/2.png'].map((f) => path.join(...f.split('/'))));
    const quantized = quantize(back.images, 4);
    back.imageNames!.forEach((name, k) => {
      const n = Number(path.basename(name, '.png'));
      expect(back.labels[k]).toBe(n < 3 ? 2 : 0);
      expect(quantized.subarray(k * 36, (k + 1) * 36)).toEqual(new Uint8Array(levels.subarray(n * 36, (n + 1) * 36)));
    });

    // With 48 levels, whose display values do not all quantize back, the files still read back as the levels drawn.
    const fineCheckpoint = path.join(dir, 'k48.safetensors');
    const fine = GatedPixelCNN.create({ channels: 1, height: 5, width: 5, levels: 48, hidden: 4, layers: 1, firstKernel: 3, kernel: 3, headHidden: 4 },
      { backend: cpu, seed: 3 });
    fine.save(fineCheckpoint);
    fine.dispose();
    const fineImages = path.join(dir, 'k48');
    const fineLevels = path.join(dir, 'k48.u8');
    const fineSampled = runCli('sample', '--checkpoint', fineCheckpoint, '--count', '30', '--out', path.join(dir, 'k48.png'),
      '--levels-out', fineLevels, '--images-dir', fineImages, '--no-progress');
    expect(fineSampled.status, fineSampled.stderr).toBe(0);
    const fineBack = loadImageFolder(fineImages, { channels: 1 });
    expect(fineBack.imageNames![29]).toBe('29.png');
    expect(quantize(fineBack.images, 48)).toEqual(new Uint8Array(readFileSync(fineLevels)));

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

describe('outputs never overwrite inputs', () => {
  it('refuses, before any work, an output that is the checkpoint, a data file, or a file in a data folder', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-spare-inputs-');
    expect(trained.status, trained.stderr).toBe(0);
    const before = readFileSync(checkpoint);
    const testImages = data[data.indexOf('--test-images') + 1];
    const imagesBefore = readFileSync(testImages);
    const link = path.join(dir, 'link.png');
    symlinkSync(checkpoint, link);
    const testDir = writePngFolder(path.join(dir, 'test-folder'), tinyDataset(3, 6, 3, 5), ['0', '1', '2']);
    for (const [args, message] of [
      [['sample', '--checkpoint', checkpoint, '--out', checkpoint], /model\.safetensors would overwrite the input .*model\.safetensors/],
      [['sample', '--checkpoint', checkpoint, '--out', link], /link\.png would overwrite the input/],
      [['sample', '--checkpoint', checkpoint, '--levels-out', checkpoint], /would overwrite the input/],
      [['complete', '--checkpoint', checkpoint, ...data, '--out', testImages], /--out writes a PNG/],
      [['complete', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--out', path.join(testDir, '0', 'c.png')],
        /c\.png would be written into the input folder/],
      [['eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--nll-out', path.join(testDir, '0', 'x.csv')],
        /x\.csv would be written into the input folder .*test-folder/],
      [['eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--heatmap', path.join(testDir, '0', 'img0.png')],
        /img0\.png would be written into the input folder .*test-folder/],
    ] as const) {
      const refused = runCli(...args, '--no-progress');
      expect([refused.status, refused.stderr], args.join(' ')).toEqual([1, expect.stringMatching(message)]);
    }
    expect(readFileSync(checkpoint)).toEqual(before);
    expect(readFileSync(testImages)).toEqual(imagesBefore);
    expect(existsSync(path.join(testDir, '0', 'x.csv'))).toBe(false);
  });

  it('makes missing output folders only when it writes: a run refused after its checks leaves none behind', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-output-folders-');
    expect(trained.status, trained.stderr).toBe(0);
    const notLevels = path.join(dir, 'notes.u8');
    writeFileSync(notLevels, 'mine');
    const missing = path.join(dir, 'no-such-folder');
    for (const [args, message] of [
      // Each fails after its outputs were checked, before anything is written.
      [['sample', '--checkpoint', checkpoint, '--out', path.join(dir, 'new1', 'a', 'x.png'), '--levels-out', notLevels], /notes\.u8 exists and is not a levels file/],
      [['eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', missing, '--nll-out', path.join(dir, 'new2', 'x.csv')], /no-such-folder/],
      [['complete', '--checkpoint', checkpoint, ...data, '--first', '999', '--out', path.join(dir, 'new3', 'x.png')], /--first 999 is past the last of the \d+ test images/],
    ] as const) {
      const refused = runCli(...args, '--no-progress');
      expect([refused.status, refused.stderr], args.join(' ')).toEqual([1, expect.stringMatching(message)]);
    }
    expect(readdirSync(dir).filter((name) => name.startsWith('new'))).toEqual([]);

    const sampled = runCli('sample', '--checkpoint', checkpoint, '--labels', '0', '--per-label', '2', '--no-progress',
      '--out', path.join(dir, 'new4', 'a', 'x.png'), '--levels-out', path.join(dir, 'new5', 'y.u8'), '--images-dir', path.join(dir, 'new6', 'b', 'images'));
    expect(sampled.status, sampled.stderr).toBe(0);
    for (const file of ['new4/a/x.png', 'new5/y.u8', 'new5/y.u8.json', 'new6/b/images/0/0.png']) expect(existsSync(path.join(dir, file)), file).toBe(true);
    const unwritable = runCli('sample', '--checkpoint', checkpoint, '--out', path.join(notLevels, 'x.png'));
    expect([unwritable.status, unwritable.stderr]).toEqual([1, expect.stringMatching(/cannot write into .*notes\.u8: .*notes\.u8 is not a folder \(ERR_IO\)/)]);
  });
});

/** The label of test image n of trainTiny's test set (tinyDataset cycles through its 3 classes). */
const testSetLabel = (n: number): number => n % 3;
