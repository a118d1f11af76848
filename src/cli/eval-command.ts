/** `gated-pixelcnn eval`: test NLL and bits per dimension of a checkpoint. */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';

import type { BackendName } from '../backend/load';
import { GatedPixelCNN } from '../nn/gated-pixelcnn';
import { evaluate } from '../train/evaluate';
import { addTestSetOptions, checkTestSetFlags, loadTestSet, testSetFit, type DatasetOptions } from './datasets';
import { integer } from './parse';

interface EvalFlags extends DatasetOptions {
  checkpoint: string;
  json?: boolean;
  limit?: number;
  batchSize: number;
  backend: BackendName;
  progress: boolean;
}

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description('evaluate a checkpoint on the test set: NLL in nats per image and bits per dimension')
    .requiredOption('--checkpoint <file>', 'a checkpoint (.safetensors)');
  addTestSetOptions(command)
    .option('--limit <n>', 'evaluate the first N test images only', integer('--limit', 1))
    .option('--batch-size <n>', 'images per forward pass', integer('--batch-size', 1), 100)
    .option('--json', 'print the result as JSON')
    .option('--backend <name>', 'auto, cpu or cuda', 'auto')
    .option('--no-progress', 'no progress bar')
    .action((flags: EvalFlags) => {
      checkTestSetFlags(flags);
      const model = GatedPixelCNN.load(flags.checkpoint, { backend: flags.backend });
      // Redrawn from within the loop (synchronousUpdate), which keeps the event loop's timers waiting.
      const bar = flags.progress && process.stderr.isTTY
        ? new SingleBar({ format: 'evaluating {bar} {value}/{total} images | ETA {eta_formatted}', stream: process.stderr, synchronousUpdate: true })
        : null;
      let result: ReturnType<typeof evaluate>;
      let started = false;
      try {
        result = evaluate(model, loadTestSet(flags, testSetFit(model)), {
          limit: flags.limit,
          batchSize: flags.batchSize,
          onProgress: (done, total) => {
            if (!started) bar?.start(total, 0);
            started = true;
            bar?.update(done);
          },
        });
      } finally {
        bar?.stop();
        model.dispose();
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify({ checkpoint: flags.checkpoint, dataset: flags.dataset, ...result }) + '\n');
      } else {
        process.stdout.write(
          `${flags.checkpoint} on ${flags.dataset} (${result.images} test images): ` +
            `${result.nll.toFixed(3)} nats/image, ${result.bitsPerDim.toFixed(4)} bits/dim\n`,
        );
      }
    });
}
