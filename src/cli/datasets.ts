/** The datasets the CLI can train and evaluate on: MNIST (built in), IDX files, CIFAR-10 batches, folders of PNG images. */
import type { Command } from 'commander';

import type { ImageDataset } from '../data/dataset';
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
import type { DataSummary } from '../train/training-state';
import { loadCifar10 } from '../data/cifar10';
import { holdOut } from '../data/hold-out';
import { loadImageFolder, type ImageFolderOptions } from '../data/image-folder';
import { loadIdxImages, loadMnist } from '../data/mnist';
import { CliError, pathList, fileName, folderName, unitInterval } from './parse';

export interface DatasetOptions {
  dataset: string;
  trainImages?: string;
  trainLabels?: string;
  testImages?: string;
  testLabels?: string;
  trainFiles?: string[];
  testFiles?: string[];
  trainDir?: string;
  testDir?: string;
  /** Hold out this fraction of the training images as the test set (train, where the data has no test split). */
  testFraction?: number;
}

export const DATASET_HELP =
  'mnist (built in), idx (--train-images/--train-labels/--test-images/--test-labels), ' +
  'cifar10 (--train-files/--test-files: binary batches you supply), ' +
  'folder (--train-dir/--test-dir: PNG images, in class folders for labels)';

/** The file flags each dataset reads: any other one given would be silently ignored. */
const FILE_FLAGS: Record<string, [keyof DatasetOptions, string][]> = {
  mnist: [],
  idx: [['trainImages', '--train-images'], ['trainLabels', '--train-labels'], ['testImages', '--test-images'], ['testLabels', '--test-labels']],
  cifar10: [['trainFiles', '--train-files'], ['testFiles', '--test-files']],
  folder: [['trainDir', '--train-dir'], ['testDir', '--test-dir']],
};
const ALL_FILE_FLAGS = Object.values(FILE_FLAGS).flat();

/** `splits`: whether the command reads the training split too, or the test split alone. */
function refuseUnusedFlags(o: DatasetOptions, splits: 'both' | 'test'): void {
  const known = Object.hasOwn(FILE_FLAGS, o.dataset) ? FILE_FLAGS[o.dataset] : undefined;
  if (!known) throw new CliError(`unknown dataset "${o.dataset}" (choose ${DATASET_HELP})`);
  const used = known.filter(([key]) => splits === 'both' || key.startsWith('test')).map(([key]) => key);
  const given = ALL_FILE_FLAGS.filter(([key]) => o[key] !== undefined && !used.includes(key));
  const trainingFlags = given.filter(([key]) => known.some(([own]) => own === key)).map(([, flag]) => flag);
  if (trainingFlags.length > 0) {
    throw new CliError(`${trainingFlags.join(', ')} ${trainingFlags.length === 1 ? 'is' : 'are'} read only with --test-fraction, to find a run's held-out images again`);
  }
  const unused = given.map(([, flag]) => flag);
  if (unused.length > 0) {
    const readers = Object.keys(FILE_FLAGS).filter((name) => FILE_FLAGS[name].some(([, flag]) => unused.includes(flag)));
    const hint = `give --dataset ${readers.join(' or --dataset ')} to use ${unused.length === 1 ? 'it' : 'them'}`;
    throw new CliError(`--dataset ${o.dataset} does not read ${unused.join(', ')} (${hint})`);
  }
  if (o.testLabels !== undefined && o.testImages === undefined) throw new CliError('--test-labels needs --test-images');
}

/** The files and folders the dataset flags name, which no output may overwrite. */
export function datasetInputs(o: DatasetOptions): string[] {
  return ALL_FILE_FLAGS.flatMap(([key]) => o[key] ?? []).filter((input): input is string => typeof input === 'string');
}

