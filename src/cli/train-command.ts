/** `gated-pixelcnn train`: train a preset or a configuration file on a dataset, or resume a run. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';

import { loadBackend, type BackendName } from '../backend/load';
import { describeClassNames } from '../data/class-names';
import type { ImageDataset } from '../data/dataset';
import { PixelCNNError } from '../errors';
import { checkOutputsSpareInputs, samePath, statPath } from '../io/directories';
import { pngGridTakes } from '../io/png-grid';
import { readRegularFile } from '../io/read-regular-file';
import { readCheckpoint } from '../nn/checkpoint';
import { CONFIG_KEYS, PRESETS, presetConfig, resolveConfig, type ConfigInput, type ModelConfig } from '../nn/config';
import { GatedPixelCNN } from '../nn/gated-pixelcnn';
import type { ScheduleKind } from '../optim/schedule';
import { refuseFolderInUse } from '../train/run-folder-lock';
import { trainingStateOf } from '../train/training-state';
import { CHECKPOINT_FILE, METRICS_FILE, MODEL_FILE, Trainer, type TrainerOptions } from '../train/trainer';
import { refuseConditioned } from './command-model';
import { DATASET_HELP, datasetInputs, loadDatasets, refuseOtherShape, type DatasetOptions } from './datasets';
import { backendName, CliError, integer, nonNegativeNumber, oneOf, pathList, fileName, folderName, positiveNumber, unitInterval } from './parse';
import { STOP_SIGNALS, stopSignals } from './stop-signals';
import { SAMPLES_FILE, writeTrainingSamples } from './training-samples';
import { terminalSafe } from './terminal-text';
import { counted, mebibytes } from './wording';

interface TrainFlags extends DatasetOptions {
  preset?: string;
  config?: string;
  out: string;
  resume?: string | true;
  overwrite?: boolean;
  epochs?: number;
  steps?: number;
  minutes?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  adamw?: boolean;
  clip?: number;
  schedule?: ScheduleKind;
  warmup?: number;
  seed?: number;
  evalEvery?: number;
  evalLimit?: number;
  checkpointEvery?: number;
  ema?: number;
  backend: BackendName;
  progress: boolean;
  samples: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a model; writes checkpoint.safetensors, model.safetensors and metrics.jsonl to --out')
    .option('--preset <name>', `a preset: ${Object.keys(PRESETS).join(', ')} (default: mnist-tiny, without --config)`)
    .option('--config <file>', 'a JSON file with the model configuration (SPEC.md §2 keys)', fileName('--config'))
    .option('--dataset <name>', DATASET_HELP, 'mnist')
    .option('--train-images <file>', 'IDX images for --dataset idx', fileName('--train-images'))
    .option('--train-labels <file>', 'IDX labels for --dataset idx', fileName('--train-labels'))
    .option('--test-images <file>', 'IDX test images for --dataset idx', fileName('--test-images'))
    .option('--test-labels <file>', 'IDX test labels for --dataset idx', fileName('--test-labels'))
    .option('--train-files <files>', 'comma-separated CIFAR-10 batches', pathList('--train-files'))
    .option('--test-files <files>', 'comma-separated CIFAR-10 test batches', pathList('--test-files'))
    .option('--train-dir <dir>', 'PNG images for --dataset folder (class folders of them for labels)', folderName('--train-dir'))
    .option('--test-dir <dir>', 'PNG test images for --dataset folder', folderName('--test-dir'))
    .option('--test-fraction <f>', 'hold out this fraction of the training images as the test set (data without a test split)', unitInterval('--test-fraction'))
    .option('--out <dir>', 'output folder', folderName('--out'), 'runs/latest')
    .option('--resume [checkpoint]', `continue a run (default: <out>/${CHECKPOINT_FILE})`, fileName('--resume'))
    .option('--overwrite', 'start a new run in an --out that holds one, replacing its files')
    .option('--epochs <n>', 'budget in epochs (default: 1, without --steps or --minutes)', integer('--epochs', 1))
    .option('--steps <n>', 'budget in steps', integer('--steps', 1))
    .option('--minutes <m>', 'budget in minutes of training', positiveNumber('--minutes'))
    .option('--batch-size <n>', 'images per step (default: 32)', integer('--batch-size', 1))
    .option('--lr <rate>', 'learning rate (default: 1e-3)', positiveNumber('--lr'))
    .option('--weight-decay <w>', 'weight decay (default: 0)', nonNegativeNumber('--weight-decay'))
    .option('--adamw', 'decoupled weight decay (AdamW) instead of an L2 penalty')
    .option('--clip <norm>', 'clip the global gradient norm', positiveNumber('--clip'))
    .option('--schedule <kind>', 'learning-rate schedule: constant, cosine or step (default: constant)', oneOf('--schedule', ['constant', 'cosine', 'step'] as const))
    .option('--warmup <steps>', 'linear warm-up steps (default: 0)', integer('--warmup', 0))
    .option('--seed <n>', 'seed of the weights and the data order (default: 0)', integer('--seed', 0))
    .option('--eval-every <steps>', 'evaluate on the test set every N steps (default: each epoch)', integer('--eval-every', 1))
    .option('--eval-limit <n>', 'test images per evaluation (default: 2000)', integer('--eval-limit', 1))
    .option('--checkpoint-every <steps>', 'write a checkpoint every N steps (default: 500)', integer('--checkpoint-every', 1))
    .option('--ema <decay>', 'evaluate and save a moving average of the weights with this decay, e.g. 0.999', unitInterval('--ema'))
    .option('--backend <name>', 'auto, cpu or cuda', backendName, 'auto')
    .option('--no-progress', 'no progress bar')
    .option('--no-samples', `no grid of samples (${SAMPLES_FILE} in --out) at each evaluation`)
    .action(async (flags: TrainFlags) => {
      await train(flags);
    });
}

/**
 * Refuses what would lose a run or data: starting a run over another one's files unless
 * --overwrite says so (a forgotten --resume), resuming one run into another's folder, and
 * an --out whose files would land on the training data.
 */
