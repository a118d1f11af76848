/**
 * Trainer: the training loop, with Adam/AdamW, gradient clipping, a learning-rate
 * schedule, a budget in epochs, steps or minutes, callbacks, progress, a metrics
 * log, periodic evaluation and periodic atomic checkpoints.
 *
 * With `ema`, a moving average of the weights (optim/weight-average.ts) is what
 * evaluations measure and what model.safetensors holds.
 *
 * Exact resume: a checkpoint holds the weights, the optimizer's moments and step
 * counts, the weights' average, the data order's state and the step, and every source of randomness is
 * a pure function of (seed, step), so a run resumed from any checkpoint, after a
 * kill -9 or not, computes bit for bit the losses an uninterrupted run computes.
 */
import * as path from 'node:path';

import { BatchSampler, gatherBatch, type BatchState } from '../data/batches';
import type { ImageDataset } from '../data/dataset';
import { PixelCNNError, shown } from '../errors';
import { optionalFunction, optionalSignal, optionsObject, refuseUnknownKeys } from '../options';
import { ensureWritableDirectory, removeEarlierRunFile } from '../io/directories';
import { GatedPixelCNN, requireModel } from '../nn/gated-pixelcnn';
import { readCheckpoint } from '../nn/checkpoint';
import { Adam } from '../optim/adam';
import { learningRate } from '../optim/schedule';
import { WeightAverage } from '../optim/weight-average';
import type { Backend } from '../backend/backend';
import type { BackendName } from '../backend/load';
import { bitsPerDim, checkDatasetFits, evaluate, conditioningFor, type Evaluation } from './evaluate';
import { MetricsLog } from './metrics-log';
import { createProgress, type ProgressReporter } from './progress';
import { checkpointMark, lockRunFolder } from './run-folder-lock';
import {
  budgetSteps, checkBudget, checkResumedOptions, checkScheduleFits, resolveSettings, type SettingsOptions, type TrainSettings,
} from './settings';
import {
  describeData, summarize, trainingDataMetadata, trainingStateMetadata, trainingStateOf, type DataSummary, type TrainingState,
} from './training-state';
import { TrainingStep, type TrainingStepOptions } from './training-step';

export interface BatchEndInfo {
  step: number;
  epoch: number;
  /** Mean NLL of the batch, nats per image. */
  loss: number;
  bitsPerDim: number;
  lr: number;
  gradNorm: number;
  imagesPerSecond: number;
  elapsedSeconds: number;
}

/** Each may return a promise: the run waits for it before the next step. What they return is otherwise ignored. */
export interface TrainerCallbacks {
  onBatchEnd?(info: BatchEndInfo): unknown;
  onEpochEnd?(info: { epoch: number; step: number }): unknown;
  onEval?(info: Evaluation & { step: number; epoch: number }): unknown;
  onCheckpoint?(info: { path: string; step: number }): unknown;
}

export interface TrainerOptions extends SettingsOptions {
  model: GatedPixelCNN;
  train: ImageDataset;
  test?: ImageDataset;
  /** Folder for checkpoint.safetensors, model.safetensors and metrics.jsonl (none: no files). */
  outDir?: string;
  /** Names of the caller's own files of a run in outDir (the CLI's samples.png), which a new run removes as it does an earlier run's checkpoint and model. */
  runFiles?: readonly string[];
  /** Progress on stderr: a bar on a terminal ('auto', the default), true, or false. */
  progress?: boolean | 'auto';
  callbacks?: TrainerCallbacks;
  /** Stops the run after the current step (a checkpoint is written first). */
  signal?: AbortSignal;
  /** Steps replayed as CUDA graphs (TrainingStepOptions.graph; default 'auto'). */
  stepGraph?: TrainingStepOptions['graph'];
}