/** The training split and the test split (held out with --test-fraction); a training folder is read as `fit` says. */
export function loadDatasets(o: DatasetOptions, fit: ImageFolderOptions = {}): { train: ImageDataset; test?: ImageDataset } {
  refuseUnusedFlags(o, 'both');
  const { train, test } = loadSplits(o, fit);
  if (o.testFraction === undefined) return { train, test };
  if (test) {
    throw new CliError(`--test-fraction holds out test images where the data has no test split, and --dataset ${o.dataset} has one here: give --test-fraction or the test split's flags, not both`);
  }
  try {
    return holdOut(train, o.testFraction);
  } catch (error) {
    throw new CliError(`--test-fraction ${o.testFraction}: ${(error as Error).message}`);
  }
}

function loadSplits(o: DatasetOptions, fit: ImageFolderOptions): { train: ImageDataset; test?: ImageDataset } {
  switch (o.dataset) {
    case 'mnist':
      return { train: loadMnist('train'), test: loadMnist('test') };
    case 'idx': {
      if (!o.trainImages) throw new CliError('--dataset idx needs --train-images (and usually --train-labels)');
      return {
        train: loadIdxImages(o.trainImages, o.trainLabels),
        test: o.testImages ? loadIdxImages(o.testImages, o.testLabels) : undefined,
      };
    }
    case 'cifar10': {
      if (!o.trainFiles?.length) throw new CliError('--dataset cifar10 needs --train-files data_batch_1.bin,...');
      return { train: loadCifar10(o.trainFiles), test: o.testFiles?.length ? loadCifar10(o.testFiles) : undefined };
    }
    case 'folder': {
      if (!o.trainDir) throw new CliError('--dataset folder needs --train-dir (a folder of PNG images, or of class folders of them)');
      const train = loadImageFolder(o.trainDir, fit);
      // The test images in the training set's channels, and its class folders under the training set's labels.
      const test = o.testDir ? loadImageFolder(o.testDir, { channels: train.channels, classNames: train.classNames }) : undefined;
      return { train, test };
    }
    default:
      throw new CliError(`unknown dataset "${o.dataset}" (choose ${DATASET_HELP})`);
  }
}

/** Checks the flags that choose a test split (eval, complete) before anything is loaded. */
export function checkTestSetFlags(o: DatasetOptions): void {
  if (o.testFraction !== undefined) return checkHeldOutFlags(o);
  refuseUnusedFlags(o, 'test');
  const needs: Record<string, [boolean, string]> = {
    idx: [!o.testImages, '--test-images (and usually --test-labels)'],
    cifar10: [!o.testFiles?.length, '--test-files test_batch.bin'],
    folder: [!o.testDir, '--test-dir (a folder of PNG images, or of class folders of them)'],
  };
  const [missing, what] = needs[o.dataset] ?? [false, ''];
  if (missing) throw new CliError(`--dataset ${o.dataset} needs ${what}`);
}

/** --test-fraction for eval and complete: the training set's flags, as train was given them, and no test split. */
function checkHeldOutFlags(o: DatasetOptions): void {
  refuseUnusedFlags(o, 'both');
  const flags = FILE_FLAGS[o.dataset];
  const [images, flag] = flags.find(([key]) => key.startsWith('train') && key !== 'trainLabels') ?? [];
  if (!images) throw new CliError(`--dataset ${o.dataset} has a test split; --test-fraction is for data without one`);
  const test = flags.filter(([key]) => key.startsWith('test') && o[key] !== undefined).map(([, f]) => f);
  if (test.length > 0) throw new CliError(`--test-fraction holds test images out of the training set, and replaces ${test.join(', ')}`);
  if (o[images] === undefined) throw new CliError(`--test-fraction needs the training set that train held the images out of: give ${flag}`);
}

/**
 * How a test folder is read for `model`: in its channels, and labeled by its class names;
 * for a model whose classes have no names (one trained on MNIST), by folders named by
 * label ("0" … "9"), so that no folder is labeled by its place among the others.
 */
export function testSetFit(model: GatedPixelCNN): ImageFolderOptions {
  const { channels, classes, height, width } = model.config;
  const classNames = model.classNames ?? (classes > 0 ? Array.from({ length: classes }, (_, y) => String(y)) : null);
  return { channels, classNames, height, width };
}

/**
 * The test split alone (eval, complete); an image folder is read as `fit` says
 * (testSetFit). With --test-fraction, `trainedOn` (the run's training set, where its
 * file says) must be the training split left: another fraction would score training
 * images as test images.
 */
