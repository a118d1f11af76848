/**
 * Class names: the name of each label 0..N−1 of a class-conditional dataset or model
 * (an image folder's class folders, in name order). Optional everywhere; where present,
 * one distinct non-empty string per class, checked here for datasets, models and
 * checkpoints alike.
 */
import { PixelCNNError, type ErrorCode } from '../errors';

/** `names` checked against `classes` and copied, or null when absent; `code` and `what` make the error. */
export function checkClassNames(
  names: unknown, classes: number, code: ErrorCode, what: string,
): readonly string[] | null {
  if (names === undefined || names === null) return null;
  const fail = (why: string) => new PixelCNNError(code, `${what}: class names ${why}`);
  if (!Array.isArray(names)) throw fail(`must be an array of strings, got ${typeof names}`);
  if (classes === 0) throw fail('are given, but there are no classes');
  if (names.length !== classes) throw fail(`must name each of the ${classes} classes, got ${names.length}`);
  const bad = names.findIndex((name) => typeof name !== 'string' || name.length === 0);
  if (bad >= 0) throw fail(`must be non-empty strings, got ${JSON.stringify(names[bad])} for class ${bad}`);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw fail(`must differ, but ${JSON.stringify(repeated)} names two classes`);
  return Object.freeze([...(names as string[])]);
}

/** Whether two optional lists of class names say the same (absent agrees with anything). */
export function sameClassNames(a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean {
  return !a || !b || (a.length === b.length && a.every((name, i) => name === b[i]));
}

/** "0 cat, 1 dog, …": the labels and their names, for messages. */
export function describeClassNames(names: readonly string[]): string {
  return names.map((name, label) => `${label} ${shownClassName(name)}`).join(', ');
}

/**
 * A class name as a list shows it: as it is, or quoted where it would not read as one
 * name there (a comma, a quote, spaces at its ends, an empty name).
 */
export function shownClassName(name: string): string {
  return /^[^\s,"](?:[^,"]*[^\s,"])?$/.test(name) ? name : JSON.stringify(name);
}
