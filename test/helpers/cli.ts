/** Running the gated-pixelcnn command in tests, and a tiny training run to work on. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { tinyDataset, writeIdx } from './tiny-data';

/** The built command's entry point. */
export const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

/** Runs the built command with `args`; its status, stdout and stderr. */
export const runCli = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/**
 * Trains a tiny model (6×6 images, 3 classes, 6 steps) into a fresh folder with
 * `extra` flags added; returns the folder, the test-data flags, the command's arguments
 * and the train result.
 */
export function trainTiny(prefix: string, ...extra: string[]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const trainFiles = writeIdx(dir, 'train', tinyDataset(64, 6, 3, 1));
  const testFiles = writeIdx(dir, 'test', tinyDataset(12, 6, 3, 2));
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ levels: 4, hidden: 4, layers: 2, firstKernel: 3, kernel: 3, headHidden: 4 }));
  // An --out among `extra` replaces the run's folder (a flag may be given once).
  const at = extra.indexOf('--out');
  const out = at >= 0 ? extra[at + 1] : path.join(dir, 'run');
  const rest = at >= 0 ? [...extra.slice(0, at), ...extra.slice(at + 2)] : extra;
  const data = ['--dataset', 'idx', '--test-images', testFiles.images, '--test-labels', testFiles.labels];
  const args = ['train', '--config', config, ...data, '--train-images', trainFiles.images, '--train-labels',
    trainFiles.labels, '--steps', '6', '--batch-size', '8', '--out', out, '--no-progress', ...rest];
  const trained = runCli(...args);
  return { dir, data, args, trained, checkpoint: path.join(out, 'model.safetensors') };
}

/** A copy of a run's model saved through the API, which records nothing of the run's training set. */
export function savedByHand(checkpoint: string): string {
  const copy = checkpoint.replace(/\.safetensors$/, '-by-hand.safetensors');
  const model = GatedPixelCNN.load(checkpoint, { backend: 'cpu' });
  model.save(copy);
  model.dispose();
  return copy;
}