export function loadTestSet(o: DatasetOptions, fit: ImageFolderOptions = {}, trainedOn: DataSummary | null = null): ImageDataset {
  checkTestSetFlags(o);
  if (o.testFraction !== undefined) {
    // The held-out images labeled as a test folder would be: by the model's class names.
    const { train, test } = loadDatasets(o, fit);
    refuseOtherShape(fit, train, 'test', o);
    if (trainedOn && trainedOn.count !== train.count) {
      const why = trainedOn.count === train.count + test!.count
        ? `the run trained on all ${trainedOn.count} of these images, holding none out: score it on others (--test-dir, --test-images)`
        : `the run trained on ${trainedOn.count}${heldOut(trainedOn.count, train.count + test!.count)}: give the --test-fraction and data flags the run was trained with, so that its test images are held out as they were`;
      throw new CliError(`--test-fraction ${o.testFraction} leaves ${train.count} of these images for training, and ${why}`);
    }
    return test!;
  }
  switch (o.dataset) {
    case 'mnist':
      return refuseOtherShape(fit, loadMnist('test'), 'test', o);
    case 'idx':
      return refuseOtherShape(fit, loadIdxImages(o.testImages!, o.testLabels), 'test', o);
    case 'cifar10':
      return refuseOtherShape(fit, loadCifar10(o.testFiles!), 'test', o);
    case 'folder':
      if (fit.channels !== undefined && fit.channels > 4) {
        throw new CliError(`PNG images hold 1 to 4 channels, and this model takes ${fit.channels}`);
      }
      return loadImageFolder(o.testDir!, fit);
    default:
      throw new CliError(`unknown dataset "${o.dataset}" (choose ${DATASET_HELP})`);
  }
}

/** ", holding out 16 of these 64 images", where the run's training set came out of these. */
const heldOut = (trained: number, total: number): string => (trained < total ? `, holding out ${total - trained} of these ${total} images` : '');

/**
 * `data`, unless the model (`fit`: its shape, or its configuration) takes images of another shape: then the
 * data flags are likely not the ones it was trained with (a forgotten --dataset reads MNIST).
 */
export function refuseOtherShape(fit: { channels?: number; height?: number; width?: number }, data: ImageDataset, what: string, o: DatasetOptions): ImageDataset {
  const { channels, height, width } = fit;
  if (channels === undefined || (data.channels === channels && data.height === height && data.width === width)) return data;
  throw new CliError(
    `--dataset ${o.dataset} gave ${what} images of ${data.channels}×${data.height}×${data.width}, and this model's are ` +
      `${channels}×${height}×${width}: give the data flags it was trained with${o.dataset === 'mnist' ? ' (--dataset is mnist unless given)' : ''}`,
  );
}

/**
 * The flags that choose a test split (eval, complete): --dataset and its test files, or
 * the images a training run held out (--test-fraction with the training files).
 */
export function addTestSetOptions(command: Command): Command {
  return command
    .option('--dataset <name>', DATASET_HELP, 'mnist')
    .option('--test-images <file>', 'IDX test images for --dataset idx', fileName('--test-images'))
    .option('--test-labels <file>', 'IDX test labels for --dataset idx', fileName('--test-labels'))
    .option('--test-files <files>', 'comma-separated CIFAR-10 test batches', pathList('--test-files'))
    .option('--test-dir <dir>', 'PNG test images for --dataset folder', folderName('--test-dir'))
    .option('--test-fraction <f>', 'the test images that train --test-fraction F held out of the training set given by --train-*', unitInterval('--test-fraction'))
    .option('--train-images <file>', 'IDX training images (with --test-fraction)', fileName('--train-images'))
    .option('--train-labels <file>', 'IDX training labels (with --test-fraction)', fileName('--train-labels'))
    .option('--train-files <files>', 'comma-separated CIFAR-10 batches (with --test-fraction)', pathList('--train-files'))
    .option('--train-dir <dir>', 'PNG training images (with --test-fraction)', folderName('--train-dir'));
}
