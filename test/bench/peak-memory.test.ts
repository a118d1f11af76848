/**
 * The memory benchmark's two sides measure something: ours
 * (scripts/bench/peak-memory.mjs, in a fresh process) reports our allocator's peak
 * (in training at least the parameters, gradients and Adam's moments; in sampling at
 * least the weights) and the resident memory grown; PyTorch's (scripts/torch/bench.py)
 * reports its resident memory grown, where python3 imports torch. Both run from a
 * parent holding a large ballast, which a child's getrusage() maxrss would report as
 * its own peak.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src';
import { shapeSize } from '../../src/nn/layout';

const root = path.resolve(__dirname, '..', '..');
const config = {
  channels: 1, height: 12, width: 12, levels: 4, hidden: 16, layers: 2, firstKernel: 3, kernel: 3, skip: 16,
  headHidden: 8, classes: 10, condDim: 0, spatialCond: 0,
};
const hasTorch = spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const MiB = 2 ** 20;

/** Runs `spawn` while this process holds 1 GiB more resident memory than either child grows by. */
function withBallast<T>(spawn: () => T): T {
  const ballast = Buffer.alloc(1024 * MiB, 1);
  try {
    return spawn();
  } finally {
    ballast.fill(0, 0, 1); // kept alive until the child is done
  }
}

function parameterBytes(): number {
  const model = GatedPixelCNN.create(config, { seed: 0, backend: 'cpu' });
  const count = model.parameters.list().reduce((sum, p) => sum + shapeSize(p.value.shape), 0);
  model.dispose();
  return 4 * count;
}

const script = path.join(root, 'scripts', 'bench', 'peak-memory.mjs');

describe('memory benchmark', () => {
  it.each([
    ['training', ['train', JSON.stringify(config), '8', '2', 'cpu'], 4],
    ['sampling', ['sample', JSON.stringify(config), '8', '0', 'cpu'], 1],
  ])("peak-memory.mjs reports our allocator's peak and the resident memory grown in %s", (_, args, copies) => {
    const run = withBallast(() => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' }));
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    // Training holds weights, gradients and two moments at least; sampling the weights
    // alone (the cached sampler's caches are its own, seen in the resident growth).
    expect(result.peakAllocated).toBeGreaterThan(copies * parameterBytes());
    expect(result.peakReserved).toBeGreaterThanOrEqual(result.peakAllocated);
    expect(result.rssGrowth).toBeGreaterThan(0);
    expect(result.rssGrowth).toBeLessThan(256 * MiB); // about 20 MiB, not the parent's ballast
  });

  it('peak-memory.mjs refuses an unknown mode with its usage', () => {
    const run = spawnSync(process.execPath, [script, 'evaluate', JSON.stringify(config), '8'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/usage: .*peak-memory\.mjs train\|sample/);
  });

  it.skipIf(!hasTorch).each([
    ['training', ['train', '--steps', '1']],
    ['naive sampling', ['sample', '--positions', '2']],
  ])("PyTorch's benchmark reports its resident memory grown in %s", (_, args) => {
    const run = withBallast(() => spawnSync('python3', [path.join(root, 'scripts', 'torch', 'bench.py'), ...args, '--config', JSON.stringify(config), '--batch', '8', '--threads', '1'], { encoding: 'utf8' }));
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(result.rssGrowthBytes).toBeGreaterThan(0);
    expect(result.rssGrowthBytes).toBeLessThan(512 * MiB); // about 100 MiB, not the parent's ballast
    expect(result.peakAllocatedBytes).toBeUndefined(); // a GPU's only
  });
});
