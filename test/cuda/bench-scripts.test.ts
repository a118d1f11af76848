/**
 * The GPU benchmark scripts that scripts/device-check.sh runs work end to end on a
 * small model, so that a rare run on a GPU is not lost to a mistake in them: gpu.mjs
 * measures ours (PyTorch's side may fail where its build has no CUDA, and is then
 * recorded as an error), train-steps.mjs runs a fixed number of steps, host-times.mjs
 * reports the host time per step of each native function, host-calls.mjs the host and
 * device time of single ops, and sample-once.mjs samples one batch. Skips
 * without a GPU (or the CUDA emulator).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadBackend } from '../../src/backend/load';
import { cudaAvailable } from '../helpers/cuda';

const scripts = path.resolve(__dirname, '..', '..', 'scripts', 'bench');
const small = { channels: 1, height: 8, width: 8, levels: 4, hidden: 8, layers: 2, firstKernel: 3, kernel: 3, skip: 8, headHidden: 8, classes: 10 };

describe.skipIf(!cudaAvailable)('GPU benchmark scripts', () => {
  it('gpu.mjs measures our training and sampling and writes its result', () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpcnn-bench-')), 'bench.json');
    const run = spawnSync(process.execPath, [path.join(scripts, 'gpu.mjs'), out, '--seconds', '0.2',
      '--sample-batch', '4', '--models', JSON.stringify({ small })], { encoding: 'utf8', timeout: 170_000 });
    const result = JSON.parse(readFileSync(out, 'utf8'));
    const [row] = result.rows;
    expect(row.oursError, run.stderr).toBeUndefined();
    expect(row.ours).toBeGreaterThan(0);
    expect(row.oursReplayed).toBe(true); // the steps timed were captured graphs
    expect(row.oursEager).toBeGreaterThan(0);
    for (const part of ['forward', 'forwardBackward', 'step']) expect(row.breakdownMs[part]).toBeGreaterThan(0);
    // A training step holds at least the parameters, their gradients and Adam's two moments.
    const parameterBytes = 4 * 4 * 2000;
    expect(row.memory.ours.peakAllocated).toBeGreaterThan(parameterBytes);
    expect(row.memory.ours.peakReserved).toBeGreaterThanOrEqual(row.memory.ours.peakAllocated);
    // Each design, with how it ran (in a process of its own): clusters where the device
    // has them (sm_90), cuBLAS where the addon was built with it, else the defaults.
    const { computeCapability, cublas } = loadBackend('cuda').features;
    const [cluster, products] = [Number(computeCapability) >= 9 ? 'cluster' : 'graph', cublas === true ? 'cublas' : 'cudnn'];
    const designs = {
      oursCached: ['tile', products], oursCachedGraph: ['graph', products], oursCachedCudnn: ['tile', 'cudnn'],
      oursCachedCluster: [cluster, products], oursCached2Jobs: ['tile', products], oursCachedTile4: ['tile', products],
      oursCachedTile8: ['tile', products],
    };
    for (const [design, [positions, vertical]] of Object.entries(designs)) {
      expect(result.sampling[0][design], design).toBeGreaterThan(0);
      expect(result.sampling[0][`${design}Ran`]).toMatchObject({ design: positions, vertical });
    }
    // Only PyTorch's side may have failed (a build without CUDA), and then it says why.
    const torchFailed = row.torchError !== undefined || result.sampling[0].torchNaiveError !== undefined;
    expect(run.status).toBe(torchFailed ? 1 : 0);
    // A whole benchmark run with PyTorch's side: 46 s on the emulator in CI, 65 s in its AddressSanitizer build.
  }, 180_000);

  it('train-steps.mjs runs a fixed number of training steps', () => {
    execFileSync(process.execPath, [path.join(scripts, 'train-steps.mjs'), JSON.stringify(small), '4', '2', 'cuda'], { timeout: 60_000 });
  });

  it('host-times.mjs reports the host time per training step of each native function (GATED_PIXELCNN_HOST_TIMING)', () => {
    const output = execFileSync(process.execPath, [path.join(scripts, 'host-times.mjs'), JSON.stringify(small), '4', '1', '3', 'cuda'], { encoding: 'utf8', timeout: 60_000 });
    expect(output).toMatch(/^host time in native calls per training step \(.*steps 1 to 3\): -?[0-9.]+ ms$/m);
    // A step of 2 blocks has at least 4 convolutions a block (v, h, vh, skip; res below the last).
    const conv = output.match(/^ +-?[0-9.]+ +([0-9.]+) +-?[0-9.]+  convForward$/m);
    expect(conv, output).not.toBeNull();
    expect(Number(conv![1])).toBeGreaterThanOrEqual(8);
  });

  it('host-calls.mjs times the host and the whole of single ops', () => {
    const output = execFileSync(process.execPath, [path.join(scripts, 'host-calls.mjs'), 'cuda', '2', '2', '4', '5'], { timeout: 60_000 }).toString();
    for (const op of ['conv2d 1×1 (vh)', 'conv2dBackwardWeights 2×3, padded, with bias', 'gateBackward (no terms)', 'add'])
      expect(output, output).toMatch(new RegExp(`^ +[0-9.]+ +[0-9.]+  ${op.replace(/[()×]/g, '.')}$`, 'm'));
  });

  it('sample-once.mjs samples one batch, or several, each timed', () => {
    const sampleOnce = (...args: string[]) =>
      execFileSync(process.execPath, [path.join(scripts, 'sample-once.mjs'), JSON.stringify(small), '3', 'cuda', ...args], { timeout: 60_000 }).toString();
    const products = loadBackend('cuda').features.cublas === true ? 'cublas' : 'cudnn';
    expect(sampleOnce()).toMatch(new RegExp(`^sampled 3 images in [0-9.]+ s \\([0-9.]+ images/s; tile of 2 images, vertical ${products}; [0-9.]+ ms a row, -?[0-9.]+ ms before the first, [0-9.]+ ms after the last\\)\n$`));
    expect(sampleOnce('2').match(/^sampled 3 images in /gm)).toHaveLength(2);
    const lines = sampleOnce('2', '--json').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatchObject({ imagesPerSecond: expect.any(Number), design: 'tile', vertical: products, clusterImages: 2, rowGraph: true, captureRefused: '' });
      // The rows' times and the call's setup and tail add up to the whole.
      expect(line.rowMs).toBeGreaterThan(0);
      expect(line.setupMs + small.height * line.rowMs + line.tailMs).toBeCloseTo(line.seconds * 1000, 6);
    }
  });
});
