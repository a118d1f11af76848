/**
 * Errors thrown by gated-pixelcnn. Every error has a stable `code`, shared with the
 * native addon (native/core/errors.h's codes), so callers can branch on it instead of
 * parsing messages.
 */
export type ErrorCode =
  | 'ERR_SHAPE' // tensor shapes do not fit the op
  | 'ERR_DTYPE' // wrong element type
  | 'ERR_LENGTH' // array length does not match a shape
  | 'ERR_DISPOSED' // tensor used after dispose()
  | 'ERR_RANGE' // a label or level outside its range
  | 'ERR_ARG' // a bad scalar argument (NaN, negative, ...)
  | 'ERR_TYPE' // a value of the wrong type
  | 'ERR_BACKEND' // a backend is unavailable or its library failed
  | 'ERR_OOM' // a host allocation failed
  | 'ERR_CUDA' // a CUDA or cuDNN call or a kernel failed
  | 'ERR_CUDA_OOM' // device memory ran out
  | 'ERR_CONFIG' // a model configuration breaks SPEC.md §2
  | 'ERR_CHECKPOINT' // a checkpoint file is malformed or does not fit the model
  | 'ERR_DATA' // a dataset file is malformed
  | 'ERR_IO' // a file could not be read or written
  | 'ERR_ABORTED' // the caller's AbortSignal stopped the work
  | 'ERR_BUSY' // another training run is writing to the folder
  | 'ERR_DIVERGED' // training's loss or gradients became NaN or infinite
  | 'ERR_INTERNAL'; // a bug: please report it

export class PixelCNNError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PixelCNNError';
    this.code = code;
  }
}

/** Runs a native call, re-throwing its errors as PixelCNNError with the caller's stack. */
export function callNative<T>(what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_')) {
      throw new PixelCNNError(code as ErrorCode, `${what}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * A value for an error message: strings quoted, so that '4' and 4 read differently ("got
 * '4'" where a number belongs), and a whole number too large to be exact said to be so
 * (an integer check refuses it, and "must be an integer, got 1152921504606847000" reads
 * as a contradiction).
 */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return `${String(value)}, beyond the largest exact integer 2^53 − 1`;
  return String(value);
}

/** What kind of value a caller passed where another belongs, for a message: "null", "a Uint8Array", "an array", "number". */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return typeof value;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object';
}
