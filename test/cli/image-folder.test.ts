/**
 * `--dataset folder` end to end: train on class folders of RGB PNG images, then
 * evaluate, sample and complete with a test folder that lacks a class, each using the
 * training run's labels; class names in --labels and in per-class file names.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';

import type { ImageDataset } from '../../src/data/dataset';
import { loadImageFolder } from '../../src/data/image-folder';
import { quantize, toDisplay } from '../../src/data/quantize';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { completionInputs } from '../../src/sample/completion';
import { evaluate } from '../../src/train/evaluate';
import { cpu } from '../helpers/backend';
import { runCli, savedByHand, trainTiny } from '../helpers/cli';
import { writePngFolder } from '../helpers/png-folder';
import { tinyDataset } from '../helpers/tiny-data';

/** tinyDataset's gray images as RGB: red the image, green its negative, blue half of it. */
function rgb(data: ImageDataset): ImageDataset {
  const plane = data.height * data.width;
  const images = new Uint8Array(data.count * 3 * plane);
  for (let n = 0; n < data.count; n++)
    for (let i = 0; i < plane; i++) {
      const v = data.images[n * plane + i];
      images[n * 3 * plane + i] = v;
      images[(n * 3 + 1) * plane + i] = 255 - v;
      images[(n * 3 + 2) * plane + i] = v >> 1;
    }
  return { ...data, channels: 3, images };
}

/** The images of `data` whose label is in `keep`, in order. */
function only(data: ImageDataset, keep: number[]): ImageDataset {
  const size = data.channels * data.height * data.width;
  const chosen = [...data.labels.keys()].filter((n) => keep.includes(data.labels[n]));
  const images = new Uint8Array(chosen.length * size);
  chosen.forEach((n, k) => images.set(data.images.subarray(n * size, (n + 1) * size), k * size));
  return { ...data, count: chosen.length, images, labels: Int32Array.from(chosen, (n) => data.labels[n]) };
}

