/** `gated-pixelcnn eval`: test NLL and bits per dimension of a checkpoint. */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';

import type { BackendName } from '../backend/load';
import { batchesInOrder, gatherBatch } from '../data/batches';
import type { ImageDataset } from '../data/dataset';
import { PixelCNNError } from '../errors';
import { writeFileAtomicSync } from '../io/atomic-write';
import { encodeCsv } from '../io/csv';
import { checkOutputsSpareInputs, checkWritableFile, ensureFolderOf } from '../io/directories';
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { checkSampleGrid, writeDisplayGrid } from '../sample/grid';
import { bitsPerDim, conditioningFor, evaluate } from '../train/evaluate';
import { nllHeatmapGrid } from '../train/nll-heatmap';
import { averagedNote, loadCommandModel } from './command-model';
import { addTestSetOptions, checkTestSetFlags, datasetInputs, loadTestSet, testSetFit, type DatasetOptions } from './datasets';
import { labelList, singleLabel, type LabelArgument } from './labels';
import { backendName, CliError, integer, fileName, requireExtension } from './parse';
import { terminalSafe, terminalSafeJson } from './terminal-text';
import { counted } from './wording';
import { writeInTurn } from './written-outputs';

interface EvalFlags extends DatasetOptions {
  checkpoint: string;
  json?: boolean;
  nllOut?: string;
  heatmap?: string;
  heatmapImages?: number;
  label?: LabelArgument[];
  limit?: number;
  batchSize: number;
  backend: BackendName;
  progress: boolean;
}

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description('evaluate a checkpoint on the test set: NLL in nats per image and bits per dimension')
    .requiredOption('--checkpoint <file>', 'a checkpoint (.safetensors); required', fileName('--checkpoint'));
  addTestSetOptions(command)
    .option('--limit <n>', 'evaluate the first N test images only', integer('--limit', 1))
    .option('--batch-size <n>', 'images per forward pass', integer('--batch-size', 1), 100)
    .option('--json', 'print the result as JSON')
    .option('--nll-out <file>', "also write each image's NLL to a CSV file (index, image, label, class, nats, bits_per_dim)", fileName('--nll-out'))
    .option('--heatmap <file>', 'also write a PNG grid of the first test images, each beside a map of its per-pixel NLL (black: expected, white: surprising)', fileName('--heatmap'))
    .option('--heatmap-images <n>', `images in the --heatmap grid (default: ${HEATMAP_IMAGES})`, integer('--heatmap-images', 1))
    .option('--label <class>', 'score every image as this class (a label or a class name) instead of its own (class-conditional models)', labelList)
    .option('--backend <name>', 'auto, cpu or cuda', backendName, 'auto')
    .option('--no-progress', 'no progress bar')
    .action((flags: EvalFlags) => {
      checkTestSetFlags(flags);
      checkOutputFlags(flags);
      const { model, averaged, trainedOn } = loadCommandModel(flags.checkpoint, flags.backend);
      if (averaged) process.stderr.write(averagedNote(flags.checkpoint));
      const heatmapImages = flags.heatmapImages ?? HEATMAP_IMAGES;
      // Redrawn from within the loop (synchronousUpdate), which keeps the event loop's timers waiting.
      const bar = flags.progress && process.stderr.isTTY
        ? new SingleBar({ format: 'evaluating {bar} {value}/{total} images | ETA {eta_formatted}', stream: process.stderr, synchronousUpdate: true })
        : null;
      let result: ReturnType<typeof evaluate>;
      let label: number | null = null;
      let started = false;
      try {
        if (flags.heatmap !== undefined) checkHeatmapGrid(model, heatmapImages);
        label = singleLabel(flags.label, model.config.classes, model.classNames);
        const loaded = loadTestSet(flags, testSetFit(model), trainedOn());
        const testSet = label === null ? loaded : labeledAs(loaded, label, model);
        if (flags.heatmap !== undefined && model.config.classes > 0 && testSet.classes === 0) {
          throw new CliError('--heatmap draws the per-pixel NLL under each image\'s class, and these test images have no labels (give --label, class folders, or IDX labels with --test-labels)');
        }
        result = evaluate(model, testSet, {
          limit: flags.limit,
          batchSize: flags.batchSize,
          perImage: flags.nllOut !== undefined,
          onProgress: (done, total) => {
            if (!started) bar?.start(total, 0);
            started = true;
            bar?.update(done);
          },
        });
        if (!Number.isFinite(result.nll)) {
          throw new PixelCNNError(
            'ERR_DIVERGED',
            `${flags.checkpoint} gives a test NLL of ${result.nll}: its logits overflow, as the weights of a run that diverged do`,
          );
        }
        // Everything is computed before the first file is written.
        const heatmap = flags.heatmap === undefined ? null : heatmapGrid(model, testSet, Math.min(heatmapImages, result.images), flags.batchSize);
        const table = flags.nllOut === undefined ? null : perImageCsv(model, testSet, result.imageNlls!);
        writeInTurn((written) => {
          if (flags.nllOut !== undefined) {
            ensureFolderOf(flags.nllOut);
            writeFileAtomicSync(flags.nllOut, table!);
            written.push(flags.nllOut);
          }
          if (flags.heatmap !== undefined) {
            ensureFolderOf(flags.heatmap);
            writeDisplayGrid(flags.heatmap, heatmap!, model.config, { columns: 2 });
            written.push(flags.heatmap);
          }
        });
      } finally {
        bar?.stop();
        model.dispose();
      }
      if (flags.nllOut !== undefined) process.stderr.write(terminalSafe(`wrote each image's NLL to ${flags.nllOut}\n`));
      if (flags.heatmap !== undefined) process.stderr.write(terminalSafe(`wrote the per-pixel NLL of ${counted(Math.min(heatmapImages, result.images), 'image')} to ${flags.heatmap}\n`));
      const { imageNlls: _, ...summary } = result;
      if (flags.json) {
        process.stdout.write(terminalSafeJson({
          checkpoint: flags.checkpoint, dataset: flags.dataset, ...(label === null ? {} : { label }), ...(averaged ? { averaged } : {}), ...summary,
        }) + '\n');
      } else {
        process.stdout.write(terminalSafe(
          `${flags.checkpoint} on ${flags.dataset} (${counted(result.images, 'test image')}` +
            `${result.marginal ? `, without labels: the NLL marginal over the model's ${model.config.classes} classes` : ''}` +
            `${label === null ? '' : `, each as class ${model.classNames?.[label] ?? label}`}): ` +
            `${result.nll.toFixed(3)} nats/image, ${result.bitsPerDim.toFixed(4)} bits/dim\n`,
        ));
      }
    });
}

