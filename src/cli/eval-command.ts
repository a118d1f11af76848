/** `gated-pixelcnn eval`: test NLL and bits per dimension of a checkpoint. */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';

import type { BackendName } from '../backend/load';
import type { ImageDataset } from '../data/dataset';
import { PixelCNNError } from '../errors';
import { writeFileAtomicSync } from '../io/atomic-write';
import { encodeCsv } from '../io/csv';
import { checkOutputsSpareInputs, checkWritableFile, ensureFolderOf } from '../io/directories';
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { bitsPerDim, evaluate } from '../train/evaluate';
import { loadCommandModel } from './command-model';
import { addTestSetOptions, checkTestSetFlags, datasetInputs, loadTestSet, testSetFit, type DatasetOptions } from './datasets';
import { backendName, integer, pathName, requireExtension } from './parse';
import { terminalSafe, terminalSafeJson } from './terminal-text';
import { counted } from './wording';

interface EvalFlags extends DatasetOptions {
  checkpoint: string;
  json?: boolean;
  nllOut?: string;
  limit?: number;
  batchSize: number;
  backend: BackendName;
  progress: boolean;
}

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description('evaluate a checkpoint on the test set: NLL in nats per image and bits per dimension')
    .requiredOption('--checkpoint <file>', 'a checkpoint (.safetensors)', pathName('--checkpoint'));
  addTestSetOptions(command)
    .option('--limit <n>', 'evaluate the first N test images only', integer('--limit', 1))
    .option('--batch-size <n>', 'images per forward pass', integer('--batch-size', 1), 100)
    .option('--json', 'print the result as JSON')
    .option('--nll-out <file>', "also write each image's NLL to a CSV file (index, image, label, class, nats, bits_per_dim)", pathName('--nll-out'))
    .option('--backend <name>', 'auto, cpu or cuda', backendName, 'auto')
    .option('--no-progress', 'no progress bar')
    .action((flags: EvalFlags) => {
      checkTestSetFlags(flags);
      if (flags.nllOut !== undefined) {
        // A .csv name keeps the table off any input a flag does not name: a run's other checkpoint, say.
        requireExtension('--nll-out', flags.nllOut, '.csv', 'CSV');
        checkOutputsSpareInputs([flags.nllOut], [flags.checkpoint, ...datasetInputs(flags)]);
        checkWritableFile(flags.nllOut);
      }
      const model = loadCommandModel(flags.checkpoint, flags.backend);
      // Redrawn from within the loop (synchronousUpdate), which keeps the event loop's timers waiting.
      const bar = flags.progress && process.stderr.isTTY
        ? new SingleBar({ format: 'evaluating {bar} {value}/{total} images | ETA {eta_formatted}', stream: process.stderr, synchronousUpdate: true })
        : null;
      let result: ReturnType<typeof evaluate>;
      let started = false;
      try {
        const testSet = loadTestSet(flags, testSetFit(model));
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
        if (flags.nllOut !== undefined) {
          ensureFolderOf(flags.nllOut);
          writeFileAtomicSync(flags.nllOut, perImageCsv(model, testSet, result.imageNlls!));
        }
      } finally {
        bar?.stop();
        model.dispose();
      }
      if (flags.nllOut !== undefined) process.stderr.write(terminalSafe(`wrote each image's NLL to ${flags.nllOut}\n`));
      const { imageNlls: _, ...summary } = result;
      if (flags.json) {
        process.stdout.write(terminalSafeJson({ checkpoint: flags.checkpoint, dataset: flags.dataset, ...summary }) + '\n');
      } else {
        process.stdout.write(terminalSafe(
          `${flags.checkpoint} on ${flags.dataset} (${counted(result.images, 'test image')}): ` +
            `${result.nll.toFixed(3)} nats/image, ${result.bitsPerDim.toFixed(4)} bits/dim\n`,
        ));
      }
    });
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
      n, data.imageNames?.[n] ?? '', model.config.classes > 0 ? label : '', (label >= 0 && names?.[label]) || '',
      digits(nats), digits(bitsPerDim(model, nats)),
    ];
  });
  return encodeCsv([['index', 'image', 'label', 'class', 'nats', 'bits_per_dim'], ...records]);
}
