/**
 * `gated-pixelcnn complete`: image completion. Takes test images, keeps their top rows
 * (or the pixels a mask image marks) and draws the rest several times, into a PNG grid
 * with one row a source: the source, what was kept (the rest gray), then its
 * completions. A class-conditional model draws each completion with its source's label.
 */
import type { Command } from 'commander';

import type { BackendName } from '../backend/load';
import type { ImageDataset } from '../data/dataset';
import { quantize } from '../data/quantize';
import { checkOutputsSpareInputs, checkWritableFile, ensureFolderOf } from '../io/directories';
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { completionGrid, completionInputs, type KeptPixels } from '../sample/completion';
import { checkSampleGrid, writeDisplayGrid } from '../sample/grid';
import { readKeepMask } from '../sample/keep-mask';
import { checkSampleCount } from '../sample/options';
import { averagedNote, loadCommandModel } from './command-model';
import { addTestSetOptions, checkTestSetFlags, datasetInputs, loadTestSet, testSetFit, type DatasetOptions } from './datasets';
import { sampleInterruptibly } from './interruptible-sample';
import { labelList, singleLabel, type LabelArgument } from './labels';
import { backendName, CliError, integer, fileName, positiveNumber, requireExtension, samplerKind } from './parse';
import { terminalSafe } from './terminal-text';
import { counted, SAMPLE_BATCH_HELP } from './wording';

/** Test images completed when --images is not given (fewer where the test set ends sooner). */
const DEFAULT_IMAGES = 8;

interface CompleteFlags extends DatasetOptions {
  checkpoint: string;
  images?: number;
  first: number;
  keepRows?: number;
  keepMask?: string;
  label?: LabelArgument[];
  perImage: number;
  temperature: number;
  seed: number;
  batchSize?: number;
  sampler: 'cached' | 'naive';
  out: string;
  backend: BackendName;
  progress: boolean;
}

export function registerComplete(program: Command): void {
  const command = program
    .command('complete')
    .description('complete test images: keep their top rows (or the light pixels of a mask), draw the rest; a PNG grid with one row per image')
    .requiredOption('--checkpoint <file>', 'a checkpoint (.safetensors); required', fileName('--checkpoint'));
  addTestSetOptions(command)
    .option('--images <n>', 'test images to complete (default: 8, or those from --first on where fewer)', integer('--images', 1))
    .option('--first <n>', 'index of the first of them in the test set', integer('--first', 0), 0)
    .option('--keep-rows <n>', 'rows kept from the top of each image (default: half its height)', integer('--keep-rows', 0))
    .option('--keep-mask <file>', 'instead of rows, a PNG mask as large as the images: its light pixels (≥ 128) are kept, its dark or transparent ones drawn', fileName('--keep-mask'))
    .option('--per-image <n>', 'completions drawn per image', integer('--per-image', 1), 4)
    .option('--label <class>', 'draw every completion as this class (a label or a class name) instead of its image\'s own (class-conditional models)', labelList)
    .option('--temperature <t>', 'softmax temperature', positiveNumber('--temperature'), 1)
    .option('--seed <n>', 'seed of the draws', integer('--seed', 0), 0)
    .option('--batch-size <n>', SAMPLE_BATCH_HELP, integer('--batch-size', 1))
    .option('--sampler <kind>', 'cached (fast) or naive (one forward pass per position)', samplerKind, 'cached')
    .option('--out <file>', 'the PNG to write', fileName('--out'), 'completions.png')
    .option('--backend <name>', 'auto, cpu or cuda', backendName, 'auto')
    .option('--no-progress', 'no progress bar')
    .action(async (flags: CompleteFlags) => {
      checkTestSetFlags(flags);
      if (flags.keepRows !== undefined && flags.keepMask !== undefined) throw new CliError('give --keep-rows or --keep-mask, not both');
      const { model, averaged, trainedOn } = loadCommandModel(flags.checkpoint, flags.backend);
      if (averaged) process.stderr.write(averagedNote(flags.checkpoint));
      try {
        const label = singleLabel(flags.label, model.config.classes, model.classNames); // checked before the data loads
        const test = loadTestSet(flags, testSetFit(model), trainedOn());
        await complete(model, test, flags, label);
      } finally {
        model.dispose();
      }
    });
}

