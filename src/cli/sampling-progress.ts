/** The progress bar of the sampling commands (sample, complete): rows or positions done, images/s. */
import { SingleBar } from 'cli-progress';

/**
 * `onProgress` for model.sample() drawing `count` images, which shows a bar on a
 * terminal when `show`; `stop()` ends it. Returns the seconds since it was made.
 */
export function samplingProgress(count: number, sampler: 'cached' | 'naive', show: boolean) {
  const unit = sampler === 'naive' ? 'positions' : 'rows';
  const bar = show && process.stderr.isTTY
    ? new SingleBar({ format: `sampling {bar} {percentage}% | {value}/{total} ${unit} | {ips} images/s | ETA {eta_formatted}`, stream: process.stderr })
    : null;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  return {
    onProgress(done: number, total: number): void {
      const ips = ((count * done) / total / seconds()).toFixed(2);
      if (done === 1) bar?.start(total, 0, { ips });
      bar?.update(done, { ips });
    },
    stop(): number {
      bar?.stop();
      return seconds();
    },
  };
}
