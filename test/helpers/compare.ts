/** Comparing native results with the float64 oracle by normalized error, as ggml's test-backend-ops does. */
import { expect } from 'vitest';

/** ‖actual − expected‖ / ‖expected‖ (absolute error when expected is all zeros). */
export function normalizedError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff) / (norm > 0 ? Math.sqrt(norm) : 1);
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance = 1e-5,
  what = 'result',
): void {
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i])) throw new Error(`${what}[${i}] is ${actual[i]}`);
  }
  const error = normalizedError(actual, expected);
  expect(error, `${what}: normalized error ${error.toExponential(2)}`).toBeLessThanOrEqual(
    tolerance,
  );
}
