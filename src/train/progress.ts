/**
 * Progress of a training run on stderr: a cli-progress bar with the loss and
 * images/s on a terminal, a plain line every 30 seconds otherwise, or nothing.
 */
import { SingleBar } from 'cli-progress';

export interface ProgressFields {
  step: number;
  totalSteps: number | null;
  epoch: number;
  loss: number;
  bitsPerDim: number;
  imagesPerSecond: number;
}

export interface ProgressReporter {
  update(fields: ProgressFields): void;
  message(text: string): void;
  stop(): void;
}

/** true: a bar; 'auto': a bar on a terminal, else a line every 30 s; false: silent. */
export function createProgress(mode: boolean | 'auto'): ProgressReporter {
  if (mode === false) return { update() {}, message() {}, stop() {} };
  return mode === true || process.stderr.isTTY ? new BarProgress() : new LineProgress();
}

class BarProgress implements ProgressReporter {
  readonly #bar = new SingleBar({
    format: '{bar} {value}/{totalLabel} steps | epoch {epoch} | loss {loss} nats ({bpd} bits/dim) | {ips} img/s | ETA {eta_formatted}',
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 50,
  });
  #started = false;

  update(f: ProgressFields): void {
    const payload = {
      totalLabel: f.totalSteps ?? '?',
      epoch: f.epoch,
      loss: f.loss.toFixed(2),
      bpd: f.bitsPerDim.toFixed(3),
      ips: f.imagesPerSecond.toFixed(0),
    };
    if (!this.#started) {
      this.#bar.start(f.totalSteps ?? f.step + 1, f.step, payload);
      this.#started = true;
    }
    if (f.totalSteps === null) this.#bar.setTotal(f.step + 1);
    this.#bar.update(f.step, payload);
  }

  message(text: string): void {
    if (this.#started) this.#bar.stop();
    this.#started = false;
    process.stderr.write(text + '\n');
  }

  stop(): void {
    if (this.#started) this.#bar.stop();
    this.#started = false;
  }
}

class LineProgress implements ProgressReporter {
  #last = 0;

  update(f: ProgressFields): void {
    const now = Date.now();
    if (now - this.#last < 30_000) return;
    this.#last = now;
    const of = f.totalSteps === null ? '' : `/${f.totalSteps}`;
    this.message(
      `step ${f.step}${of}, epoch ${f.epoch}: loss ${f.loss.toFixed(2)} nats (${f.bitsPerDim.toFixed(3)} bits/dim), ${f.imagesPerSecond.toFixed(0)} img/s`,
    );
  }

  message(text: string): void {
    process.stderr.write(text + '\n');
  }

  stop(): void {}
}