function checkOutIsFree(flags: TrainFlags): void {
  const files = [CHECKPOINT_FILE, MODEL_FILE, METRICS_FILE, SAMPLES_FILE].map((name) => path.join(flags.out, name));
  checkOutputsSpareInputs(files, datasetInputs(flags));
  // A log without a checkpoint or model is a run stopped before its first checkpoint:
  // nothing of it can be resumed, so a new run may start over it.
  const held = files.slice(0, 2).find((file) => statPath(file) !== undefined);
  if (!held && !flags.resume && !flags.overwrite && statPath(files[2]) !== undefined) {
    process.stderr.write(terminalSafe(`${flags.out} holds the log of a run stopped before its first checkpoint: starting over\n`));
  }
  if (!held || flags.overwrite) return;
  if (flags.resume) {
    const resumed = flags.resume === true ? files[0] : flags.resume;
    if (samePath(resumed, files[0])) return; // the run in --out itself
    throw new CliError(`${flags.out} holds another run (${held}): give another --out to continue ${resumed} in`);
  }
  throw new CliError(`${flags.out} holds a run (${held}): give --resume to continue it, --overwrite to start over, or another --out`);
}

/**
 * The checkpoint --resume continues, checked before the data loads: it must exist, and
 * hold a model the command line can train (not one conditioned on vectors or maps).
 */
