/**
 * Parity with an independent implementation: the PyTorch model of SPEC.md in
 * scripts/torch loads our checkpoint and computes, in float64, the same logits
 * and per-image NLL. Skipped where python3 cannot import torch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { expectClose } from '../helpers/compare';
import { integers, makeRng } from '../helpers/random';

const script = path.resolve(__dirname, '..', '..', 'scripts', 'torch', 'nll.py');
const hasTorch = spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasTorch)('parity with the PyTorch reference', () => {
  it('the reference passes its own checks of SPEC.md (names and shapes, formulas, §5 causality, NLL, round trips)', () => {
    const selfTest = path.resolve(__dirname, '..', '..', 'scripts', 'torch', 'test_gated_pixelcnn.py');
    const result = spawnSync('python3', [selfTest], { encoding: 'utf8' });
    expect([result.status, result.stdout.trim().split('\n').at(-1)], result.stderr + result.stdout).toEqual([0, expect.stringMatching(/^\d+ passed, 0 failed$/)]);
  }, 60_000);

  it.each([
    { name: 'C=1, K=256, classes', channels: 1, height: 7, width: 6, levels: 256, hidden: 8, layers: 3, firstKernel: 7, kernel: 3, skip: 6, headHidden: 10, classes: 4 },
    { name: 'C=3, K=4, no classes', channels: 3, height: 5, width: 5, levels: 4, hidden: 6, layers: 2, firstKernel: 3, kernel: 5, skip: 5, headHidden: 7 },
  ])('$name: the same logits and NLL', ({ name, ...config }) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-torch-'));
    const model = GatedPixelCNN.create(config, { backend: cpu, seed: name.length });
    const rng = makeRng(3);
    const batch = 4;
    const images = Uint8Array.from(integers(rng, batch * config.channels * config.height * config.width, config.levels));
    const labels = config.classes ? Int32Array.from(integers(rng, batch, config.classes)) : undefined;
    const files = { checkpoint: path.join(dir, 'model.safetensors'), images: path.join(dir, 'x.u8'), labels: path.join(dir, 'y.i32'), logits: path.join(dir, 'logits.f32') };
    model.save(files.checkpoint);
    writeFileSync(files.images, images);
    const args = [script, '--checkpoint', files.checkpoint, '--images', files.images, '--count', String(batch), '--logits-out', files.logits];
    if (labels) {
      writeFileSync(files.labels, Buffer.from(labels.buffer));
      args.push('--labels', files.labels);
    }
    const result = spawnSync('python3', args, { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const theirs = JSON.parse(result.stdout) as { nll: number[] };
    const theirLogits = new Float32Array(readFileSync(files.logits).buffer.slice(0));
    const cond = labels ? { labels } : {};
    expectClose(model.logits(images, cond), theirLogits, 1e-5, 'logits');
    expectClose(model.nll(images, cond), theirs.nll, 1e-6, 'nll');
    model.dispose();
  });
});