export interface TrainResult {
  steps: number;
  epochs: number;
  lastLoss: number;
  /** The last evaluation: at the run's last step, unless the run was stopped by its signal. */
  lastEval: Evaluation | null;
  /** The step of lastEval (null with it). */
  lastEvalStep: number | null;
  stoppedBy: 'budget' | 'signal';
  /** The last checkpoint written: null without outDir, or when a new run took no step. */
  checkpoint: string | null;
}

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const MODEL_FILE = 'model.safetensors';
export const METRICS_FILE = 'metrics.jsonl';

/** The models a trainer's run() is training now: one trainer at a time on each. */
const MODELS_IN_TRAINING = new WeakSet<GatedPixelCNN>();

export class Trainer {
  readonly model: GatedPixelCNN;
  readonly settings: TrainSettings;
  readonly #options: TrainerOptions;
  readonly #adam: Adam;
  readonly #average: WeightAverage | null;
  readonly #sampler: BatchSampler;
  readonly #log: MetricsLog | null;
  #step = 0;
  #elapsedBefore = 0; // seconds trained before this process (resumed runs)
  #disposed = false;
  #running = false;
  #folderClaimed: boolean; // false until a new run's first step (see #claimFolder)
  #checkpointSeen: string | null = null; // outDir's checkpoint as this trainer last saw or wrote it

