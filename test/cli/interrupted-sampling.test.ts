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
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { trainTiny } from '../helpers/cli';

const sample = GatedPixelCNN.prototype.sample;

/**
 * Runs the command in this process, sending `signal` as soon as the command listens for
 * it; its status, stderr, and how each model.sample() call ended (a sampling stopped
 * midway rejects with ERR_ABORTED; one that ran to its end would say 'finished').
 */
async function interrupted(args: string[], signal: 'SIGINT' | 'SIGTERM') {
  const listeners = process.listenerCount(signal);
  const stderr: string[] = [];
  const samplings: string[] = [];
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr.push(String(chunk));
    return true;
  });
  const spied = vi.spyOn(GatedPixelCNN.prototype, 'sample').mockImplementation(function (this: GatedPixelCNN, options) {
    return sample.call(this, options).then(
      (levels) => { samplings.push('finished'); return levels; },
      (error: { code?: string }) => { samplings.push(error.code ?? 'failed'); throw error; },
    );
  });
  try {
    const running = main(args);
    while (process.listenerCount(signal) === listeners) await new Promise((resolve) => setImmediate(resolve));
    process.emit(signal);
    const status = await running;
    return { status, stderr: stderr.join(''), listenersLeft: process.listenerCount(signal) - listeners, samplings };
  } finally {
    spied.mockRestore();
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
    expect(result.samplings).toEqual(['ERR_ABORTED']); // stopped midway, not run to its end
    expect(result.listenersLeft).toBe(0);
    expect(existsSync(out)).toBe(false);
  });
});
