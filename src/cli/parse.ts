/** Parsers for command-line values: each throws a CliError with a one-line explanation. */
import * as path from 'node:path';

import type { BackendName } from '../backend/load';
import { PixelCNNError, type ErrorCode } from '../errors';

/**
 * What ends a command with a one-line message: a bad command line (a flag's value, flags
 * that do not go together: ERR_ARG unless said), and the exit status it asks for.
 */
export class CliError extends PixelCNNError {
  constructor(message: string, code: ErrorCode = 'ERR_ARG', readonly exitStatus = 1) {
    super(code, message);
    this.name = 'CliError';
  }
}

export function integer(name: string, min = 0): (value: string) => number {
  return (value) => {
    // Decimal digits only: Number() would also read '' as 0 and take '0x10' or '1e3'.
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new CliError(`${name} must be an integer from ${min} to 2^53 − 1, got "${value}"`);
    return n;
  };
}

export function positiveNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${name} must be a number > 0, got "${value}"`);
    return n;
  };
}

/** One of `choices`, named so in the refusal ("--backend must be auto, cpu or cuda"). */
export function oneOf<Choice extends string>(flag: string, choices: readonly Choice[]): (value: string) => Choice {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new CliError(`${flag} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, got "${value}"`);
    }
    return value as Choice;
  };
}

/** A backend's name, as `--backend` takes it. */
export const backendName = oneOf<BackendName>('--backend', ['auto', 'cpu', 'cuda']);

export const samplerKind = oneOf('--sampler', ['cached', 'naive'] as const);

/** A number strictly between 0 and 1 (a decay). */
export function unitInterval(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!(value.trim() !== '' && n > 0 && n < 1)) throw new CliError(`${name} must be a number between 0 and 1, got "${value}"`);
    return n;
  };
}

export function nonNegativeNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new CliError(`${name} must be a number ≥ 0, got "${value}"`);
    return n;
  };
}

/** Refuses an output file whose name does not end in `extension` (".png"): the name keeps it off files of other kinds. */
export function requireExtension(flag: string, file: string, extension: string, what: string): void {
  if (!file.toLowerCase().endsWith(extension)) throw new CliError(`${flag} writes ${what}: give a file name ending in ${extension}, got "${file}"`);
}

/** A file flag's value: not empty (that names the working folder, or nothing, never what was meant), nor a folder's name (a trailing /). */
export function fileName(flag: string): (value: string) => string {
  const once = givenOnce(flag);
  return (value) => {
    once(value);
    if (value === '') throw new CliError(`${flag} needs a file name, got ""`);
    // Refused before any work: a write would make the folder and fail after it.
    if (value.endsWith('/') || value.endsWith(path.sep)) throw new CliError(`${flag} needs a file name, got the folder name "${value}"`);
    return value;
  };
}

/** A folder flag's value: not empty. */
export function folderName(flag: string): (value: string) => string {
  const once = givenOnce(flag);
  return (value) => {
    once(value);
    if (value === '') throw new CliError(`${flag} needs a folder name, got ""`);
    return value;
  };
}

/**
 * A check that a file or folder flag is given once: commander keeps the last of a
 * repeated flag, and a second --train-images or --out would silently replace the first.
 */
function givenOnce(flag: string): (value: string) => void {
  let first: string | undefined;
  return (value) => {
    if (first !== undefined) throw new CliError(`${flag} was given twice ("${first}", then "${value}"): give it once`);
    first = value;
  };
}

/** Comma-separated file names, none of them empty; a repeated flag adds its names to the earlier ones'. */
export function pathList(flag: string): (value: string, earlier?: string[]) => string[] {
  return (value, earlier) => {
    const names = value.split(',');
    if (names.includes('')) throw new CliError(`${flag} takes comma-separated file names, none of them empty, got "${value}"`);
    return [...(earlier ?? []), ...names];
  };
}
