/**
 * The JSON-lines metrics log: one object per line, each with a `step`. When a run
 * resumes from a checkpoint, lines past the checkpoint's step are dropped, so the
 * log reads as if the run had never been interrupted; a new run drops them all. The
 * lines go at the run's first write, not when it starts, so that a run which fails
 * before it logs anything (a refused option, an abort) leaves the old log as it was.
 * A line is appended whole or not at all, so that readers of a log whose disk filled
 * up do not meet half a line.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';

import { PixelCNNError } from '../errors';
import { writeFileAtomicSync } from '../io/atomic-write';

export class MetricsLog {
  #keepThrough: number | null;

  /** `keepThrough`: the step the run starts from (0 for a new run); later lines are dropped. */
  constructor(readonly path: string, keepThrough: number) {
    this.#keepThrough = keepThrough;
  }

  write(entry: { type: string; step: number } & Record<string, unknown>): void {
    if (this.#keepThrough !== null) {
      this.#truncateAfter(this.#keepThrough);
      this.#keepThrough = null;
    }
    this.#io('write', () => this.#append(JSON.stringify(entry) + '\n'));
  }

  /** Appends a whole line or, when the write fails partway (a full disk), nothing. */
  #append(line: string): void {
    const fd = openSync(this.path, 'a');
    try {
      const end = fstatSync(fd).size;
      try {
        writeFileSync(fd, line);
      } catch (error) {
        try {
          ftruncateSync(fd, end);
        } catch {
          // The error worth reporting is the write's; a resume drops a cut line anyway.
        }
        throw error;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Keeps the entries up to and including `step`. */
  #truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const kept = this.#io('read', () => readFileSync(this.path, 'utf8'))
      .split('\n')
      .filter((line) => {
        if (!line.trim()) return false;
        try {
          return (JSON.parse(line) as { step: number }).step <= step;
        } catch {
          return false; // a line cut short by a kill
        }
      });
    writeFileAtomicSync(this.path, kept.map((line) => line + '\n').join(''));
  }

  #io<T>(verb: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw new PixelCNNError('ERR_IO', `could not ${verb} ${this.path}: ${(error as Error).message}`, { cause: error });
    }
  }
}
