/**
 * model.sample() for the sampling commands (sample, complete): with their progress bar,
 * and stopped cleanly by Ctrl-C or SIGTERM. Without this, a signal would kill the
 * process with the bar's terminal settings (no line wrapping) left in place.
 */
import { PixelCNNError } from '../errors';
import type { GatedPixelCNN } from '../nn/gated-pixelcnn';
import type { SampleOptions } from '../sample/options';
import { CliError } from './parse';
import { samplingProgress } from './sampling-progress';
import { STOP_SIGNALS, stopSignals, type StopSignal } from './stop-signals';

/**
 * Draws the images; the first signal aborts the sampling, which then throws ERR_ABORTED
 * with the signal's exit status and nothing written, the second quits at once.
 */
export async function sampleInterruptibly(
  model: GatedPixelCNN,
  options: Omit<SampleOptions, 'onProgress' | 'signal'> & { sampler: 'cached' | 'naive' },
  showProgress: boolean,
): Promise<{ levels: Uint8Array; seconds: number }> {
  const progress = samplingProgress(options.count, options.sampler, showProgress);
  const abort = new AbortController();
  let stoppedBy: StopSignal | null = null;
  const stop = (signal: StopSignal) => {
    if (stoppedBy) {
      progress.stop(); // gives the terminal back its line wrapping
      process.exit(STOP_SIGNALS[signal].status);
    }
    stoppedBy = signal;
    abort.abort();
  };
  const handlers = stopSignals.map((signal) => [signal, () => stop(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  let levels: Uint8Array;
  let seconds: number;
  try {
    levels = await model.sample({ ...options, onProgress: progress.onProgress, signal: abort.signal });
  } catch (error) {
    if (stoppedBy && error instanceof PixelCNNError && error.code === 'ERR_ABORTED') {
      const { shown, status } = STOP_SIGNALS[stoppedBy];
      throw new CliError(`sampling stopped by ${shown}: nothing was written`, 'ERR_ABORTED', status);
    }
    throw error;
  } finally {
    seconds = progress.stop();
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
  return { levels, seconds };
}
