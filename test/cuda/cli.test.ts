/**
 * The command line on CUDA: `info` picks it, and train → eval → sample run there,
 * agreeing with the CPU on the same checkpoint. Skips without a GPU (or the CUDA
 * emulator).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { backendReport } from '../../src';
import { cudaAvailable, tf32 } from '../helpers/cuda';
import { tinyDataset, writeIdx } from '../helpers/tiny-data';

const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe.skipIf(!cudaAvailable)('gated-pixelcnn CLI on CUDA', () => {
  it('info picks CUDA and names the device', () => {
    const result = run('info');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/backend: cuda \(a CUDA device answers\)/);
    expect(result.stdout).toContain(backendReport().candidates[0].detail);
  });

  it('trains, evaluates and samples on CUDA, as the CPU does with the same checkpoint', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cuda-cli-'));
    const trainFiles = writeIdx(dir, 'train', tinyDataset(64, 6, 3, 1));
    const testFiles = writeIdx(dir, 'test', tinyDataset(12, 6, 3, 2));
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ levels: 4, hidden: 4, layers: 2, firstKernel: 3, kernel: 3, headHidden: 4 }));
    const out = path.join(dir, 'run');
    const data = ['--dataset', 'idx', '--test-images', testFiles.images, '--test-labels', testFiles.labels];
    const trained = run('train', '--config', config, ...data, '--train-images', trainFiles.images, '--train-labels',
      trainFiles.labels, '--steps', '6', '--batch-size', '8', '--out', out, '--no-progress', '--backend', 'cuda');
    expect(trained.status, trained.stderr).toBe(0);
    const checkpoint = path.join(out, 'model.safetensors');

    const nll = (backend: string) => {
      const result = run('eval', '--checkpoint', checkpoint, ...data, '--json', '--backend', backend);
      expect(result.status, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { nll: number }).nll;
    };
    expect(Math.abs(nll('cuda') - nll('cpu')) / nll('cpu')).toBeLessThanOrEqual(tf32 ? 1e-3 : 1e-5);

    const levels = (backend: string, sampler: string) => {
      const file = path.join(dir, `${backend}-${sampler}.u8`);
      const result = run('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out',
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
