/**
 * The command-line tool: bad arguments end with one line of explanation and a
 * non-zero status, never a stack trace; train → eval → sample works end to end.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { tinyDataset, writeIdx } from '../helpers/tiny-data';

const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('gated-pixelcnn CLI', () => {
  it.each([
    [['train', '--preset', 'nope', '--steps', '1'], /unknown preset "nope"/],
    [['train', '--steps', '0'], /--steps must be an integer ≥ 1/],
    [['train', '--lr', 'fast'], /--lr must be a number > 0/],
    [['train', '--dataset', 'imagenet'], /unknown dataset "imagenet"/],
    [['eval', '--checkpoint', '/nonexistent/model.safetensors'], /cannot read checkpoint .*ERR_IO/],
    [['sample'], /required option '--checkpoint <file>'/],
    [['sample', '--checkpoint', 'x', '--labels', '9-3'], /runs backwards/],
    [['sample', '--checkpoint', 'x', '--temperature', '-1'], /--temperature must be a number > 0/],
    [['frobnicate'], /unknown command/],
  ])('%j fails with one line of explanation', (args, message) => {
    const result = run(...args);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('info names the backend and why', () => {
    const result = run('info');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/backend: cpu \(/);
    expect(result.stdout).toMatch(/oneDNN/);
  });

  it('trains, evaluates and samples a grid end to end', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-'));
    const trainFiles = writeIdx(dir, 'train', tinyDataset(64, 6, 3, 1));
    const testFiles = writeIdx(dir, 'test', tinyDataset(12, 6, 3, 2));
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ levels: 4, hidden: 4, layers: 2, firstKernel: 3, kernel: 3, headHidden: 4 }));
    const out = path.join(dir, 'run');
    const data = ['--dataset', 'idx', '--test-images', testFiles.images, '--test-labels', testFiles.labels];
    const trained = run('train', '--config', config, ...data, '--train-images', trainFiles.images, '--train-labels', trainFiles.labels, '--steps', '6', '--batch-size', '8', '--out', out, '--no-progress');
    expect(trained.status, trained.stderr).toBe(0);
    const checkpoint = path.join(out, 'model.safetensors');
    expect(existsSync(checkpoint)).toBe(true);

    const evaluated = run('eval', '--checkpoint', checkpoint, ...data, '--json');
    expect(evaluated.status, evaluated.stderr).toBe(0);
    const report = JSON.parse(evaluated.stdout) as { nll: number; bitsPerDim: number; images: number };
    expect(report.images).toBe(12);
    expect(report.bitsPerDim).toBeCloseTo(report.nll / (36 * Math.LN2), 10);

    const grid = path.join(dir, 'grid.png');
    const sampled = run('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out', grid, '--no-progress');
    expect(sampled.status, sampled.stderr).toBe(0);
    const png = PNG.sync.read(readFileSync(grid));
    // 3 rows of 4 images, 6×6 scaled ×2, 2-pixel gaps.
    expect([png.width, png.height]).toEqual([4 * 12 + 3 * 2, 3 * 12 + 2 * 2]);
    // The naive sampler, per-class grids and raw levels with their sidecar.
    const levelsFile = path.join(dir, 'out', 'levels.u8');
    const naive = run('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out', grid, '--no-progress', '--sampler', 'naive', '--per-class', '--levels-out', levelsFile);
    expect(naive.status, naive.stderr).toBe(0);
    for (const y of [0, 1, 2]) expect(existsSync(path.join(dir, `grid-${y}.png`))).toBe(true);
    const sidecar = JSON.parse(readFileSync(`${levelsFile}.json`, 'utf8')) as { count: number; levels: number; labels: number[]; layout: string };
    expect(sidecar).toMatchObject({ count: 12, levels: 4, layout: 'NCHW', labels: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2] });
    const levels = readFileSync(levelsFile);
    expect(levels.length).toBe(12 * 36);
    expect(levels.every((v) => v < 4)).toBe(true);
    // Same seed: the cached sampler (default) draws what the naive one drew.
    const cachedLevels = path.join(dir, 'cached.u8');
    expect(run('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out', grid, '--levels-out', cachedLevels).status).toBe(0);
    expect(readFileSync(cachedLevels)).toEqual(levels);
    expect(run('sample', '--checkpoint', checkpoint, '--sampler', 'fast').stderr).toMatch(/--sampler must be cached or naive/);

    const unknownLabel = run('sample', '--checkpoint', checkpoint, '--labels', '7', '--out', grid);
    expect(unknownLabel.status).toBe(1);
    expect(unknownLabel.stderr).toMatch(/label 7 is outside/);
  });
});
