/**
 * Writing a command's outputs in turn. Each file is written whole or not at all (atomic
 * writes), but not the set: a failure after some are in place says which they are.
 */
import { PixelCNNError } from '../errors';
import { CliError } from './parse';

/** Runs `write`, which adds each output to `written` once it is in place; returns them. */
export function writeInTurn(write: (written: string[]) => void): string[] {
  const written: string[] = [];
  try {
    write(written);
  } catch (error) {
    if (written.length === 0 || !(error instanceof PixelCNNError)) throw error;
    throw new CliError(`${error.message} (already written: ${written.join(', ')})`, error.code);
  }
  return written;
}
