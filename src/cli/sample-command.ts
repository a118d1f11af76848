/**
 * `gated-pixelcnn sample` (also scripts/sample.mjs): draw many images from a checkpoint
 * in batches, with the cached (default) or naive sampler, into a PNG grid with one row
 * per label, optionally one PNG per label, the raw levels with a JSON sidecar, and a
 * folder of one PNG per image (the layout --dataset folder reads).
 */
import type { Command } from 'commander';

import type { BackendName } from '../backend/load';
import { createDataset } from '../data/dataset';
import { toExactPixels } from '../data/quantize';
import { checkImageFolderTarget, writeImageFolder } from '../data/write-image-folder';
import { classFileNames } from '../io/class-file-names';
import { checkOutputsSpareInputs, checkWritableFile, ensureFolderOf, liesInside, samePath } from '../io/directories';
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { checkSampleGrid, writeSampleGrid } from '../sample/grid';
import { checkSampleCount } from '../sample/options';
import { checkLevelsTarget, writeLevelsFile } from '../sample/levels-file';
import { averagedNote, loadCommandModel } from './command-model';
import { sampleInterruptibly } from './interruptible-sample';
import { labelList, resolveLabels, type LabelArgument } from './labels';
import { backendName, CliError, integer, fileName, folderName, positiveNumber, requireExtension, samplerKind } from './parse';
import { terminalSafe } from './terminal-text';
import { counted, SAMPLE_BATCH_HELP } from './wording';
import { writeInTurn } from './written-outputs';

interface SampleFlags {
  checkpoint: string;
  sampler: 'cached' | 'naive';
  levelsOut?: string;
  imagesDir?: string;
  perClass?: boolean;
  labels?: LabelArgument[];
  perLabel: number;
  count?: number;
  temperature: number;
  seed: number;
  out: string;
  batchSize?: number;
  backend: BackendName;
  progress: boolean;
}

export function registerSample(program: Command): void {
  program
    .command('sample')
    .description('draw images from a checkpoint and write them as a PNG grid (one row per label)')
    .requiredOption('--checkpoint <file>', 'a checkpoint (.safetensors); required', fileName('--checkpoint'))
    .option('--labels <list>', 'class labels, e.g. 0-9 or 1,3,5, or class names, e.g. cat,dog; may be repeated (class-conditional models; default: all)', labelList)
    .option('--per-label <n>', 'images per label (one grid row each)', integer('--per-label', 1), 8)
    .option('--count <n>', 'images, for a model without classes (default: --per-label, 8)', integer('--count', 1))
    .option('--temperature <t>', 'softmax temperature', positiveNumber('--temperature'), 1)
    .option('--seed <n>', 'seed of the draws', integer('--seed', 0), 0)
    .option('--batch-size <n>', SAMPLE_BATCH_HELP, integer('--batch-size', 1))
    .option('--out <file>', 'the PNG to write', fileName('--out'), 'samples.png')
    .option('--per-class', 'also write one PNG per label: samples-3.png for --out samples.png and label 3 (samples-<class name>.png where classes have names)')
    .option('--levels-out <file>', 'also write the raw levels (uint8 [N, C, H, W]) and <file>.json describing them', fileName('--levels-out'))
    .option('--images-dir <dir>', 'also write each image as a PNG file into this new (or empty) folder, in a folder per class', folderName('--images-dir'))
    .option('--sampler <kind>', 'cached (fast) or naive (one forward pass per position)', samplerKind, 'cached')
    .option('--backend <name>', 'auto, cpu or cuda', backendName, 'auto')
    .option('--no-progress', 'no progress bar')
    .action(async (flags: SampleFlags) => {
      const { model, averaged } = loadCommandModel(flags.checkpoint, flags.backend);
      if (averaged) process.stderr.write(averagedNote(flags.checkpoint));
      try {
        await sample(model, flags);
      } finally {
        model.dispose();
      }
    });
}

/** --per-class's file for each label: `<out without .png>-<class's file name>.png`. */
export function perClassFiles(out: string, chosen: number[], classNames: readonly string[] | null): Map<number, string> {
  const base = out.replace(/\.png$/i, '');
  const names = classFileNames([...new Set(chosen)], classNames);
  return new Map([...names].map(([y, name]) => [y, `${base}-${name}.png`]));
}

