/**
 * Learning-rate schedules against values worked out here from their definitions:
 * linear warm-up, then constant, cosine down to finalFraction, or step decay by gamma.
 */
import { describe, expect, it } from 'vitest';

import { checkSchedule, learningRate, type Schedule } from '../../src/optim/schedule';

const base = 1e-3;
const rates = (schedule: Schedule, total: number | null, steps: number[]) => steps.map((step) => learningRate(schedule, base, step, total));

describe('learningRate', () => {
  it('warms up linearly from 0 to the base rate, then keeps it (constant)', () => {
    expect(rates({ kind: 'constant', warmupSteps: 4 }, 10, [1, 2, 3, 4, 5, 10])).toEqual([0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3]);
    // Without warm-up, step 0 (before the first) has the base rate, not 0 / 0.
    expect(learningRate({ kind: 'constant' }, base, 0, 10)).toBe(base);
  });

  it('follows a half cosine from the base rate after warm-up down to finalFraction of it at the last step', () => {
    const schedule: Schedule = { kind: 'cosine', warmupSteps: 2, finalFraction: 0.1 };
    const floor = 0.1 * base;
    // After 2 warm-up steps, 8 steps of cosine: progress (step − 2) / 8.
    const expected = [1, 2, 4, 6, 9, 10].map((step) => step <= 2
      ? (base * step) / 2
      : floor + ((base - floor) * (1 + Math.cos((Math.PI * (step - 2)) / 8))) / 2);
    const got = rates(schedule, 10, [1, 2, 4, 6, 9, 10]);
    got.forEach((rate, k) => expect(rate).toBeCloseTo(expected[k], 15));
    expect(got[3]).toBeCloseTo((base + floor) / 2, 15); // halfway: the mean of the two ends
    expect(got[5]).toBeCloseTo(floor, 15);
    expect(learningRate(schedule, base, 12, 10)).toBeCloseTo(floor, 15); // past the end it stays at the floor
    // finalFraction left out: 0.01.
    expect(learningRate({ kind: 'cosine' }, base, 10, 10)).toBeCloseTo(0.01 * base, 15);
    // A budget of warm-up alone: the cosine never starts.
    expect(learningRate({ kind: 'cosine', warmupSteps: 5 }, base, 5, 5)).toBe(base);
  });

  it('multiplies the rate by gamma every stepSize steps after warm-up (step)', () => {
    const got = rates({ kind: 'step', warmupSteps: 1, stepSize: 3, gamma: 0.5 }, null, [1, 2, 3, 4, 5, 7, 10]);
    // gamma ^ ⌊(step − warm-up) / stepSize⌋: ×1 at steps 2–3, ×0.5 at 4–6, ×0.25 at 7–9, ×0.125 at 10.
    expect(got).toEqual([1e-3, 1e-3, 1e-3, 0.5e-3, 0.5e-3, 0.25e-3, 0.125e-3]);
    // Defaults: stepSize 1000, gamma 0.5.
    expect(rates({ kind: 'step' }, null, [999, 1000, 2000])).toEqual([1e-3, 0.5e-3, 0.25e-3]);
  });

  it('needs a known total for the cosine schedule', () => {
    expect(() => learningRate({ kind: 'cosine' }, base, 3, null)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});

describe('checkSchedule', () => {
  it('takes decaying settings at their ends', () => {
    for (const schedule of [
      { kind: 'cosine', finalFraction: 0 }, { kind: 'cosine', finalFraction: 1 },
      { kind: 'step', gamma: 1 }, { kind: 'step', gamma: 1e-9, stepSize: 1 }, { kind: 'constant', warmupSteps: 0 },
    ] as Schedule[]) expect(() => checkSchedule(schedule)).not.toThrow();
  });

  it.each([
    [{ kind: 'cosine', finalFraction: 1.5 }, /finalFraction must be a number ≥ 0 and ≤ 1, got 1.5/],
    [{ kind: 'cosine', finalFraction: -0.1 }, /finalFraction must be a number ≥ 0 and ≤ 1/],
    [{ kind: 'cosine', finalFraction: Number.NaN }, /finalFraction must be/],
    [{ kind: 'step', gamma: 0 }, /gamma must be a number above 0 and ≤ 1, got 0/],
    [{ kind: 'step', gamma: 2 }, /gamma must be a number above 0 and ≤ 1, got 2/],
    [{ kind: 'step', gamma: '0.5' }, /gamma must be/],
    [{ kind: 'step', stepSize: 0 }, /stepSize must be an integer ≥ 1/],
    [{ kind: 'constant', warmupSteps: -1 }, /warmupSteps must be a finite number ≥ 0/],
  ])('refuses %o', (schedule, message) => {
    expect(() => checkSchedule(schedule as unknown as Schedule)).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(message) }));
  });
});
