/**
 * Ctrl-C or SIGTERM during `sample` or `complete` stops the sampling cleanly: one line
 * with ERR_ABORTED, the signal's exit status (130, 143), nothing written, and the
 * command's signal handlers gone afterwards (its progress bar stopped, so a terminal
 * gets its line wrapping back).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

import { main } from '../../src/cli/main';
import { trainTiny } from '../helpers/cli';

/** Runs the command in this process, sending `signal` as soon as the command listens for it; its status and stderr. */
async function interrupted(args: string[], signal: 'SIGINT' | 'SIGTERM') {
  const listeners = process.listenerCount(signal);
  const stderr: string[] = [];
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr.push(String(chunk));
    return true;
  });
  try {
    const running = main(args);
    while (process.listenerCount(signal) === listeners) await new Promise((resolve) => setImmediate(resolve));
    process.emit(signal);
    const status = await running;
    return { status, stderr: stderr.join(''), listenersLeft: process.listenerCount(signal) - listeners };
  } finally {
    write.mockRestore();
  }
}

describe('sampling commands stopped by a signal', () => {
  const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-interrupted-');

  it.each([
    ['sample', 'SIGINT', 'cached', 130],
    ['sample', 'SIGTERM', 'naive', 143],
    ['complete', 'SIGINT', 'naive', 130],
  ] as const)('%s with the %s sampler stops on %s with status %i and writes nothing', async (command, signal, sampler, status) => {
    expect(trained.status, trained.stderr).toBe(0);
    const out = path.join(dir, `${command}-${sampler}-${signal}.png`);
    const what = command === 'sample'
      ? ['--labels', '0-2', '--per-label', '200']
      : [...data, '--images', '12', '--per-image', '50'];
    const result = await interrupted([command, '--checkpoint', checkpoint, ...what, '--sampler', sampler, '--out', out, '--no-progress'], signal);
    expect(result.stderr).toMatch(new RegExp(`sampling stopped by ${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'}: nothing was written \\(ERR_ABORTED\\)`));
    expect(result.status).toBe(status);
    expect(result.listenersLeft).toBe(0);
    expect(existsSync(out)).toBe(false);
  });
});