/** How many test images to complete: --images, else 8 or as many as there are from --first on. */
function imageCount(test: ImageDataset, flags: CompleteFlags): number {
  if (flags.first >= test.count) throw new CliError(`--first ${flags.first} is past the last of the ${test.count} test images`);
  const images = flags.images ?? Math.min(DEFAULT_IMAGES, test.count - flags.first);
  if (flags.first + images > test.count) {
    throw new CliError(`--first ${flags.first} --images ${images} reaches past the ${test.count} test images`);
  }
  return images;
}

/**
 * Test images first…first + images − 1 as levels of the model, and the labels to draw
 * them with where the model takes classes: `label` for all, or else each image's own.
 */
function chooseSources(
  model: GatedPixelCNN, test: ImageDataset, first: number, images: number, label: number | null,
): { levels: Uint8Array; labels?: Int32Array } {
  const { channels, height, width, levels, classes } = model.config;
  // The test set is of the model's shape: loadTestSet checked it (testSetFit).
  const size = channels * height * width;
  const pixels = test.images.subarray(first * size, (first + images) * size);
  if (classes === 0) return { levels: quantize(pixels, levels) };
  if (label !== null) return { levels: quantize(pixels, levels), labels: new Int32Array(images).fill(label) };
  const labels = test.labels.slice(first, first + images);
  const bad = labels.find((y) => y < 0 || y >= classes);
  if (bad !== undefined) {
    throw new CliError(bad < 0
      ? 'this model has classes, and the test images have no labels: give --label to draw them as one class'
      : `label ${bad} of a test image is outside this model's 0-${classes - 1}`);
  }
  return { levels: quantize(pixels, levels), labels };
}

/** The pixels to keep, as --keep-rows or --keep-mask says, and how to say so. */
function keptPixels(model: GatedPixelCNN, flags: CompleteFlags): { kept: KeptPixels; described: string } {
  const { height, width } = model.config;
  if (flags.keepMask !== undefined) {
    const mask = readKeepMask(flags.keepMask, { height, width });
    const count = mask.reduce((sum, v) => sum + v, 0);
    if (count === mask.length) throw new CliError(`the mask ${flags.keepMask} keeps every pixel: nothing is left to draw (black marks the pixels to draw)`, 'ERR_DATA');
    return { kept: mask, described: `${count} of ${mask.length} pixels kept` };
  }
  const keepRows = flags.keepRows ?? Math.floor(height / 2);
  if (keepRows >= height) throw new CliError(`--keep-rows must be below the image's ${height} rows, got ${keepRows}`);
  return { kept: keepRows, described: `${keepRows} of ${height} rows kept` };
}

/** Draws the completions and writes the grid; the caller disposes the model. */
async function complete(model: GatedPixelCNN, test: ImageDataset, flags: CompleteFlags, label: number | null): Promise<void> {
  const { config } = model;
  const columns = flags.perImage + 2;
  const images = imageCount(test, flags);
  // What could fail later is checked before anything is built or sampled.
  checkSampleCount(config, images * flags.perImage);
  checkSampleGrid(images * columns, config, { columns });
  requireExtension('--out', flags.out, '.png', 'a PNG');
  const inputs = [flags.checkpoint, ...datasetInputs(flags), ...(flags.keepMask === undefined ? [] : [flags.keepMask])];
  checkOutputsSpareInputs([flags.out], inputs);
  checkWritableFile(flags.out);
  const { kept, described } = keptPixels(model, flags);
  const sources = chooseSources(model, test, flags.first, images, label);
  const { count, known, labels } = completionInputs(config, sources, kept, flags.perImage);
  const { levels: completions, seconds } = await sampleInterruptibly(model, {
    sampler: flags.sampler, count, labels, known, temperature: flags.temperature, seed: flags.seed,
    batchSize: flags.batchSize,
  }, flags.progress);
  ensureFolderOf(flags.out);
  writeDisplayGrid(flags.out, completionGrid(config, sources.levels, completions, kept, flags.perImage), config, { columns });
  process.stderr.write(terminalSafe(
    `completed ${counted(images, 'image')} ${flags.perImage === 1 ? 'once' : `${flags.perImage} times`} each` +
      `${label === null ? '' : ` as class ${model.classNames?.[label] ?? label}`}, ${described}, ` +
      `in ${seconds.toFixed(1)} s (${flags.sampler} sampler); wrote ${flags.out}\n`,
  ));
}
