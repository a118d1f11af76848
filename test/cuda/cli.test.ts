/**
 * The command line on CUDA: `info` picks it, and train → eval → sample run there,
 * agreeing with the CPU on the same checkpoint. Skips without a GPU (or the CUDA
 * emulator).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { backendReport } from '../../src';
import { runCli, trainTiny } from '../helpers/cli';
import { cudaAvailable, tf32 } from '../helpers/cuda';

describe.skipIf(!cudaAvailable)('gated-pixelcnn CLI on CUDA', () => {
  it('info picks CUDA and names the device', () => {
    const result = runCli('info');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/backend: cuda \(a CUDA device answers\)/);
    expect(result.stdout).toContain(backendReport().candidates[0].detail);
  });

  it('trains, evaluates and samples on CUDA, as the CPU does with the same checkpoint', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cuda-cli-', '--backend', 'cuda');
    expect(trained.status, trained.stderr).toBe(0);

    const nll = (backend: string) => {
      const result = runCli('eval', '--checkpoint', checkpoint, ...data, '--json', '--backend', backend);
      expect(result.status, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { nll: number }).nll;
    };
    expect(Math.abs(nll('cuda') - nll('cpu')) / nll('cpu')).toBeLessThanOrEqual(tf32 ? 1e-3 : 1e-5);

    const levels = (backend: string, sampler: string) => {
      const file = path.join(dir, `${backend}-${sampler}.u8`);
      const result = runCli('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out',
        path.join(dir, 'grid.png'), '--levels-out', file, '--no-progress', '--sampler', sampler, '--backend', backend);
      expect(result.status, result.stderr).toBe(0);
      return readFileSync(file);
    };
    const onCuda = levels('cuda', 'cached');
    expect(onCuda.length).toBe(12 * 36);
    expect(onCuda.every((v) => v < 4)).toBe(true);
    // In fp32 the draws agree exactly; TF32 may move a draw that sits on a boundary.
    if (!tf32) {
      expect(onCuda).toEqual(levels('cpu', 'cached'));
      expect(onCuda).toEqual(levels('cuda', 'naive'));
    }
  });
});
