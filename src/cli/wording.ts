/** Numbers and shared phrases as the commands say them. */
import { DEFAULT_SAMPLE_BATCH } from '../sample/cached';

/** "1 step", "2 steps" ("1 class", "2 classes" with the plural given). */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** A size in MiB, with a decimal below 10 (a small run's peak is not "0 MiB"). */
export function mebibytes(bytes: number): string {
  const mib = bytes / 2 ** 20;
  return `${mib.toFixed(mib < 10 ? 1 : 0)} MiB`;
}

/** --batch-size's help in sample and complete. */
export const SAMPLE_BATCH_HELP =
  `images computed together (default: ${DEFAULT_SAMPLE_BATCH.cpu} on the CPU, ${DEFAULT_SAMPLE_BATCH.cuda} on CUDA; the naive sampler: all)`;
