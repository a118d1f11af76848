/**
 * Learning-rate schedules: a pure function of the step, so that a resumed run
 * gets exactly the rates an uninterrupted one would have.
 */
import { PixelCNNError, shown } from '../errors';
import { refuseUnknownKeys } from '../options';

export type ScheduleKind = 'constant' | 'cosine' | 'step';

export interface Schedule {
  kind: ScheduleKind;
  /** Steps of linear warm-up from 0 to the base rate (default 0). */
  warmupSteps?: number;
  /** cosine: the rate reached at the last step, as a fraction of the base rate, 0…1 (default 0.01). */
  finalFraction?: number;
  /** step: multiply the rate by `gamma` (above 0, at most 1) every `stepSize` steps. */
  stepSize?: number;
  gamma?: number;
}

/** What a schedule that leaves a field out means by it. */
export const SCHEDULE_DEFAULTS = { warmupSteps: 0, finalFraction: 0.01, stepSize: 1000, gamma: 0.5 } as const;

/** The learning rate for 1-based `step` of `totalSteps` (cosine needs a known total). */
export function learningRate(schedule: Schedule, baseLr: number, step: number, totalSteps: number | null): number {
  const warmup = schedule.warmupSteps ?? SCHEDULE_DEFAULTS.warmupSteps;
  if (warmup > 0 && step <= warmup) return (baseLr * step) / warmup;
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'cosine': {
      if (totalSteps === null) {
        throw new PixelCNNError('ERR_ARG', 'the cosine schedule needs a budget in steps or epochs, not minutes');
      }
      const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
      const floor = baseLr * (schedule.finalFraction ?? SCHEDULE_DEFAULTS.finalFraction);
      return floor + ((baseLr - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
    }
    case 'step':
      return baseLr * (schedule.gamma ?? SCHEDULE_DEFAULTS.gamma) ** Math.floor((step - warmup) / (schedule.stepSize ?? SCHEDULE_DEFAULTS.stepSize));
    default:
      throw new PixelCNNError('ERR_ARG', `unknown schedule ${String((schedule as Schedule).kind)}`);
  }
}

export function checkSchedule(schedule: Schedule): void {
  const nonNegative = (value: number | undefined, what: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new PixelCNNError('ERR_ARG', `schedule ${what} must be a finite number ≥ 0, got ${shown(value)}`);
    }
  };
  if (typeof schedule !== 'object' || schedule === null) throw new PixelCNNError('ERR_ARG', `schedule must be an object ({ kind, ... }), got ${shown(schedule)}`);
  refuseUnknownKeys(schedule, ['kind', ...Object.keys(SCHEDULE_DEFAULTS)], 'schedule settings');
  if (!['constant', 'cosine', 'step'].includes(schedule.kind)) {
    throw new PixelCNNError('ERR_ARG', `schedule must be constant, cosine or step, got ${shown(schedule.kind)}`);
  }
  nonNegative(schedule.warmupSteps, 'warmupSteps');
  // Both schedules decay: a fraction above 1 would raise the rate past the one asked
  // for, and a gamma of 0 would stop training silently after the first stepSize steps.
  const fraction = (value: number | undefined, what: string, zeroAllowed: boolean) => {
    if (value === undefined) return;
    if (!(typeof value === 'number' && (zeroAllowed ? value >= 0 : value > 0) && value <= 1)) {
      throw new PixelCNNError('ERR_ARG', `schedule ${what} must be a number ${zeroAllowed ? '≥ 0' : 'above 0'} and ≤ 1, got ${shown(value)}`);
    }
  };
  fraction(schedule.finalFraction, 'finalFraction', true);
  fraction(schedule.gamma, 'gamma', false);
  if (schedule.stepSize !== undefined && !(Number.isSafeInteger(schedule.stepSize) && schedule.stepSize >= 1)) {
    throw new PixelCNNError('ERR_ARG', `schedule stepSize must be an integer ≥ 1, got ${shown(schedule.stepSize)}`);
  }
}