  constructor(options: TrainerOptions, resumeFrom?: TrainingState & { tensors: Parameters<Adam['loadStateDict']>[0] }) {
    if (typeof options !== 'object' || options === null) throw new PixelCNNError('ERR_ARG', 'Trainer needs options: at least a model and a training set');
    requireModel(options.model, 'Trainer: model');
    checkOptionKeys(options, Boolean(resumeFrom));
    optionalSignal(options.signal, 'signal');
    const callbacks = optionsObject(options.callbacks, 'Trainer: callbacks');
    const callbackNames = ['onBatchEnd', 'onEpochEnd', 'onEval', 'onCheckpoint'] as const;
    refuseUnknownKeys(callbacks, callbackNames, 'Trainer callbacks');
    for (const name of callbackNames) optionalFunction(callbacks[name], `callbacks.${name}`);
    if (options.model.disposed) throw new PixelCNNError('ERR_DISPOSED', 'Trainer: the model was disposed');
    this.#options = options;
    this.model = options.model;
    // (Checkpoints of earlier versions have no ema setting: they had no average.)
    this.settings = resumeFrom ? { ...resumeFrom.settings, ema: resumeFrom.settings.ema ?? null } : resolveSettings(options);
    if (resumeFrom) checkResumedOptions(options, this.settings);
    // A resumed run may get a new budget (with a cosine schedule that also reshapes the rates to come).
    if (resumeFrom && options.budget) {
      this.settings = { ...this.settings, budget: checkBudget(options.budget) };
      checkScheduleFits(this.settings);
    }
    if (options.outDir != null && (typeof options.outDir !== 'string' || options.outDir === '')) {
      // '' would silently train without writing anything: leave outDir out for that.
      throw new PixelCNNError('ERR_ARG', `outDir must be a folder name (or left out, for no files), got ${shown(options.outDir)}`);
    }
    const runFiles = options.runFiles ?? [];
    if (!Array.isArray(runFiles) || !runFiles.every((name) => typeof name === 'string' && name !== '' && path.basename(name) === name)) {
      throw new PixelCNNError('ERR_ARG', `runFiles must be a list of file names in outDir, got ${shown(options.runFiles)}`);
    }
    checkDatasetFits(this.model, options.train, 'training');
    // Test images without labels are scored as evaluate() scores them: by the marginal NLL.
    if (options.test) checkDatasetFits(this.model, options.test, 'test', { unlabeled: true });
    this.#adam = new Adam(this.model.parameters, this.settings.optimizer);
    this.#average = this.settings.ema === null ? null : new WeightAverage(this.model, this.settings.ema);
    // What fails from here frees the average's copies (and loaded moments) at once.
    try {
      if (resumeFrom) checkResumedData(resumeFrom, options);
      this.#sampler = samplerOf(options.train.count, this.settings, resumeFrom?.sampler);
      if (resumeFrom) {
        const steps = budgetSteps(this.settings.budget, this.#sampler.batchesPerEpoch);
        if (steps !== null && steps < resumeFrom.step) {
          throw new PixelCNNError('ERR_ARG', `the run being resumed is at step ${resumeFrom.step}, past the ${steps} steps its new budget allows: give a budget of ${resumeFrom.step} steps or more`);
        }
        this.#adam.loadStateDict(resumeFrom.tensors, resumeFrom.adamSteps);
        this.#average?.loadStateDict(resumeFrom.tensors, resumeFrom.averageUpdates ?? NaN);
        this.#step = resumeFrom.step;
        this.#elapsedBefore = resumeFrom.elapsedSeconds;
      }
      this.#log = null;
      this.#folderClaimed = Boolean(resumeFrom) || !options.outDir;
      if (options.outDir) {
        ensureWritableDirectory(options.outDir);
        this.#checkpointSeen = checkpointMark(path.join(options.outDir, CHECKPOINT_FILE));
        // The log may run past the checkpoint we resume from: what will be redone is dropped.
        this.#log = new MetricsLog(path.join(options.outDir, METRICS_FILE), this.#step);
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Continues a run from a checkpoint written by a Trainer. The budget may be changed. */
  static resume(
    checkpointPath: string,
    options: Omit<TrainerOptions, 'model'> & { backend?: Backend | BackendName },
  ): Trainer {
    const resumeOptions = optionsObject(options, 'Trainer.resume: options');
    if ('model' in resumeOptions) {
      // It would be ignored: the run's model is the checkpoint's.
      throw new PixelCNNError('ERR_ARG', 'Trainer.resume takes its model from the checkpoint: leave out model (backend chooses where it loads)');
    }
    const checkpoint = readCheckpoint(checkpointPath);
    const state = trainingStateOf(checkpoint, checkpointPath);
    if (state === null) {
      throw new PixelCNNError('ERR_CHECKPOINT', `${checkpointPath} holds a model but no training state to resume`);
    }
    const model = GatedPixelCNN.fromWeights(
      checkpoint.config, checkpoint.weights, resumeOptions.backend, checkpoint.extras.classNames,
    );
    try {
      return new Trainer({ ...resumeOptions, model } as TrainerOptions, { ...state, tensors: checkpoint.extras.tensors });
    } catch (error) {
      model.dispose();
      const damaged = error instanceof PixelCNNError && error.code === 'ERR_CHECKPOINT' && !error.message.includes(checkpointPath);
      throw damaged ? new PixelCNNError('ERR_CHECKPOINT', `${checkpointPath}: ${error.message}`, { cause: error }) : error;
    }
  }

  get step(): number {
    return this.#step;
  }

  async run(): Promise<TrainResult> {
    const { settings, model } = this;
    // Its optimizer's moments are freed: a run would train on from reset ones.
    if (this.#disposed) throw new PixelCNNError('ERR_DISPOSED', 'the trainer was disposed');
    if (model.disposed) throw new PixelCNNError('ERR_DISPOSED', 'the model being trained was disposed');
    // Two loops would interleave their steps on one optimizer and each report the whole budget.
    if (this.#running) throw new PixelCNNError('ERR_ARG', 'this trainer is already running: await its run() before starting another');
    // Nor may two trainers' steps interleave on one model, each from its own moments.
    if (MODELS_IN_TRAINING.has(model)) throw new PixelCNNError('ERR_ARG', 'another trainer is running on this model: await its run() before starting another');
    const { train, test, callbacks = {}, signal } = this.#options;
    const batchesPerEpoch = this.#sampler.batchesPerEpoch;
    const totalSteps = budgetSteps(settings.budget, batchesPerEpoch);
    const deadline = settings.budget.minutes === undefined ? Infinity : settings.budget.minutes * 60;
    const evalEvery = settings.evalEvery ?? batchesPerEpoch;
    const progress = createProgress(this.#options.progress ?? 'auto');
    const started = performance.now();
    const elapsed = () => this.#elapsedBefore + (performance.now() - started) / 1000;
    let lastLoss = NaN;
    let lastEval: Evaluation | null = null;
    let lastEvalStep: number | null = null;
    let stoppedBy: TrainResult['stoppedBy'] = 'budget';
    let checkpoint: string | null = null;
    let checkpointStep = 0;
    const recent: { time: number; images: number }[] = []; // the last steps, for images/s
    const trainingStep = new TrainingStep(model, { graph: this.#options.stepGraph });
    // Stops the run on non-finite numbers, writing nothing more, so that the last checkpoint stays.
    const diverged = (step: number, what: string) => new PixelCNNError(
      'ERR_DIVERGED',
      `training diverged at step ${step}: ${what} (a lower learning rate, or clipping, may help)` +
        `${checkpoint ? `; the checkpoint of step ${checkpointStep} is kept` : ''}`,
    );

    const evaluateNow = async (epoch: number) => {
      lastEval = this.#evaluate(test!, epoch, progress);
      lastEvalStep = this.#step;
      // An update can leave the weights finite but so large that the logits overflow.
      if (!Number.isFinite(lastEval.nll)) throw diverged(this.#step, `the test NLL is ${lastEval.nll}`);
      await callbacks.onEval?.({ ...lastEval, step: this.#step, epoch });
      this.#checkLive();
    };

    const { outDir } = this.#options;
    const folderLock = outDir ? lockRunFolder(model.backend, outDir, path.join(outDir, CHECKPOINT_FILE), this.#checkpointSeen) : null;
    this.#running = true;
    MODELS_IN_TRAINING.add(model);
    try {
      const budgetLeft = () => (totalSteps === null || this.#step < totalSteps) && elapsed() < deadline;
      // Once started, the loop ends at the step that uses the budget up (or at a stop by
      // the signal), so that this last step is evaluated, and its checkpoint written after
      // the loop, however the time runs out.
      let more = budgetLeft();
      while (more) {
        this.#checkLive();
        if (signal?.aborted) {
          stoppedBy = 'signal';
          break;
        }
        const { indices, epoch } = this.#sampler.next();
        const batch = gatherBatch(train, indices, model.config.levels);
        const nll = trainingStep.run(batch.images, conditioningFor(model, batch));
        const grads = model.parameters.list().flatMap((p) => (p.grad ? [p.grad] : []));
        const gradNorm = settings.clipNorm === null
          ? model.backend.globalNorm(grads)
          : model.backend.clipGradNorm(grads, settings.clipNorm);
        // A NaN or infinite loss or gradient would only spread through the weights: stop
        // before this step's update.
        const loss = nll.reduce((a, b) => a + b, 0) / nll.length;
        if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
          throw diverged(this.#step + 1, `the loss is ${loss} and the gradient norm ${gradNorm}`);
        }
        this.#step++;
        const lr = learningRate(settings.schedule, settings.optimizer.lr, this.#step, totalSteps);
        this.#adam.step(lr);
        this.#average?.update();

        lastLoss = loss;
        recent.push({ time: performance.now(), images: nll.length });
        if (recent.length > 50) recent.shift();
        const imagesPerSecond = recentRate(recent, started);
        const info: BatchEndInfo = {
          step: this.#step, epoch, loss: lastLoss, bitsPerDim: bitsPerDim(model, lastLoss), lr, gradNorm,
          imagesPerSecond, elapsedSeconds: elapsed(),
        };
        if (!this.#folderClaimed) this.#claimFolder();
        this.#log?.write({ type: 'train', ...info });
        await callbacks.onBatchEnd?.(info);
        this.#checkLive();
        progress.update({ ...info, totalSteps });

        const epochEnded = this.#sampler.state.epoch > epoch;
        if (epochEnded) {
          await callbacks.onEpochEnd?.({ epoch, step: this.#step });
          this.#checkLive();
        }
        // The last step is evaluated too, before any checkpoint of it, so that the result's
        // evaluation is of the final weights and weights that overflow are never written;
        // not after a stop by the signal, which asks for a quick one.
        more = budgetLeft();
        if (test && (this.#step % evalEvery === 0 || (!more && !signal?.aborted))) await evaluateNow(epoch);
        if (!more) break; // its checkpoint is the run's final one, below
        if (this.#options.outDir && this.#step % settings.checkpointEvery === 0) {
          checkpoint = this.#checkpoint(elapsed());
          checkpointStep = this.#step;
          await callbacks.onCheckpoint?.({ path: checkpoint, step: this.#step });
        }
        // Let timers, signals and finalizers run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      // A new run that took no step has nothing to keep, and leaves an earlier run's files as they were.
      this.#checkLive();
      if (this.#options.outDir && this.#step > 0) {
        checkpoint = this.#checkpoint(elapsed());
        const metadata = trainingDataMetadata(train);
        this.#withEvaluatedModel((evaluated) => evaluated.save(path.join(this.#options.outDir!, MODEL_FILE), { metadata }));
        await callbacks.onCheckpoint?.({ path: checkpoint, step: this.#step });
      }
    } finally {
      folderLock?.release();
      trainingStep.dispose();
      progress.stop();
      this.#running = false;
      MODELS_IN_TRAINING.delete(model);
      if (this.#disposed) this.#free();
    }
    return {
      steps: this.#step,
      epochs: this.#step / batchesPerEpoch,
      lastLoss,
      lastEval,
      lastEvalStep,
      stoppedBy,
      checkpoint,
    };
  }

  /**
   * Frees the optimizer's state and the weights' average (the model stays the caller's).
   * A run in progress stops at its next step with ERR_DISPOSED, writing nothing more, and
   * frees them then: freed at once, its optimizer would go on from zeroed moments.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.#running) this.#free();
  }

  #free(): void {
    this.#adam.dispose();
    this.#average?.dispose();
  }

  /** Stops a run whose trainer or model was disposed meanwhile (by a callback, say). */
  #checkLive(): void {
    if (this.#disposed) throw new PixelCNNError('ERR_DISPOSED', 'the trainer was disposed during its run');
    if (this.model.disposed) throw new PixelCNNError('ERR_DISPOSED', 'the model being trained was disposed during its run');
  }

  /**
   * A new model with the averaged weights (the caller disposes it), or null when the run
   * keeps no average (settings.ema null).
   */
  averagedModel(): GatedPixelCNN | null {
    return this.#average?.model() ?? null;
  }

  /** Runs `use` on the model that evaluations measure: the averaged one (freed after), or the trained one. */
  #withEvaluatedModel<T>(use: (model: GatedPixelCNN) => T): T {
    const averaged = this.averagedModel();
    try {
      return use(averaged ?? this.model);
    } finally {
      averaged?.dispose();
    }
  }

  #evaluate(test: ImageDataset, epoch: number, progress: ProgressReporter): Evaluation {
    const limit = this.settings.evalLimit ?? undefined;
    const result = this.#withEvaluatedModel((model) => evaluate(model, test, { limit }));
    this.#log?.write({ type: 'eval', step: this.#step, epoch, ...result });
    progress.message(
      `step ${this.#step}: test NLL ${result.nll.toFixed(2)} nats/image, ${result.bitsPerDim.toFixed(4)} bits/dim ` +
        `(${result.images} images${result.marginal ? ', without labels: marginal over the classes' : ''})`,
    );
    return result;
  }

  /**
   * At a new run's first step its folder becomes its own: an earlier run's checkpoint,
   * model and runFiles go (and its log is cut at this step's entry), so that a run stopped
   * before its first checkpoint cannot be resumed as the earlier run beside this one's log.
   */
  #claimFolder(): void {
    for (const name of [CHECKPOINT_FILE, MODEL_FILE, ...(this.#options.runFiles ?? [])]) {
      removeEarlierRunFile(path.join(this.#options.outDir!, name));
    }
    this.#checkpointSeen = null;
    this.#folderClaimed = true;
  }

  #checkpoint(elapsedSeconds: number): string {
    const file = path.join(this.#options.outDir!, CHECKPOINT_FILE);
    const { tensors, steps } = this.#adam.stateDict();
    for (const [name, tensor] of this.#average?.stateDict() ?? []) tensors.set(name, tensor);
    const state: TrainingState = {
      step: this.#step,
      sampler: this.#sampler.state,
      adamSteps: steps,
      ...(this.#average ? { averageUpdates: this.#average.updates } : {}),
      elapsedSeconds,
      settings: this.settings,
      data: summarize(this.#options.train),
      test: this.#options.test ? summarize(this.#options.test) : null,
    };
    this.model.save(file, { tensors, metadata: trainingStateMetadata(state) });
    this.#checkpointSeen = checkpointMark(file);
    return file;
  }
}

/** Every option a Trainer takes: a misspelt one (batchsize) would be dropped without a word. */
const TRAINER_OPTIONS = [
  'model', 'train', 'test', 'outDir', 'runFiles', 'progress', 'callbacks', 'signal', 'stepGraph', 'optimizer',
  'batchSize', 'seed', 'clipNorm', 'schedule', 'budget', 'evalEvery', 'evalLimit', 'checkpointEvery', 'ema',
] as const satisfies readonly (keyof TrainerOptions)[];
// An option added to TrainerOptions but not above fails to compile here.
const everyOptionListed: Record<Exclude<keyof TrainerOptions, (typeof TRAINER_OPTIONS)[number]>, never> = {};
void everyOptionListed;

function checkOptionKeys(options: TrainerOptions, resumed: boolean): void {
  // Trainer.resume also takes the backend to load the model onto.
  const known: readonly string[] = resumed ? [...TRAINER_OPTIONS, 'backend'] : TRAINER_OPTIONS;
  refuseUnknownKeys(options, known, 'Trainer options');
  const { progress } = options;
  if (progress !== undefined && progress !== true && progress !== false && progress !== 'auto') {
    throw new PixelCNNError('ERR_ARG', `progress must be true, false or 'auto', got ${shown(progress)}`);
  }
}

/**
 * A resumed run trains on the run's training set and evaluates on its test set: a
 * checkpoint holds neither, only their sizes and shapes (the test set's since this
 * version), and another test set would make the log's evaluations incomparable.
 */
function checkResumedData(state: TrainingState, options: TrainerOptions): void {
  const [was, now] = [state.data, summarize(options.train)];
  if (was && describeData(was) !== describeData(now)) {
    throw new PixelCNNError('ERR_ARG', `the run being resumed trained on ${describeData(was)}, this training set holds ${describeData(now)}: give the run's data again (the same files, split as they were: train --test-fraction too)`);
  }
  if (state.test === undefined) return;
  const described = (d: DataSummary | null) => (d ? describeData(d) : 'no test set');
  const [wasTest, nowTest] = [described(state.test), described(options.test ? summarize(options.test) : null)];
  if (wasTest !== nowTest) {
    throw new PixelCNNError('ERR_ARG', `the run being resumed evaluated on ${wasTest}, this run would evaluate on ${nowTest}: give the run's test data again (the same files, split as they were), so that its evaluations stay comparable`);
  }
}

/** The batch order: a new one, or a resumed run's, whose saved place must fit the data (else ERR_CHECKPOINT: the file is damaged). */
function samplerOf(count: number, settings: TrainSettings, saved?: BatchState): BatchSampler {
  try {
    return new BatchSampler(count, settings.batchSize, { seed: settings.seed }, saved);
  } catch (error) {
    if (!saved || !(error instanceof PixelCNNError)) throw error;
    throw new PixelCNNError('ERR_CHECKPOINT', `the training state's data order is damaged: ${error.message}`, { cause: error });
  }
}

/** Images per second over the recorded steps (the first measured from the run's start). */
function recentRate(recent: { time: number; images: number }[], started: number): number {
  const from = recent.length > 1 ? recent[0].time : started;
  const images = recent.slice(recent.length > 1 ? 1 : 0).reduce((n, r) => n + r.images, 0);
  return (images * 1000) / Math.max(1e-3, recent[recent.length - 1].time - from);
}
