/**
 * Options objects of the public API. A caller from JavaScript may pass anything: left
 * out (undefined or null) means no options, and anything else that is not an object (a
 * number, a string) is ERR_ARG naming the call, rather than a TypeError from deep inside.
 */
import { PixelCNNError, kindOf } from './errors';

/** `options`, or {} when it is undefined or null; ERR_ARG when it is not an object. */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new PixelCNNError('ERR_ARG', `${what} must be an object (or left out), got ${kindOf(options)}`);
  }
  return options;
}

/** ERR_ARG unless `value` is a function or left out (undefined or null). */
export function optionalFunction(value: unknown, what: string): void {
  if (value != null && typeof value !== 'function') {
    throw new PixelCNNError('ERR_ARG', `${what} must be a function (or left out), got ${typeof value}`);
  }
}

/** ERR_ARG unless `signal` is left out or works as an AbortSignal (what is used of one: aborted and its listeners). */
export function optionalSignal(signal: unknown, what: string): void {
  if (signal == null) return;
  const s = signal as Partial<AbortSignal>;
  if (typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' || typeof s.removeEventListener !== 'function') {
    throw new PixelCNNError('ERR_ARG', `${what} must be an AbortSignal (from an AbortController), or left out`);
  }
}

/**
 * Calls a progress callback. What it throws, or the promise it returns rejects with
 * (an async callback), is dropped: a progress display that fails must not stop the
 * work, nor, unhandled, the process.
 */
export function reportProgress(onProgress: ((done: number, total: number) => unknown) | null | undefined, done: number, total: number): void {
  try {
    const result = onProgress?.(done, total);
    // Any thenable, not only this realm's Promise: an async function from a vm context returns another's.
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') Promise.resolve(result).catch(() => undefined);
  } catch {
    // Dropped, as above.
  }
}

/** ERR_ARG naming the keys of `options` not in `known` (a misspelt one would be dropped without a word). */
export function refuseUnknownKeys(options: object, known: readonly string[], what: string): void {
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length > 0) throw new PixelCNNError('ERR_ARG', `unknown ${what}: ${unknown.join(', ')} (known: ${known.join(', ')})`);
}

/** The entries whose value is not undefined, so that spreading them keeps defaults. */
export function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
