/**
 * Central finite differences of a float64 scalar function. Backward passes are
 * checked against the derivative of the oracle's forward pass: the oracle is
 * exact in float64, so the differences are accurate to O(eps²).
 */
import { expectClose } from './compare';

/**
 * The gradient of loss at x, at the given coordinates (all of them by default),
 * computed by central differences. x is restored afterwards.
 */
export function numericalGradient(
  loss: (x: Float64Array) => number,
  x: Float64Array,
  coordinates: readonly number[] = [...x.keys()],
  eps = 1e-4,
): Float64Array {
  const gradient = new Float64Array(coordinates.length);
  coordinates.forEach((i, k) => {
    const saved = x[i];
    x[i] = saved + eps;
    const up = loss(x);
    x[i] = saved - eps;
    const down = loss(x);
    x[i] = saved;
    gradient[k] = (up - down) / (2 * eps);
  });
  return gradient;
}

/** Up to `count` distinct coordinates of an array of length n, spread evenly with a random start. */
export function sampleCoordinates(n: number, count: number, rng: () => number): number[] {
  if (n <= count) return [...Array(n).keys()];
  const stride = n / count;
  const start = rng() * stride;
  return Array.from({ length: count }, (_, k) => Math.floor(start + k * stride));
}

/** Dot product of a projection with an output: turns any op into a scalar loss. */
export function project(output: ArrayLike<number>, weights: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < output.length; i++) sum += output[i] * weights[i];
  return sum;
}

/**
 * Asserts that `analytic` (a native gradient of loss with respect to x) matches
 * the finite differences of `loss` at sampled coordinates.
 */
export function expectGradient(
  analytic: ArrayLike<number>,
  loss: (x: Float64Array) => number,
  x: Float64Array,
  options: { rng: () => number; samples?: number; tolerance?: number; what: string },
): void {
  const coordinates = sampleCoordinates(x.length, options.samples ?? 48, options.rng);
  const numeric = numericalGradient(loss, x, coordinates);
  const picked = coordinates.map((i) => analytic[i]);
  expectClose(picked, numeric, options.tolerance ?? 1e-4, `${options.what} gradient`);
}