describe('gated-pixelcnn with --dataset folder', () => {
  it('trains on class folders, and evaluates, samples and completes with the run\'s labels', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-folder-'));
    const classNames = ['cat', 'dog', 'fox'];
    const trainDir = writePngFolder(path.join(dir, 'train'), rgb(tinyDataset(48, 6, 3, 1)), classNames);
    // The test folder has no cats: its dogs and foxes must keep labels 1 and 2.
    const testSet = only(rgb(tinyDataset(12, 6, 3, 2)), [1, 2]);
    const testDir = writePngFolder(path.join(dir, 'test'), testSet, classNames);
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ levels: 4, hidden: 4, layers: 2, firstKernel: 3, kernel: 3, headHidden: 4 }));
    const out = path.join(dir, 'run');
    const trained = runCli('train', '--dataset', 'folder', '--train-dir', trainDir, '--test-dir', testDir, '--config', config,
      '--steps', '4', '--batch-size', '8', '--out', out, '--no-progress');
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/on folder: 48 images, .*\nlabels: 0 cat, 1 dog, 2 fox\n/);
    const checkpoint = path.join(out, 'model.safetensors');
    expect(runCli('info', '--checkpoint', checkpoint).stdout).toMatch(/\nlabels: 0 cat, 1 dog, 2 fox\n/);
    const model = GatedPixelCNN.load(checkpoint, { backend: cpu });
    expect([model.config.channels, model.config.height, model.config.classes, model.classNames]).toEqual([3, 6, 3, classNames]);

    // The NLL of the test images under their own labels, from memory: a test folder
    // labeled by its own folders (dog 0, fox 1) would give another.
    const table = path.join(dir, 'nll.csv');
    const evaluated = runCli('eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--json', '--no-progress', '--nll-out', table);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(readFileSync(table, 'utf8').split('\n').slice(1, 6).map((line) => line.split(',').slice(1, 4))).toEqual(
      [['dog/img0.png', '1', 'dog'], ['dog/img1.png', '1', 'dog'], ['dog/img2.png', '1', 'dog'], ['dog/img3.png', '1', 'dog'], ['fox/img0.png', '2', 'fox']]);
    const report = JSON.parse(evaluated.stdout) as { nll: number; images: number };
    expect(report.images).toBe(8);
    expect(report.nll).toBeCloseTo(evaluate(model, testSet).nll, 4);
    expect(evaluate(model, { ...testSet, labels: testSet.labels.map((y) => y - 1) }).nll).not.toBeCloseTo(report.nll, 4);
    model.dispose();
    expect(runCli('eval', '--checkpoint', checkpoint, '--dataset', 'folder').stderr).toMatch(/--dataset folder needs --test-dir/);

    const grid = path.join(dir, 'samples.png');
    const sampled = runCli('sample', '--checkpoint', checkpoint, '--labels', 'fox,0', '--per-label', '2', '--per-class', '--out', grid, '--images-dir', path.join(dir, 'samples'), '--no-progress');
    expect(sampled.status, sampled.stderr).toBe(0);
    for (const name of ['samples.png', 'samples-fox.png', 'samples-cat.png']) expect(existsSync(path.join(dir, name)), name).toBe(true);
    const sampledImages = loadImageFolder(path.join(dir, 'samples'), { classNames });
    expect([sampledImages.channels, sampledImages.imageNames]).toEqual([3, ['cat/2.png', 'cat/3.png', 'fox/0.png', 'fox/1.png'].map((f) => path.join(...f.split('/')))]);
    expect(runCli('sample', '--checkpoint', checkpoint, '--labels', 'wolf', '--out', grid).stderr)
      .toMatch(/"wolf" is not a class of this model \(its classes: cat, dog, fox\)/);

    const completions = path.join(dir, 'completions.png');
    const completed = runCli('complete', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir,
      '--images', '2', '--per-image', '1', '--out', completions, '--no-progress');
    expect(completed.status, completed.stderr).toBe(0);
    expect(existsSync(completions)).toBe(true);
    // --label by class name: the completions are drawn as a fox, as the model draws them when asked here.
    const asFox = runCli('complete', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir,
      '--images', '2', '--per-image', '1', '--keep-rows', '1', '--label', 'fox', '--seed', '3', '--out', completions, '--no-progress');
    expect([asFox.status, asFox.stderr]).toEqual([0, expect.stringMatching(/completed 2 images once each as class fox, 1 of 6 rows kept/)]);
    const png = PNG.sync.read(readFileSync(completions));
    const red = (row: number) => Array.from({ length: 36 }, (_, k) => png.data[4 * ((row * 14 + 2 * Math.floor(k / 6)) * png.width + 2 * 14 + 2 * (k % 6))]);
    const again = GatedPixelCNN.load(checkpoint, { backend: cpu });
    const sources = loadImageFolder(testDir, { classNames });
    const levels = quantize(sources.images.subarray(0, 2 * 108), again.config.levels);
    const draw = async (labels: Int32Array) => {
      const drawn = await again.sample({ ...completionInputs(again.config, { levels, labels }, 1, 1), seed: 3 });
      return [0, 1].flatMap((n) => [...toDisplay(drawn, again.config.levels).subarray(n * 108, n * 108 + 36)]); // red planes
    };
    expect([...red(0), ...red(1)]).toEqual(await draw(Int32Array.of(2, 2)));
    expect([...red(0), ...red(1)]).not.toEqual(await draw(Int32Array.of(1, 1))); // their own label, dog, draws others
    again.dispose();
  });

  it('trains a model without classes on class folders when the configuration says classes 0', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-folder-unconditional-'));
    const trainDir = writePngFolder(path.join(dir, 'train'), tinyDataset(8, 6, 2, 1), ['a', 'b']);
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ levels: 4, hidden: 4, layers: 1, firstKernel: 3, kernel: 3, headHidden: 4, classes: 0 }));
    const out = path.join(dir, 'run');
    const trained = runCli('train', '--dataset', 'folder', '--train-dir', trainDir, '--config', config, '--steps', '1', '--batch-size', '4', '--out', out, '--no-progress');
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stderr).not.toMatch(/labels:/);
    // A run's files never land in the training data.
    const intoData = runCli('train', '--dataset', 'folder', '--train-dir', trainDir, '--config', config, '--steps', '1', '--out', path.join(trainDir, 'a'));
    expect([intoData.status, intoData.stderr]).toEqual([1, expect.stringMatching(/checkpoint\.safetensors would be written into the input folder/)]);
    const model = GatedPixelCNN.load(path.join(out, 'model.safetensors'), { backend: cpu });
    expect([model.config.classes, model.classNames]).toEqual([0, null]);
    model.dispose();
    // Evaluated on class folders, its table names each image's folder but gives it no label (the model takes none).
    const table = path.join(dir, 'nll.csv');
    const evaluated = runCli('eval', '--checkpoint', path.join(out, 'model.safetensors'), '--dataset', 'folder', '--test-dir', trainDir, '--nll-out', table, '--no-progress');
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(readFileSync(table, 'utf8').split('\n')[5].split(',').slice(1, 4)).toEqual(['b/img0.png', '', 'b']);
  });

  it('holds out --test-fraction of the images as the test set where there is no test folder', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-folder-holdout-'));
    const trainDir = writePngFolder(path.join(dir, 'train'), tinyDataset(16, 6, 2, 1), ['a', 'b']);
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ levels: 4, hidden: 4, layers: 1, firstKernel: 3, kernel: 3, headHidden: 4 }));
    const out = path.join(dir, 'run');
    const args = ['train', '--dataset', 'folder', '--train-dir', trainDir, '--config', config, '--steps', '2', '--batch-size', '4',
      '--eval-every', '2', '--no-samples', '--out', out, '--no-progress', '--test-fraction', '0.25'];
    const trained = runCli(...args);
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/on folder: 12 images \(4 held out for testing\)/);
    const evals = () => readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n').filter((line) => line.includes('"eval"'))
      .map((line) => JSON.parse(line) as { step: number; images: number; nll: number });
    expect(evals().map((e) => [e.step, e.images])).toEqual([[2, 4]]);
    // eval finds the same held-out images, before and after a resumed run (which holds out the same ones).
    const heldOut = () => JSON.parse(runCli('eval', '--checkpoint', path.join(out, 'model.safetensors'), '--dataset', 'folder',
      '--train-dir', trainDir, '--test-fraction', '0.25', '--json', '--no-progress').stdout) as { images: number; nll: number };
    expect(heldOut().nll).toBeCloseTo(evals()[0].nll, 6);
    expect(runCli(...args, '--steps', '4', '--resume').status).toBe(0);
    expect(evals().map((e) => e.step)).toEqual([2, 4]);
    expect(heldOut()).toMatchObject({ images: 4, nll: expect.closeTo(evals()[1].nll, 6) });
    expect(runCli(...args, '--steps', '4', '--resume', '--test-fraction', '0.5').stderr).toMatch(/trained on 12 images .* this training set holds 8 images/);
    expect(runCli(...args, '--overwrite', '--test-dir', trainDir).stderr).toMatch(/--test-fraction holds out test images where the data has no test split/);
    expect(runCli(...args, '--overwrite', '--test-fraction', '0.01').stderr).toMatch(/--test-fraction 0.01: holding out 0.01 of 16 images must leave at least one test and one training image/);
  });

  it('trains a preset on folders of its image shape, with the data\'s classes (or none)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-folder-preset-'));
    const digits = tinyDataset(8, 28, 3, 1);
    for (const [name, names] of [['labeled', ['circle', 'square', 'star']], ['unlabeled', undefined]] as const) {
      const trainDir = writePngFolder(path.join(dir, name), digits, names && [...names]);
      const out = path.join(dir, `run-${name}`);
      const trained = runCli('train', '--dataset', 'folder', '--train-dir', trainDir, '--steps', '1', '--batch-size', '4', '--out', out, '--no-progress');
      expect(trained.status, trained.stderr).toBe(0);
      const model = GatedPixelCNN.load(path.join(out, 'model.safetensors'), { backend: cpu });
      expect([model.config.hidden, model.config.classes, model.classNames]).toEqual([32, names ? 3 : 0, names ?? null]);
      model.dispose();
    }
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ levels: 4, hidden: 4, layers: 1, firstKernel: 3, kernel: 3, headHidden: 4, classes: 10 }));
    expect(runCli('train', '--dataset', 'folder', '--train-dir', path.join(dir, 'labeled'), '--config', config, '--steps', '1').stderr)
      .toMatch(/the configuration says 10 classes, the training folder holds 3: give "classes": 3, or 0 for a model without classes/);
  });

  it('evaluates a model whose classes have no names on a test folder of class folders named by label', () => {
    const { dir, trained, checkpoint } = trainTiny('gpcnn-cli-folder-unnamed-'); // 6×6 IDX images, 3 classes
    expect(trained.status, trained.stderr).toBe(0);
    const testSet = only(tinyDataset(12, 6, 3, 2), [0, 2]);
    const testDir = writePngFolder(path.join(dir, 'test'), testSet, ['0', 'one', '2']);
    const table = path.join(dir, 'nll.csv');
    const evaluated = runCli('eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', testDir, '--json', '--no-progress', '--nll-out', table);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(readFileSync(table, 'utf8').split('\n').slice(4, 6).map((line) => line.split(',').slice(1, 4))).toEqual(
      [['0/img3.png', '0', '0'], ['2/img0.png', '2', '2']]);
    const model = GatedPixelCNN.load(checkpoint, { backend: cpu });
    // Folder "2" is label 2, not 1 (its place among the folders).
    expect((JSON.parse(evaluated.stdout) as { nll: number }).nll).toBeCloseTo(evaluate(model, testSet).nll, 4);
    model.dispose();
    const named = writePngFolder(path.join(dir, 'named'), testSet, ['zero', 'one', 'two']);
    expect(runCli('eval', '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', named).stderr)
      .toMatch(/the class folder "two" is none of the classes "0", "1", "2"/);
    // The same folder as a training set, with images held out of it: labeled as a test folder is, by name.
    // (A copy saved by hand, which says nothing of its training set: the run trained on others.)
    const heldOut = runCli('eval', '--checkpoint', savedByHand(checkpoint), '--dataset', 'folder', '--train-dir', testDir, '--test-fraction', '0.5',
      '--no-progress', '--nll-out', table);
    expect(heldOut.status, heldOut.stderr).toBe(0);
    const rows = readFileSync(table, 'utf8').trim().split('\n').slice(1).map((line) => line.split(',').slice(1, 4));
    expect(rows.length).toBeGreaterThan(1);
    for (const [image, label, name] of rows) expect([label, name], image).toEqual([image.split('/')[0], image.split('/')[0]]);
    expect(rows.some(([image]) => image.startsWith('2/'))).toBe(true); // a folder whose place (1) is not its label
  });

  it.each([
    [['--steps', '1'], /the preset mnist-tiny is for 1×28×28 images, the training images are 1×6×6: give --config/],
    [['--config', 'config.json', '--test-dir', '/nonexistent'], /cannot read the image folder \/nonexistent/],
  ])('train %j on a folder of 6×6 images fails with one line', (flags, message) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-folder-bad-'));
    const trainDir = writePngFolder(path.join(dir, 'train'), tinyDataset(4, 6, 2, 1));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ levels: 4, hidden: 4, layers: 1 }));
    const named = flags.map((flag) => (flag === 'config.json' ? path.join(dir, flag) : flag));
    const result = runCli('train', '--dataset', 'folder', '--train-dir', trainDir, '--out', path.join(dir, 'run'), ...named);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it.each([
    [['--dataset', 'mnist'], /--dataset mnist has a test split; --test-fraction is for data without one/],
    [['--dataset', 'folder', '--train-dir', 'a', '--test-dir', 'b'], /--test-fraction holds test images out of the training set, and replaces --test-dir/],
    [['--dataset', 'folder'], /--test-fraction needs the training set that train held the images out of: give --train-dir/],
    [['--dataset', 'idx', '--train-dir', 'a'], /--dataset idx does not read --train-dir/],
  ])('eval --test-fraction %j is refused before the model is read', (flags, message) => {
    const result = runCli('eval', '--checkpoint', 'x', '--test-fraction', '0.1', ...flags);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it('reports data of another shape as such before its class folders, and names the data flags where they read MNIST', () => {
    const { dir, trained, checkpoint, data } = trainTiny('gpcnn-cli-folder-shape-'); // 1×6×6 images, classes "0" to "2"
    expect(trained.status, trained.stderr).toBe(0);
    const other = writePngFolder(path.join(dir, 'other'), rgb(tinyDataset(4, 5, 2, 3)), ['circle', 'square']);
    for (const command of ['eval', 'complete']) {
      const refused = runCli(command, '--checkpoint', checkpoint, '--dataset', 'folder', '--test-dir', other, '--no-progress');
      expect([refused.status, refused.stderr]).toEqual([1, expect.stringMatching(/circle.*is 5×5 pixels, and the images must be 6×6 \(ERR_DATA\)/)]);
    }
    const mnist = runCli('eval', '--checkpoint', checkpoint, '--no-progress');
    expect([mnist.status, mnist.stderr]).toEqual([1, expect.stringMatching(
      /--dataset mnist gave test images of 1×28×28, and this model's are 1×6×6: give the data flags it was trained with \(--dataset is mnist unless given\) \(ERR_ARG\)/)]);
    const run = path.dirname(checkpoint);
    const resumed = runCli('train', '--out', run, '--resume', '--steps', '8', '--no-progress');
    expect([resumed.status, resumed.stderr]).toEqual([1, expect.stringMatching(/--dataset mnist gave training images of 1×28×28, and this model's are 1×6×6/)]);
    expect(runCli('eval', '--checkpoint', checkpoint, ...data, '--no-progress').status).toBe(0);
  });

  it('refuses folder flags with another dataset, and a folder dataset without its folder', () => {
    expect(runCli('train', '--train-dir', 'x', '--steps', '1').stderr).toMatch(/--dataset mnist does not read --train-dir \(give --dataset folder to use it\)/);
    // eval reads a training folder only to find a run's held-out images again.
    expect(runCli('eval', '--checkpoint', 'x', '--dataset', 'folder', '--train-dir', 'x').stderr).toMatch(/--train-dir is read only with --test-fraction/);
    expect(runCli('train', '--dataset', 'folder', '--steps', '1').stderr).toMatch(/--dataset folder needs --train-dir/);
  });
});
