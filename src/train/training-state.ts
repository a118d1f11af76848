/**
 * What a checkpoint keeps of a run beside the weights (metadata "training": the step, the
 * optimizer's step counts, the data order, the settings, summaries of the training and test sets),
 * and its reading back, checked field by field.
 */
import type { BatchState } from '../data/batches';
import type { ImageDataset } from '../data/dataset';
import { PixelCNNError } from '../errors';
import type { Checkpoint } from '../nn/checkpoint';
import { resolveSettings, type SettingsOptions, type TrainSettings } from './settings';

/** What a checkpoint stores beside the weights. */
export interface TrainingState {
  step: number;
  sampler: BatchState;
  adamSteps: Record<string, number>;
  /** Updates of the weights' average (with settings.ema). */
  averageUpdates?: number;
  elapsedSeconds: number;
  settings: TrainSettings;
  /** The training set's size and image shape (absent in checkpoints of earlier versions). */
  data?: DataSummary;
  /** The test set's, null for a run without one (absent in checkpoints of earlier versions). */
  test?: DataSummary | null;
}

/** What a resumed run checks of its training set: a checkpoint does not hold the data itself. */
export interface DataSummary {
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
}

export function summarize(data: ImageDataset): DataSummary {
  const { count, channels, height, width, classes } = data;
  return { count, channels, height, width, classes };
}

const SUMMARY_COUNTS = ['count', 'channels', 'height', 'width', 'classes'] as const;

function isDataSummary(value: unknown): value is DataSummary {
  return typeof value === 'object' && value !== null &&
    SUMMARY_COUNTS.every((key) => Number.isSafeInteger((value as DataSummary)[key]) && (value as DataSummary)[key] >= 0);
}

export const describeData = (d: DataSummary): string =>
  `${d.count} images of ${d.channels}×${d.height}×${d.width}${d.classes ? ` in ${d.classes} ${d.classes === 1 ? 'class' : 'classes'}` : ''}`;

/** What a checkpoint says of the run that wrote it. */
export interface TrainingRun {
  step: number;
  elapsedSeconds: number;
  settings: TrainSettings;
  /** The training set's size and image shape (null in checkpoints of earlier versions). */
  data: DataSummary | null;
}

/** The metadata key of a model file's training-set summary. */
const DATA_KEY = 'trainingData';

/** A model file's metadata naming its training set, so that eval --test-fraction can tell the run's split from another. */
export function trainingDataMetadata(train: ImageDataset): Record<string, string> {
  return { [DATA_KEY]: JSON.stringify(summarize(train)) };
}

/**
 * The training set's summary a checkpoint or model file of a run records (null where it
 * has none: a file of an earlier version, or one saved by hand); ERR_CHECKPOINT if it is
 * malformed.
 */
export function trainingDataOf(checkpoint: Checkpoint, checkpointPath: string): DataSummary | null {
  const fromModel = checkpoint.extras.metadata[DATA_KEY];
  const data = fromModel === undefined ? trainingRunOf(checkpoint, checkpointPath)?.data ?? null : parseJson(fromModel);
  if (data === null) return null;
  if (!isDataSummary(data)) throw new PixelCNNError('ERR_CHECKPOINT', `${checkpointPath}: the training data's summary is malformed`);
  return data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The metadata key of a checkpoint's training state. */
const STATE_KEY = 'training';

/** A checkpoint's metadata holding a run's training state. */
export function trainingStateMetadata(state: TrainingState): Record<string, string> {
  return { [STATE_KEY]: JSON.stringify(state) };
}

/** The training state a checkpoint holds (ERR_CHECKPOINT if damaged), or null for a model file without one. */
export function trainingStateOf(checkpoint: Checkpoint, checkpointPath: string): TrainingState | null {
  const json = checkpoint.extras.metadata[STATE_KEY];
  return json === undefined ? null : parseTrainingState(json, checkpointPath);
}

/** The run that wrote a checkpoint (ERR_CHECKPOINT if its state is damaged), or null for a model file without one. */
export function trainingRunOf(checkpoint: Checkpoint, checkpointPath: string): TrainingRun | null {
  const state = trainingStateOf(checkpoint, checkpointPath);
  if (state === null) return null;
  const { step, elapsedSeconds, settings, data } = state;
  return { step, elapsedSeconds, settings, data: data ?? null };
}

/**
 * A checkpoint's training state, checked for every field a resume reads (ERR_CHECKPOINT
 * naming what is wrong): a missing setting must not quietly become a default.
 */
function parseTrainingState(json: string, checkpointPath: string): TrainingState {
  const bad = (what: string) => new PixelCNNError('ERR_CHECKPOINT', `${checkpointPath}: the training state ${what}`);
  let state: unknown;
  try {
    state = JSON.parse(json);
  } catch {
    throw bad('is not valid JSON');
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
  if (!isObject(state)) throw bad('is not a JSON object');
  if (!isCount(state.step)) throw bad(`has no step count (got ${JSON.stringify(state.step)})`);
  if (!(Number.isFinite(state.elapsedSeconds) && (state.elapsedSeconds as number) >= 0)) {
    throw bad(`has no elapsed time (got ${JSON.stringify(state.elapsedSeconds)})`);
  }
  if (!isObject(state.sampler)) throw bad('has no data order');
  if (!isObject(state.adamSteps) || !Object.values(state.adamSteps).every(isCount)) {
    throw bad('has no optimizer step counts');
  }
  if (state.data !== undefined && !isDataSummary(state.data)) throw bad('has a malformed summary of the training data');
  if (state.test !== undefined && state.test !== null && !isDataSummary(state.test)) throw bad('has a malformed summary of the test data');
  const settings = state.settings;
  const missing = SETTING_KEYS.filter((key) => !isObject(settings) || !(key in settings));
  if (missing.length > 0) throw bad(`lacks the settings ${missing.join(', ')}`);
  if (!isObject((settings as Record<string, unknown>).optimizer)) throw bad('has no optimizer settings');
  const ema = (settings as Record<string, unknown>).ema;
  if (ema !== undefined && ema !== null && !isCount(state.averageUpdates)) throw bad('has no update count of the weights\' average');
  try {
    resolveSettings(settings as SettingsOptions); // the checks a new run's settings pass
  } catch (error) {
    throw bad(`has invalid settings: ${(error as Error).message}`);
  }
  return state as unknown as TrainingState;
}

const SETTING_KEYS: readonly (keyof TrainSettings)[] = [
  'batchSize', 'seed', 'optimizer', 'clipNorm', 'schedule', 'budget', 'evalEvery', 'evalLimit', 'checkpointEvery',
];