function checkpointToResume(flags: TrainFlags): { file: string; config: ModelConfig } {
  const file = flags.resume === true ? path.join(flags.out, CHECKPOINT_FILE) : flags.resume!;
  if (!existsSync(file)) {
    const unsaved = flags.resume === true && existsSync(path.join(flags.out, METRICS_FILE));
    throw new CliError(`no checkpoint to resume at ${file}${unsaved ? ': the run there stopped before its first checkpoint; run without --resume to start it over' : ''}`);
  }
  const checkpoint = readCheckpoint(file);
  refuseConditioned(checkpoint.config, `the checkpoint ${file}`);
  if (trainingStateOf(checkpoint, file) === null) {
    throw new PixelCNNError('ERR_CHECKPOINT', `${file} holds a model but no training state to resume: give a run's ${CHECKPOINT_FILE}`);
  }
  return { file, config: checkpoint.config };
}

async function train(flags: TrainFlags): Promise<void> {
  if (flags.resume && flags.overwrite) throw new CliError('--resume continues a run and --overwrite starts one over: give one of them');
  refuseFolderInUse(loadBackend(flags.backend), flags.out); // the backend the run will use: any can look at a lock
  // The checkpoint first: a file that cannot be resumed is the thing to fix, wherever it goes.
  const resumed = flags.resume ? checkpointToResume(flags) : null;
  checkOutIsFree(flags);
  const modelConfig = flags.resume && !flags.preset && !flags.config ? undefined : modelChoice(flags);
  const { train, test } = loadDatasets(flags);
  if (resumed) refuseOtherShape(resumed.config, train, 'training', flags);
  const budget = flags.epochs || flags.steps || flags.minutes
    ? { epochs: flags.epochs, steps: flags.steps, minutes: flags.minutes }
    : undefined;
  let trainer: Trainer;
  // Models conditioned on vectors or maps cannot be sampled without them (the CLI has
  // none), nor images of more than 4 channels shown as a PNG.
  const sampleable = ({ config }: GatedPixelCNN) => config.condDim === 0 && config.spatialCond === 0 && pngGridTakes(config.channels);
  const common: Omit<TrainerOptions, 'model'> = {
    // An earlier run's grid would pass for this run's: a new run removes it with the checkpoint.
    train, test, outDir: flags.out, runFiles: [SAMPLES_FILE], budget, progress: flags.progress ? 'auto' : false,
    callbacks: {
      onEval: async () => {
        if (!flags.samples || !sampleable(trainer.model)) return;
        // The weights that evaluations measure: the average, with --ema.
        const averaged = trainer.averagedModel();
        try {
          await writeTrainingSamples(averaged ?? trainer.model, path.join(flags.out, SAMPLES_FILE));
        } finally {
          averaged?.dispose();
        }
      },
    },
  };
  // A stop signal ends the run after the current step with a checkpoint; the status then
  // says the run did not finish.
  const abort = new AbortController();
  let stopStatus = 0;
  // One listener a signal for the whole run: a once() listener re-armed from its own call
  // missed a second signal that came during the same step (Node delivered both at once).
  // They go when the command ends, so that a later command in the process starts afresh.
  const handlers = stopSignals.map((signal) => {
    const { status, shown } = STOP_SIGNALS[signal];
    return [signal, () => {
      if (stopStatus !== 0) {
        process.stderr.write(`\n${shown} again: quitting without a checkpoint (the last one written stays)\n`);
        process.exit(stopStatus);
      }
      stopStatus = status;
      process.stderr.write(`\nstopping after this step (${shown} again to quit without a checkpoint)…\n`);
      abort.abort();
    }] as const;
  });
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    if (resumed !== null) {
      trainer = Trainer.resume(resumed.file, { ...common, backend: flags.backend, signal: abort.signal });
      try {
        checkResumedSettings(flags, trainer, modelConfig?.(train, test));
      } catch (error) {
        trainer.dispose();
        trainer.model.dispose();
        throw error;
      }
      process.stderr.write(terminalSafe(`resuming ${resumed.file} at step ${trainer.step}\n`));
    } else {
      const config = modelConfig!(train, test);
      const { classes } = config;
      if (train.classNames && classes > 0 && classes !== train.classes) {
        // Labels past the named ones would have no names, and a test folder could not be labeled as training was.
        throw new CliError(
          `the configuration says ${classes} classes, the training folder holds ${train.classes}: ` +
            `give "classes": ${train.classes}, or 0 for a model without classes`,
        );
      }
      // The data's class names, where the model takes its classes (a configuration may drop them).
      const model = GatedPixelCNN.create(config, {
        backend: flags.backend, seed: flags.seed ?? 0, classNames: classes > 0 ? train.classNames : null,
      });
      trainer = new Trainer({
        ...common,
        model,
        signal: abort.signal,
        budget: budget ?? { epochs: 1 },
        batchSize: flags.batchSize,
        seed: flags.seed,
        optimizer: { lr: flags.lr, weightDecay: flags.weightDecay, decoupled: flags.adamw ?? false },
        clipNorm: flags.clip,
        schedule: flags.schedule ? { kind: flags.schedule, warmupSteps: flags.warmup } : { kind: 'constant', warmupSteps: flags.warmup },
        evalEvery: flags.evalEvery,
        evalLimit: flags.evalLimit,
        checkpointEvery: flags.checkpointEvery,
        ema: flags.ema,
      });
      const c = model.config;
      process.stderr.write(terminalSafe(
        `training ${flags.config ?? flags.preset ?? 'mnist-tiny'} (${model.parameters.count.toLocaleString()} parameters, K=${c.levels}) on ${flags.dataset}: ` +
          `${counted(train.count, 'image')}${flags.testFraction && test ? ` (${test.count} held out for testing)` : ''}, ` +
          `batch ${trainer.settings.batchSize}, backend ${model.backend.name}\n` +
          (model.classNames ? `labels: ${describeClassNames(model.classNames)}\n` : ''),
      ));
    }
    const startStep = trainer.step;
    const result = await trainer.run();
    const end = result.lastEval
      ? `test NLL ${result.lastEval.nll.toFixed(2)} nats/image (${result.lastEval.bitsPerDim.toFixed(4)} bits/dim)` +
        (result.lastEvalStep === result.steps ? '' : ` at step ${result.lastEvalStep}`)
      : result.steps > startStep
        ? `last batch ${result.lastLoss.toFixed(2)} nats/image`
        : result.stoppedBy === 'signal'
          ? 'no step was taken'
          : 'the run had already reached its budget';
    const peak = mebibytes(trainer.model.backend.memoryUsage().peakReserved);
    process.stderr.write(terminalSafe(
      `${result.stoppedBy === 'signal' ? 'stopped' : 'done'} after ${counted(result.steps, 'step')}: ${end}; ` +
        `peak ${trainer.model.backend.name} memory ${peak}; ${result.checkpoint ? `wrote ${flags.out}` : 'wrote nothing'}\n`,
    ));
    trainer.dispose();
    trainer.model.dispose();
    if (result.stoppedBy === 'signal') process.exitCode = stopStatus;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

/**
 * A resumed run keeps the model and the settings it was started with: the same command
 * may be given again with --resume, but a flag asking for another value is refused.
 */
function checkResumedSettings(flags: TrainFlags, trainer: Trainer, wanted?: ModelConfig): void {
  const s = trainer.settings;
  const asked: [string, unknown, unknown][] = [
    ['--batch-size', flags.batchSize, s.batchSize], ['--lr', flags.lr, s.optimizer.lr],
    ['--weight-decay', flags.weightDecay, s.optimizer.weightDecay], ['--adamw', flags.adamw, s.optimizer.decoupled],
    ['--clip', flags.clip, s.clipNorm], ['--schedule', flags.schedule, s.schedule.kind],
    ['--warmup', flags.warmup, s.schedule.warmupSteps ?? 0], ['--seed', flags.seed, s.seed],
    ['--eval-every', flags.evalEvery, s.evalEvery ?? 'each epoch'], ['--eval-limit', flags.evalLimit, s.evalLimit],
    ['--checkpoint-every', flags.checkpointEvery, s.checkpointEvery], ['--ema', flags.ema, s.ema],
  ];
  const differing = asked
    .filter(([, given, kept]) => given !== undefined && given !== kept)
    .map(([flag, given, kept]) => `${flag} ${String(given)} (the run's: ${String(kept ?? 'none')})`);
  if (wanted) {
    const run = trainer.model.config;
    const keys = CONFIG_KEYS.filter((key) => wanted[key] !== run[key]);
    // Runs started before presets took the data's classes have the preset's own.
    const presetClasses = flags.preset && keys.length === 1 && keys[0] === 'classes' && run.classes === presetConfig(flags.preset).classes;
    if (keys.length > 0 && !presetClasses) {
      const what = keys.map((key) => `${key} ${wanted[key]}, the run's ${run[key]}`).join('; ');
      differing.push(`${flags.preset ? `--preset ${flags.preset}` : `--config ${flags.config}`} (another model than the run's: ${what})`);
    }
  }
  if (differing.length > 0) {
    throw new CliError(`a resumed run keeps the settings it was started with; only its budget (--epochs, --steps, --minutes) may change: ${differing.join(', ')}`);
  }
}

/**
 * The model to train: --config's (the image shape and classes default to the data's), or
 * a preset's, which fixes the image shape and takes the data's classes (those of the
 * training and the test labels, the larger). The file is read and the preset's name
 * checked at once, before the data loads; the configuration is made once it has.
 */
function modelChoice(flags: TrainFlags): (train: ImageDataset, test?: ImageDataset) => ModelConfig {
  if (flags.preset && flags.config) throw new CliError('give --preset or --config, not both');
  if (flags.config) {
    const parsed = readConfigFile(flags.config);
    // Only valid sizes are refused here; resolveConfig explains what is wrong with others.
    const asked = (size: unknown) => (Number.isSafeInteger(size) ? (size as number) : 0);
    refuseConditioned({ condDim: asked(parsed.condDim), spatialCond: asked(parsed.spatialCond) }, `the configuration ${flags.config}`);
    return (train, test) => resolveConfig({ channels: train.channels, height: train.height, width: train.width, classes: dataClasses(train, test), ...parsed });
  }
  const preset = flags.preset ?? 'mnist-tiny';
  if (!Object.hasOwn(PRESETS, preset)) throw new CliError(`unknown preset "${preset}" (choose ${Object.keys(PRESETS).join(', ')})`);
  const c = PRESETS[preset as keyof typeof PRESETS];
  return (train, test) => {
    if (c.channels !== train.channels || c.height !== train.height || c.width !== train.width) {
      throw new CliError(
        `the preset ${preset} is for ${c.channels}×${c.height}×${c.width} images, the training images are ` +
          `${train.channels}×${train.height}×${train.width}: give --config with a JSON file of the architecture ` +
          '(levels, hidden, layers, ...; the image shape and classes follow the data)',
      );
    }
    return resolveConfig({ ...c, classes: dataClasses(train, test) });
  };
}

const dataClasses = (train: ImageDataset, test?: ImageDataset): number => Math.max(train.classes, test?.classes ?? 0);

/** A configuration is a few keys: a pipe giving more than this is not one. */
const CONFIG_PIPE_LIMIT = 1 << 20;

/** The JSON object of a configuration file: ERR_IO if it cannot be read, ERR_ARG if it is not such an object. */
function readConfigFile(file: string): Partial<ConfigInput> {
  let text: string;
  try {
    text = readRegularFile(file, { pipeLimit: CONFIG_PIPE_LIMIT }).toString('utf8');
  } catch (error) {
    throw new CliError(`cannot read the configuration ${file}: ${(error as Error).message}`, 'ERR_IO');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`the configuration ${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`the configuration ${file} must be a JSON object of SPEC.md §2 keys, got ${Array.isArray(parsed) ? 'an array' : String(parsed)}`);
  }
  return parsed as Partial<ConfigInput>;
}
