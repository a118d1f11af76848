/**
 * A training run's settings: what decides what a run computes, their defaults and their
 * checks. A checkpoint keeps them, so a resumed run computes what the run it continues would.
 */
import { PixelCNNError, shown } from '../errors';
import { definedOnly } from '../options';
import { resolveAdamConfig, type AdamConfig } from '../optim/adam';
import { SCHEDULE_DEFAULTS, checkSchedule, learningRate, type Schedule } from '../optim/schedule';
import { checkAverageDecay } from '../optim/weight-average';

/** How long a run trains: it ends at the first limit reached. */
export interface Budget {
  epochs?: number;
  steps?: number;
  minutes?: number;
}

/** The settings that decide what a run computes; a checkpoint keeps them for resume. */
export interface TrainSettings {
  batchSize: number;
  seed: number;
  optimizer: AdamConfig;
  /** Clip the global gradient norm to this (null: no clipping). */
  clipNorm: number | null;
  schedule: Schedule;
  budget: Budget;
  /** Evaluate on the test set every this many steps (default: once per epoch). */
  evalEvery: number | null;
  /** Test images per evaluation (default 2000; null: all). */
  evalLimit: number | null;
  /** Write a checkpoint every this many steps. */
  checkpointEvery: number;
  /**
   * Decay of an exponential moving average of the weights, in (0, 1), e.g. 0.999: what
   * evaluations measure and model.safetensors holds (null, the default: the weights themselves).
   */
  ema: number | null;
}

/** The settings as a caller gives them: any may be left out, the optimizer's fields too. */
export interface SettingsOptions extends Partial<Omit<TrainSettings, 'optimizer'>> {
  optimizer?: Partial<AdamConfig>;
}

/** Whether every field `given` sets (at any depth) has the value `kept` has there. */
function agrees(given: unknown, kept: unknown): boolean {
  if (typeof given !== 'object' || given === null) return given === kept;
  if (typeof kept !== 'object' || kept === null) return false;
  return Object.entries(given).every(([key, value]) => value === undefined || agrees(value, (kept as Record<string, unknown>)[key]));
}

/**
 * A resumed run keeps the settings it was started with (only the budget may change):
 * a setting given with another value is refused, not silently ignored.
 */
export function checkResumedOptions(options: SettingsOptions, kept: TrainSettings): void {
  const keys = (Object.keys(kept) as (keyof TrainSettings)[]).filter((key) => key !== 'budget');
  // A schedule that leaves a field out means its default, which the kept one may spell out.
  const withDefaults = (key: keyof TrainSettings, value: unknown) => (key === 'schedule' ? { ...SCHEDULE_DEFAULTS, ...definedOnly(value as Schedule) } : value);
  const differing = keys.filter((key) => options[key] !== undefined && !agrees(withDefaults(key, options[key]), withDefaults(key, kept[key])));
  if (differing.length > 0) {
    const described = differing.map((key) => `${key} ${JSON.stringify(options[key])} (the run's: ${JSON.stringify(kept[key])})`);
    throw new PixelCNNError('ERR_ARG', `a resumed run keeps the settings it was started with; only its budget may change: ${described.join(', ')}`);
  }
}

/** A new run's settings: the options given, defaults for the rest, all checked (ERR_ARG). */
export function resolveSettings(options: SettingsOptions): TrainSettings {
  const settings: TrainSettings = {
    batchSize: options.batchSize ?? 32,
    seed: options.seed ?? 0,
    optimizer: resolveAdamConfig(options.optimizer),
    clipNorm: options.clipNorm ?? null,
    schedule: options.schedule ?? { kind: 'constant' },
    budget: options.budget ?? { epochs: 1 },
    evalEvery: options.evalEvery ?? null,
    evalLimit: options.evalLimit === undefined ? 2000 : options.evalLimit,
    checkpointEvery: options.checkpointEvery ?? 500,
    ema: options.ema ?? null,
  };
  positiveInt(settings.batchSize, 'batchSize');
  positiveInt(settings.evalEvery, 'evalEvery');
  positiveInt(settings.evalLimit, 'evalLimit');
  positiveInt(settings.checkpointEvery, 'checkpointEvery');
  checkBudget(settings.budget);
  if (!Number.isSafeInteger(settings.seed)) throw new PixelCNNError('ERR_ARG', `seed must be an integer, got ${shown(settings.seed)}`);
  if (settings.ema !== null) checkAverageDecay(settings.ema);
  if (settings.clipNorm !== null && !(Number.isFinite(settings.clipNorm) && settings.clipNorm > 0)) {
    throw new PixelCNNError('ERR_ARG', `clipNorm must be a number > 0, got ${shown(settings.clipNorm)}`);
  }
  checkSchedule(settings.schedule);
  checkScheduleFits(settings);
  return settings;
}

const positiveInt = (value: number | null | undefined, what: string): void => {
  if (value != null && !(Number.isSafeInteger(value) && value >= 1)) {
    throw new PixelCNNError('ERR_ARG', `${what} must be an integer ≥ 1, got ${shown(value)}`);
  }
};

export function checkBudget(budget: Budget): Budget {
  positiveInt(budget.epochs, 'budget.epochs');
  positiveInt(budget.steps, 'budget.steps');
  const { minutes } = budget;
  if (minutes !== undefined && !(Number.isFinite(minutes) && minutes > 0)) {
    throw new PixelCNNError('ERR_ARG', `budget.minutes must be a number > 0, got ${shown(minutes)}`);
  }
  if (budget.epochs === undefined && budget.steps === undefined && minutes === undefined) {
    throw new PixelCNNError('ERR_ARG', 'the budget needs epochs, steps or minutes');
  }
  return budget;
}

/** The schedule can run on the budget (a cosine schedule needs a number of steps). */
export function checkScheduleFits(settings: TrainSettings): void {
  learningRate(settings.schedule, settings.optimizer.lr, 1, budgetSteps(settings.budget, 1));
}

/** The step budget implied by epochs and steps (the smaller), or null for minutes alone. */
export function budgetSteps(budget: Budget, batchesPerEpoch: number): number | null {
  const limits = [budget.steps, budget.epochs === undefined ? undefined : budget.epochs * batchesPerEpoch]
    .filter((v): v is number => v !== undefined);
  return limits.length ? Math.min(...limits) : null;
}
