/**
 * Options objects of the public API. A caller from JavaScript may pass anything: left
 * out (undefined) means no options, and anything that is not an object (null, a number)
 * is ERR_ARG naming the call, rather than a TypeError from deep inside it.
 */
import { PixelCNNError } from './errors';

/** `options`, or {} when it is undefined; ERR_ARG when it is not an object. */
export function optionsObject<T extends object>(options: T | undefined, what: string): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const got = options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options;
    throw new PixelCNNError('ERR_ARG', `${what} must be an object (or left out), got ${got}`);
  }
  return options;
}

/** ERR_ARG unless `value` is a function or undefined. */
export function optionalFunction(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new PixelCNNError('ERR_ARG', `${what} must be a function (or left out), got ${value === null ? 'null' : typeof value}`);
  }
}
