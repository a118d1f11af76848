/** `info --checkpoint`: what a checkpoint holds, as text and as JSON, and a clear refusal of a damaged file. */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { checkpointInfo, describeCheckpoint, type CheckpointInfo } from '../../src/cli/checkpoint-info';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { runCli, trainTiny } from '../helpers/cli';

describe('gated-pixelcnn info --checkpoint', () => {
  it('describes the model, its size and the run that wrote it', () => {
    const { dir, trained, checkpoint } = trainTiny('gpcnn-cli-info-', '--lr', '0.002', '--schedule', 'cosine', '--warmup', '2');
    expect(trained.status, trained.stderr).toBe(0);
    const model = GatedPixelCNN.load(checkpoint, { backend: cpu });
    const parameters = model.parameters.count;
    model.dispose();

    const state = path.join(dir, 'run', 'checkpoint.safetensors');
    const text = runCli('info', '--checkpoint', state);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.split('\n')).toEqual([
      state,
      `model: 1×6×6 images of K=4 levels; p 4, 2 blocks, kernels 3 / 3, skip 4, head 4; 3 classes; ${parameters.toLocaleString('en')} parameters`,
      expect.stringMatching(/^training state: step 6 after \d+ s; batch 8, lr 0\.002 \(cosine, warm-up 2\), budget 6 steps, seed 0; trained on 64 images$/),
      '',
    ]);
    expect(runCli('info', '--checkpoint', checkpoint).stdout).toMatch(/\ntraining state: none \(a model file/);
    // One of a unit is said in the singular.
    const oneEpoch = JSON.parse(JSON.stringify(checkpointInfo(state))) as CheckpointInfo;
    oneEpoch.training!.settings.budget = { epochs: 1, minutes: 1.5 };
    expect(describeCheckpoint(oneEpoch)[2]).toMatch(/, budget 1 epoch or 1\.5 minutes, /);

    const json = JSON.parse(runCli('info', '--checkpoint', state, '--json').stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      checkpoint: state, parameters, classNames: null,
      config: { channels: 1, height: 6, width: 6, levels: 4, classes: 3 },
      training: { step: 6, settings: { batchSize: 8, optimizer: { lr: 0.002 } }, data: { count: 64 } },
    });

    const damaged = path.join(dir, 'damaged.safetensors');
    writeFileSync(damaged, readFileSync(state).subarray(0, 100));
    const refused = runCli('info', '--checkpoint', damaged);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/damaged\.safetensors: .*\(ERR_CHECKPOINT\)\n$/);
  });
});
