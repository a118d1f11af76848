/** `gated-pixelcnn sample`: draw images from a checkpoint into a PNG grid, one row per label. */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';

import type { BackendName } from '../backend/load';
import { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { writeSampleGrid } from '../sample/grid';
import { sampleNaive } from '../sample/naive';
import { CliError, integer, labelList, positiveNumber } from './parse';

interface SampleFlags {
  checkpoint: string;
  labels?: number[];
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
    .requiredOption('--checkpoint <file>', 'a checkpoint (.safetensors)')
    .option('--labels <list>', 'class labels, e.g. 0-9 or 1,3,5 (class-conditional models; default: all)', labelList)
    .option('--per-label <n>', 'images per label (one grid row each)', integer('--per-label', 1), 8)
    .option('--count <n>', 'images, for a model without classes', integer('--count', 1))
    .option('--temperature <t>', 'softmax temperature', positiveNumber('--temperature'), 1)
    .option('--seed <n>', 'seed of the draws', integer('--seed', 0), 0)
    .option('--batch-size <n>', 'images computed together', integer('--batch-size', 1))
    .option('--out <file>', 'the PNG to write', 'samples.png')
    .option('--backend <name>', 'auto, cpu or cuda', 'auto')
    .option('--no-progress', 'no progress bar')
    .action((flags: SampleFlags) => {
      const model = GatedPixelCNN.load(flags.checkpoint, { backend: flags.backend });
      const { classes } = model.config;
      let labels: Int32Array | undefined;
      let columns: number;
      if (classes > 0) {
        const chosen = flags.labels ?? Array.from({ length: classes }, (_, y) => y);
        const bad = chosen.find((y) => y >= classes);
        if (bad !== undefined) throw new CliError(`label ${bad} is outside this model's 0-${classes - 1}`);
        labels = Int32Array.from(chosen.flatMap((y) => Array<number>(flags.perLabel).fill(y)));
        columns = flags.perLabel;
      } else {
        if (flags.labels) throw new CliError('this model has no classes: use --count instead of --labels');
        labels = undefined;
        columns = Math.ceil(Math.sqrt(flags.count ?? flags.perLabel));
      }
      const count = labels?.length ?? flags.count ?? flags.perLabel;
      const bar = flags.progress && process.stderr.isTTY
        ? new SingleBar({ format: 'sampling {bar} {percentage}% | {value}/{total} positions | ETA {eta_formatted}', stream: process.stderr })
        : null;
      const started = performance.now();
      const levels = sampleNaive(model, {
        count, labels, temperature: flags.temperature, seed: flags.seed, batchSize: flags.batchSize,
        onProgress: (done, total) => {
          if (done === 1) bar?.start(total, 0);
          bar?.update(done);
        },
      });
      bar?.stop();
      writeSampleGrid(flags.out, levels, model.config, { columns });
      const seconds = (performance.now() - started) / 1000;
      process.stderr.write(`wrote ${count} images to ${flags.out} in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(2)} images/s)\n`);
      model.dispose();
    });
}
