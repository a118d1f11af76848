/**
 * `train --preset` takes the data's classes: the larger of the training and test labels'
 * counts, and none for unlabeled images; a run started when presets kept their own 10
 * classes resumes with the same command.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { PRESETS } from '../../src/nn/config';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';
import { runCli } from '../helpers/cli';
import { tinyDataset, writeIdx } from '../helpers/tiny-data';

const classesOf = (file: string) => {
  const model = GatedPixelCNN.load(file, { backend: cpu });
  model.dispose();
  return model.config.classes;
};

describe('train --preset on IDX data', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-preset-classes-'));
  const train = writeIdx(dir, 'train', tinyDataset(8, 28, 3, 1)); // labels 0–2
  const test = writeIdx(dir, 'test', tinyDataset(10, 28, 5, 2)); // labels 0–4
  const common = ['--dataset', 'idx', '--train-images', train.images, '--steps', '1', '--batch-size', '4', '--no-progress', '--no-samples'];

  it('takes the classes of the training and test labels, the larger, or none for unlabeled images', () => {
    const labeled = path.join(dir, 'labeled');
    const run = runCli('train', ...common, '--train-labels', train.labels, '--test-images', test.images, '--test-labels', test.labels, '--out', labeled);
    expect(run.status, run.stderr).toBe(0);
    expect(classesOf(path.join(labeled, 'model.safetensors'))).toBe(5);
    const unlabeled = path.join(dir, 'unlabeled');
    expect(runCli('train', ...common, '--out', unlabeled).status).toBe(0);
    expect(classesOf(path.join(unlabeled, 'model.safetensors'))).toBe(0);
  });

  it('resumes a run that has the preset\'s own 10 classes, and names what differs for another preset', () => {
    const out = path.join(dir, 'old');
    const config = path.join(dir, 'mnist-tiny-10.json');
    writeFileSync(config, JSON.stringify(PRESETS['mnist-tiny'])); // as presets were before they took the data's classes
    const args = ['train', ...common, '--train-labels', train.labels, '--out', out];
    expect(runCli(...args, '--config', config).status).toBe(0);
    const resumed = runCli(...args, '--preset', 'mnist-tiny', '--steps', '2', '--resume');
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(runCli(...args, '--preset', 'mnist-quick', '--steps', '3', '--resume').stderr)
      .toMatch(/--preset mnist-quick \(another model than the run's: hidden 128, the run's 32; kernel 3, the run's 5; .*\)/);
  });
});