/** Images in the --heatmap grid when --heatmap-images is not given. */
const HEATMAP_IMAGES = 8;

/** Checks, before anything loads, the files --nll-out and --heatmap will write. */
function checkOutputFlags(flags: EvalFlags): void {
  if (flags.heatmapImages !== undefined && flags.heatmap === undefined) throw new CliError('--heatmap-images sets the images of --heatmap: give --heatmap too');
  // An extension keeps each output off any input a flag does not name: a run's other checkpoint, say.
  if (flags.nllOut !== undefined) requireExtension('--nll-out', flags.nllOut, '.csv', 'CSV');
  if (flags.heatmap !== undefined) requireExtension('--heatmap', flags.heatmap, '.png', 'a PNG');
  const outputs = [flags.nllOut, flags.heatmap].filter((file): file is string => file !== undefined);
  checkOutputsSpareInputs(outputs, [flags.checkpoint, ...datasetInputs(flags)]);
  outputs.forEach((file) => checkWritableFile(file));
}

/** The test set with every image labeled `label` (--label), under the model's classes. */
function labeledAs(data: ImageDataset, label: number, model: GatedPixelCNN): ImageDataset {
  const { classes } = model.config;
  return { ...data, labels: new Int32Array(data.count).fill(label), classes, classNames: model.classNames };
}

/** Refuses, before anything loads, a --heatmap grid of `images` rows too large for a PNG. */
function checkHeatmapGrid(model: GatedPixelCNN, images: number): void {
  try {
    checkSampleGrid(2 * images, model.config, { columns: 2 });
  } catch (error) {
    if (!(error instanceof PixelCNNError)) throw error;
    throw new CliError(`--heatmap-images ${images}: ${error.message}`, error.code);
  }
}

/** --heatmap's grid: the first `images` test images, each beside its per-pixel NLL, computed `batchSize` images at a time. */
function heatmapGrid(model: GatedPixelCNN, data: ImageDataset, images: number, batchSize: number): Uint8Array {
  const { channels, height, width, levels } = model.config;
  const size = channels * height * width;
  const shown = new Uint8Array(images * size);
  const pixelNll = new Float32Array(images * size);
  for (const { start, indices } of batchesInOrder(images, batchSize)) {
    const batch = gatherBatch(data, indices, levels);
    shown.set(batch.images, start * size);
    pixelNll.set(model.pixelNll(batch.images, conditioningFor(model, batch)), start * size);
  }
  return nllHeatmapGrid(model.config, shown, pixelNll);
}

/**
 * --nll-out's table: a record per evaluated image, in the test set's order. The label is
 * the one the model was given (none for a model without classes), the class its name,
 * the model's or else the data's (a model without classes evaluated on class folders).
 */
function perImageCsv(model: GatedPixelCNN, data: ImageDataset, nlls: Float64Array): string {
  const names = model.classNames ?? data.classNames;
  // Nine significant digits hold a float32 NLL exactly.
  const digits = (x: number) => Number(x.toPrecision(9));
  const records = Array.from(nlls, (nats, n) => {
    const label = data.labels[n];
    return [
      n, data.imageNames?.[n] ?? '', model.config.classes > 0 && label >= 0 ? label : '', (label >= 0 && names?.[label]) || '',
      digits(nats), digits(bitsPerDim(model, nats)),
    ];
  });
  return encodeCsv([['index', 'image', 'label', 'class', 'nats', 'bits_per_dim'], ...records]);
}