/** Draws the images and writes every output asked for; the caller disposes the model. */
async function sample(model: GatedPixelCNN, flags: SampleFlags): Promise<void> {
  const { classes } = model.config;
  let chosen: number[] | undefined;
  if (classes > 0) {
    if (flags.count !== undefined) throw new CliError('this model has classes: give --labels and --per-label instead of --count');
    chosen = flags.labels ? resolveLabels(flags.labels, model.classNames) : Array.from({ length: classes }, (_, y) => y);
    const bad = chosen.find((y) => y >= classes);
    if (bad !== undefined) throw new CliError(`label ${bad} is outside this model's 0-${classes - 1}`);
  } else if (flags.labels) {
    throw new CliError('this model has no classes: use --count instead of --labels');
  } else if (flags.perClass) {
    throw new CliError('this model has no classes: --per-class has no classes to write grids of');
  }
  const count = chosen ? chosen.length * flags.perLabel : flags.count ?? flags.perLabel;
  const columns = chosen ? flags.perLabel : Math.ceil(Math.sqrt(count));
  // What could fail at the end is checked before the sampling, which may take long.
  const asked = chosen ? `--per-label ${flags.perLabel} for ${counted(chosen.length, 'label')}` : flags.count !== undefined ? `--count ${count}` : `--per-label ${count}`;
  checkSampleCount(model.config, count, asked);
  checkSampleGrid(count, model.config, { columns });
  const perClass = flags.perClass && chosen ? perClassFiles(flags.out, chosen, model.classNames) : new Map<number, string>();
  const outputs = [flags.out, ...perClass.values(), ...(flags.levelsOut ? [flags.levelsOut, `${flags.levelsOut}.json`] : [])];
  const clash = outputs.find((file, k) => outputs.findIndex((other) => samePath(other, file)) !== k);
  if (clash) throw new CliError(`${clash} is named for two outputs`);
  checkOutputsSpareInputs([...outputs, ...(flags.imagesDir !== undefined ? [flags.imagesDir] : [])], [flags.checkpoint]);
  if (flags.imagesDir !== undefined) {
    checkImageFolderTarget(flags.imagesDir, { channels: model.config.channels, labels: chosen && [...new Set(chosen)], classNames: model.classNames });
    const folder = flags.imagesDir;
    const inside = outputs.find((file) => samePath(file, folder) || liesInside(file, folder));
    if (inside) throw new CliError(`${inside} would be written into --images-dir ${flags.imagesDir}, which must hold the images alone`);
  }
  requireExtension('--out', flags.out, '.png', 'a PNG');
  for (const file of outputs) checkWritableFile(file);
  if (flags.levelsOut !== undefined) checkLevelsTarget(flags.levelsOut);
  const labels = chosen && Int32Array.from(chosen.flatMap((y) => Array<number>(flags.perLabel).fill(y)));
  const { levels, seconds } = await sampleInterruptibly(model, {
    sampler: flags.sampler, count, labels, temperature: flags.temperature, seed: flags.seed, batchSize: flags.batchSize,
  }, flags.progress);
  const written = writeInTurn(writeOutputs);
  process.stderr.write(terminalSafe(
    `sampled ${counted(count, 'image')} in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(2)} images/s, ${flags.sampler} sampler); wrote ${written.join(', ')}\n`,
  ));

  /** Writes every output asked for, in turn, adding each to `written` once it is in place. */
  function writeOutputs(written: string[]): void {
    for (const file of outputs) ensureFolderOf(file);
    writeSampleGrid(flags.out, levels, model.config, { columns });
    written.push(flags.out);
    const perImage = model.config.channels * model.config.height * model.config.width;
    for (const [y, file] of perClass) {
      const mine = Array.from(labels!).flatMap((label, n) => (label === y ? [n] : []));
      const images = new Uint8Array(mine.length * perImage);
      mine.forEach((n, k) => images.set(levels.subarray(n * perImage, (n + 1) * perImage), k * perImage));
      writeSampleGrid(file, images, model.config, { columns: Math.ceil(Math.sqrt(mine.length)) });
      written.push(file);
    }
    if (flags.levelsOut) {
      writeLevelsFile(flags.levelsOut, levels, model.config, {
        labels, ...(model.classNames ? { classNames: model.classNames } : {}), checkpoint: flags.checkpoint, sampler: flags.sampler, temperature: flags.temperature, seed: flags.seed,
      });
      written.push(flags.levelsOut, `${flags.levelsOut}.json`);
    }
    if (flags.imagesDir !== undefined) {
      const { channels, height, width } = model.config;
      const images = createDataset({
        images: toExactPixels(levels, model.config.levels), labels: labels ?? new Int32Array(count).fill(-1), count, channels, height, width,
        classes, classNames: model.classNames,
      }, 'the samples');
      writeImageFolder(flags.imagesDir, images);
      written.push(`${flags.imagesDir} (${count} PNG files)`);
    }
  }
}
