/** The progress bar of the sampling commands (sample, complete): rows or positions done, images/s. */
import { SingleBar } from 'cli-progress';

/**
 * `onProgress` for model.sample() drawing `count` images, which shows a bar on
 * `stream` when `show` and the stream is a terminal; `stop()` ends it and returns the
 * seconds since it was made.
 */
export function samplingProgress(count: number, sampler: 'cached' | 'naive', show: boolean, stream: NodeJS.WriteStream = process.stderr) {
  const unit = sampler === 'naive' ? 'positions' : 'rows';
  const bar = show && stream.isTTY
    ? new SingleBar({ format: `sampling {bar} {percentage}% | {value}/{total} ${unit} | {ips} images/s | ETA {eta_formatted}`, stream })
    : null;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let shown = false;
  return {
    onProgress(done: number, total: number): void {
      const ips = ((count * done) / total / seconds()).toFixed(2);
      // The first report may be several rows in (the native worker merges reports): the
      // bar starts there, so that it never shows a rate beside 0 rows done.
      if (!shown) bar?.start(total, done, { ips });
      shown = true;
      bar?.update(done, { ips });
    },
    stop(): number {
      bar?.stop();
      return seconds();
    },
  };
}
