/**
 * The sampling commands' progress bar shows from the first report, whatever row it
 * reports (the native worker merges reports, so the first may be several rows in),
 * and only on a terminal.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { samplingProgress } from '../../src/cli/sampling-progress';

/** A stream that says it is a terminal, and what was written to it. */
function fakeTerminal(isTTY: boolean): { stream: NodeJS.WriteStream; written: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 120, cursorTo() {}, clearLine() {}, moveCursor() {} });
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, written: () => chunks.join('') };
}

describe('samplingProgress', () => {
  it('draws the bar from a first report three rows in', async () => {
    const terminal = fakeTerminal(true);
    const progress = samplingProgress(8, 'cached', true, terminal.stream);
    progress.onProgress(3, 28);
    progress.onProgress(28, 28);
    expect(progress.stop()).toBeGreaterThanOrEqual(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(terminal.written()).toMatch(/sampling .* 28\/28 rows/);
    expect(terminal.written()).not.toMatch(/ 0\/28 rows/); // no rate beside nothing done
  });

  it('draws nothing off a terminal, or when not asked to', async () => {
    for (const [isTTY, show] of [[false, true], [true, false]]) {
      const terminal = fakeTerminal(isTTY);
      const progress = samplingProgress(8, 'naive', show, terminal.stream);
      progress.onProgress(5, 10);
      progress.stop();
      await new Promise((resolve) => setImmediate(resolve));
      expect(terminal.written()).toBe('');
    }
  });
});
