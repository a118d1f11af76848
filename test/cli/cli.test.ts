/**
 * The command-line tool: bad arguments end with one line of explanation and a
 * non-zero status, never a stack trace; train → eval → sample works end to end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';

import { quantize, toDisplay } from '../../src/data/quantize';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { completionInputs } from '../../src/sample/completion';
import { nllHeatmapGrid } from '../../src/train/nll-heatmap';
import { cli, runCli, trainTiny } from '../helpers/cli';
import { holdLockInAnotherProcess } from '../helpers/lock-holder';
import { writePng } from '../helpers/png-folder';
import { checkGrid } from '../helpers/png-grid-check';
import { tinyDataset, writeIdx } from '../helpers/tiny-data';

/** Training data that does not exist: what fails first must be something else. */
const idxData = ['--dataset', 'idx', '--train-images', '/nonexistent/train.idx', '--train-labels', '/nonexistent/labels.idx', '--steps', '1'];

/** A configuration file holding `text`. */
function jsonFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-config-')), 'config.json');
  writeFileSync(file, text);
  return file;
}

describe('gated-pixelcnn CLI', () => {
  it.each([
    [['train', '--preset', 'nope', '--steps', '1'], /unknown preset "nope"/],
    [['train', '--steps', '0'], /--steps must be an integer from 1 to 2\^53 − 1/],
    [['train', '--lr', 'fast'], /--lr must be a number > 0/],
    [['train', '--dataset', 'imagenet'], /unknown dataset "imagenet"/],
    [['eval', '--checkpoint', '/nonexistent/model.safetensors'], /cannot read checkpoint .*ERR_IO/],
    [['sample'], /required option '--checkpoint <file>'/],
    [['train', '--seed', ''], /--seed must be an integer from 0 to 2\^53 − 1, got ""/],
    [['train', '--seed', '9007199254740992'], /--seed must be an integer from 0 to 2\^53 − 1, got "9007199254740992"/],
    [['train', '--config', jsonFile('{"levels": 2, "spatialCond": 1}'), ...idxData], /the configuration .* is conditioned on global vectors or spatial maps \(condDim 0, spatialCond 1\), which the command line cannot give .*use the API/],
    [['train', '--config', jsonFile('{"condDim": 3}'), ...idxData], /the configuration .* is conditioned on global vectors or spatial maps \(condDim 3, spatialCond 0\)/],
    [['train', '--warmup', '0x10'], /--warmup must be an integer from 0 to 2\^53 − 1/],
    [['train', '--steps', '1e3'], /--steps must be an integer from 1 to 2\^53 − 1/],
    [['train', '--train-images', 'mine.idx', '--steps', '1'], /--dataset mnist does not read --train-images \(give --dataset idx/],
    [['eval', '--checkpoint', 'x', '--dataset', 'cifar10', '--test-files', 't.bin', '--test-images', 'mine.idx'], /--dataset cifar10 does not read --test-images/],
    [['eval', '--checkpoint', 'x', '--dataset', 'idx', '--test-images', 'a.idx', '--test-files', 't.bin'], /--dataset idx does not read --test-files/],
    [['sample', '--checkpoint', 'x', '--temperature', '-1'], /--temperature must be a number > 0/],
    // An empty name would mean the working folder, or nothing: `train --out ''` used to train and keep nothing.
    [['train', '--out', '', '--steps', '1'], /--out needs a folder name, got ""/],
    [['train', '--resume', ''], /--resume needs a file name/],
    [['train', '--resume', 'runs/'], /--resume needs a file name, got the folder name "runs\/"/],
    [['sample', '--checkpoint', 'x', '--levels-out', 'new/'], /--levels-out needs a file name, got the folder name "new\/"/],
    [['train', '--dataset', 'cifar10', '--train-files', 'a.bin,,b.bin'], /--train-files takes comma-separated file names, none of them empty, got "a.bin,,b.bin"/],
    // Commander keeps the last of a repeated flag: a second file would silently replace the first.
    [['train', '--out', 'a', '--out', 'b'], /--out was given twice \("a", then "b"\): give it once/],
    [['eval', '--checkpoint', 'x', '--dataset', 'idx', '--test-images', 'a.idx', '--test-images', 'b.idx'], /--test-images was given twice/],
    [['info', '--checkpoint', ''], /--checkpoint needs a file name/],
    [['sample', '--checkpoint', 'x', '--images-dir', ''], /--images-dir needs a folder name/],
    [['eval', '--checkpoint', 'x', '--dataset', 'folder', '--test-dir', ''], /--test-dir needs a folder name/],
    [['frobnicate'], /unknown command 'frobnicate'; see --help \(ERR_ARG\)/],
    [['info', 'extra'], /too many arguments for 'info'\. Expected 0 arguments but got 1; see --help \(ERR_ARG\)/],
    // Commander's own errors, a suggestion included, read as ours do.
    [['sample', '--checkpoint', 'x', '--per-lable', '2'], /unknown option '--per-lable' \(Did you mean --per-label\?\); see --help \(ERR_ARG\)/],
    [['train', '--steps'], /option '--steps <n>' argument missing; see --help \(ERR_ARG\)/],
    [['sample', '--checkpoint', 'x', '--backend', 'gpu'], /--backend must be auto, cpu or cuda, got "gpu" \(ERR_ARG\)/],
    // The configuration is read before the data (which here does not exist) loads.
    [['train', '--config', '/dev/zero', ...idxData], /cannot read the configuration \/dev\/zero: it is a device, not a regular file \(ERR_IO\)/],
    [['train', '--config', '/nonexistent/config.json', ...idxData], /cannot read the configuration \/nonexistent\/config.json: ENOENT.* \(ERR_IO\)/],
    [['train', '--config', jsonFile('[1, 2]'), ...idxData], /the configuration .* must be a JSON object of SPEC.md §2 keys, got an array \(ERR_ARG\)/],
    [['train', '--config', jsonFile('{"levels": 4,'), ...idxData], /the configuration .* is not JSON: .* \(ERR_ARG\)/],
    [['train', '--config', jsonFile('{}'), '--preset', 'mnist-tiny', ...idxData], /give --preset or --config, not both \(ERR_ARG\)/],
  ])('%j fails with one line of explanation ending in its code', (args, message) => {
    const result = runCli(...args);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^gated-pixelcnn: [^\n]* \(ERR_[A-Z_]+\)\n$/); // one line, no stack trace
  });

  it('refuses a model conditioned on global vectors or spatial maps in eval, sample and complete, before any data loads', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-conditioned-'));
    const checkpoint = path.join(dir, 'model.safetensors');
    const model = GatedPixelCNN.create({ channels: 1, height: 6, width: 6, levels: 2, hidden: 4, layers: 1, headHidden: 4, condDim: 2 }, { backend: 'cpu' });
    model.save(checkpoint);
    model.dispose();
    const missingData = ['--dataset', 'idx', '--test-images', '/nonexistent/t.idx', '--test-labels', '/nonexistent/l.idx'];
    for (const args of [['eval', ...missingData], ['complete', ...missingData, '--out', path.join(dir, 'c.png')], ['sample', '--out', path.join(dir, 's.png')]]) {
      const refused = runCli(...args, '--checkpoint', checkpoint);
      expect([refused.status, refused.stderr], args[0]).toEqual([1, expect.stringMatching(
        /^gated-pixelcnn: the model .*model\.safetensors is conditioned on global vectors or spatial maps \(condDim 2, spatialCond 0\), which the command line cannot give .*use the API.* \(ERR_ARG\)\n$/,
      )]);
    }
    const resumed = runCli('train', '--resume', checkpoint, '--out', path.join(dir, 'run'), ...idxData);
    expect([resumed.status, resumed.stderr]).toEqual([1, expect.stringMatching(
      /^gated-pixelcnn: the checkpoint .*model\.safetensors is conditioned on global vectors or spatial maps \(condDim 2, spatialCond 0\).* \(ERR_ARG\)\n$/,
    )]);
  });

  it('prints its version', () => {
    const result = runCli('--version');
    expect(result.status).toBe(0);
    const { version } = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(result.stdout).toBe(`${version}\n`);
    expect(runCli('info').stdout).toContain(`gated-pixelcnn ${version}, node ${process.version}`);
    expect(JSON.parse(runCli('info', '--json').stdout)).toMatchObject({ version, chosen: 'cpu' });
  });

  it('info names the backend and why', () => {
    const result = runCli('info');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/backend: cpu \(/);
    expect(result.stdout).toMatch(/oneDNN/);
    const unknown = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, GATED_PIXELCNN_BACKEND: 'tpu' } });
    expect(unknown.stdout).toMatch(/backend: tpu \(GATED_PIXELCNN_BACKEND=tpu names no backend .* so backend 'auto' fails\)/);
  });

  it('info, in an install whose addons were never built, says so and how to build them', () => {
    // The package without build/: what an install whose install script did not run holds.
    const unbuilt = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-unbuilt-'));
    const root = path.resolve(__dirname, '..', '..');
    cpSync(path.join(root, 'dist'), path.join(unbuilt, 'dist'), { recursive: true });
    cpSync(path.join(root, 'package.json'), path.join(unbuilt, 'package.json'));
    symlinkSync(path.join(root, 'node_modules'), path.join(unbuilt, 'node_modules'));
    const env = { ...process.env, GATED_PIXELCNN_CUDA_EMULATOR: '' };
    const info = spawnSync(process.execPath, [path.join(unbuilt, 'dist', 'cli', 'main.js'), 'info'], { encoding: 'utf8', env });
    expect(info.status).toBe(0);
    expect(info.stdout).toMatch(/^backend: none \(neither addon is available, so backend 'auto' fails\)\n/);
    expect(info.stdout).toMatch(/cpu: unavailable — the CPU addon is not built \(install scripts turned off, or oneDNN missing when it was installed\): run `npm rebuild gated-pixelcnn`, with oneDNN installed/);
    rmSync(unbuilt, { recursive: true, force: true });
  });

  it('trains, evaluates and samples a grid end to end', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-');
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/done after \d+ steps: .*; peak cpu memory \d+(\.\d)? MiB; wrote /);
    expect(existsSync(checkpoint)).toBe(true);

    const evaluated = runCli('eval', '--checkpoint', checkpoint, ...data, '--json', '--no-progress');
    expect(evaluated.status, evaluated.stderr).toBe(0);
    const report = JSON.parse(evaluated.stdout) as { nll: number; bitsPerDim: number; images: number };
    expect(report.images).toBe(12);
    expect(report.bitsPerDim).toBeCloseTo(report.nll / (36 * Math.LN2), 10);

    const grid = path.join(dir, 'grid.png');
    const sampled = runCli('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out', grid, '--no-progress');
    expect(sampled.status, sampled.stderr).toBe(0);
    const png = PNG.sync.read(readFileSync(grid));
    // 3 rows of 4 images, 6×6 scaled ×2, 2-pixel gaps.
    expect([png.width, png.height]).toEqual([4 * 12 + 3 * 2, 3 * 12 + 2 * 2]);
    // The naive sampler, per-class grids and raw levels with their sidecar.
    const levelsFile = path.join(dir, 'out', 'levels.u8');
    const naive = runCli('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out', grid, '--no-progress', '--sampler', 'naive', '--per-class', '--levels-out', levelsFile);
    expect(naive.status, naive.stderr).toBe(0);
    for (const y of [0, 1, 2]) expect(existsSync(path.join(dir, `grid-${y}.png`))).toBe(true);
    const sidecar = JSON.parse(readFileSync(`${levelsFile}.json`, 'utf8')) as { count: number; levels: number; labels: number[]; layout: string };
    expect(sidecar).toMatchObject({ count: 12, levels: 4, layout: 'NCHW', labels: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2] });
    const levels = readFileSync(levelsFile);
    expect(levels.length).toBe(12 * 36);
    expect(levels.every((v) => v < 4)).toBe(true);
    // The grids show what was drawn: a row a label, and each label's images in its own grid.
    const layout = { padding: 2, scale: 2 };
    const shown = toDisplay(levels, 4);
    checkGrid(PNG.sync.read(readFileSync(grid)), shown, [12, 1, 6, 6], { ...layout, columns: 4 });
    for (const y of [0, 1, 2]) {
      checkGrid(PNG.sync.read(readFileSync(path.join(dir, `grid-${y}.png`))), shown.subarray(y * 4 * 36, (y + 1) * 4 * 36), [4, 1, 6, 6], { ...layout, columns: 2 });
    }
    // Same seed: the cached sampler (default) draws what the naive one drew.
    const cachedLevels = path.join(dir, 'cached.u8');
    expect(runCli('sample', '--checkpoint', checkpoint, '--labels', '0-2', '--per-label', '4', '--out', grid, '--levels-out', cachedLevels).status).toBe(0);
    expect(readFileSync(cachedLevels)).toEqual(levels);
    expect(runCli('sample', '--checkpoint', checkpoint, '--sampler', 'fast').stderr).toMatch(/--sampler must be cached or naive, got "fast"/);
    expect(runCli('train', '--schedule', 'linear').stderr).toMatch(/--schedule must be constant, cosine or step, got "linear"/);

    const unknownLabel = runCli('sample', '--checkpoint', checkpoint, '--labels', '7', '--out', grid);
    expect(unknownLabel.status).toBe(1);
    expect(unknownLabel.stderr).toMatch(/label 7 is outside/);
    // A list's form is judged once the model's class names are known (a name may look like anything).
    for (const [labels, message] of [['9-3', /label range "9-3" runs backwards/], ['0-4000000000', /labels must be at most 65536/]] as const) {
      const badList = runCli('sample', '--checkpoint', checkpoint, '--labels', labels, '--out', grid);
      expect([badList.status, badList.stderr]).toEqual([1, expect.stringMatching(message)]);
    }
    expect(runCli('sample', '--checkpoint', checkpoint, '--count', '5', '--out', grid).stderr).toMatch(/this model has classes: give --labels and --per-label instead of --count/);

    // What would fail at the end is refused before the sampling.
    const aFile = path.join(dir, 'a-file');
    writeFileSync(aFile, 'not a folder');
    const intoFile = runCli('sample', '--checkpoint', checkpoint, '--labels', '0', '--per-label', '2', '--out', path.join(aFile, 'x.png'));
    expect(intoFile.status).toBe(1);
    expect(intoFile.stderr).toMatch(/cannot write into .*a-file.* \(ERR_IO\)/);
    const tooMany = runCli('sample', '--checkpoint', checkpoint, '--per-label', '9007199254740991', '--out', grid);
    expect(tooMany.status).toBe(1);
    expect(tooMany.stderr).toMatch(/count must be at most \d+ for images of 36 values/);
    const tooWide = runCli('sample', '--checkpoint', checkpoint, '--labels', '0', '--per-label', '100000000', '--out', grid);
    expect(tooWide.status).toBe(1);
    expect(tooWide.stderr).toMatch(/PNG grid is too large \(ERR_ARG\)/);
    const before = readFileSync(grid);
    const onAFolder = runCli('sample', '--checkpoint', checkpoint, '--out', grid, '--levels-out', path.join(dir, 'out'));
    expect(onAFolder.stderr).toMatch(/cannot write .*out: it is a folder \(ERR_IO\)/);
    const twice = runCli('sample', '--checkpoint', checkpoint, '--out', grid, '--levels-out', grid);
    expect(twice.stderr).toMatch(/grid\.png is named for two outputs/);
    expect(readFileSync(grid)).toEqual(before);
  });

  it('refuses to start a run over another one unless told to, and finds a finished run done', () => {
    const { args, trained, checkpoint } = trainTiny('gpcnn-cli-out-taken-');
    expect(trained.status, trained.stderr).toBe(0);
    const before = readFileSync(checkpoint);
    const again = runCli(...args);
    expect([again.status, again.stderr]).toEqual([1, expect.stringMatching(/run holds a run \(.*checkpoint\.safetensors\): give --resume to continue it, --overwrite to start over/)]);
    expect(readFileSync(checkpoint)).toEqual(before);
    expect(runCli(...args, '--resume', '--overwrite').stderr).toMatch(/give one of them/);
    const done = runCli(...args, '--resume');
    expect([done.status, done.stderr]).toEqual([0, expect.stringMatching(/done after 6 steps: the run had already reached its budget/)]);
    const over = runCli(...args, '--overwrite', '--seed', '5');
    expect(over.status, over.stderr).toBe(0);
    expect(readFileSync(checkpoint)).not.toEqual(before);
  });

  it('never lets one run\'s files land on another run or on the data, and refuses unusable names with ERR_IO', () => {
    const first = trainTiny('gpcnn-cli-two-runs-');
    const second = trainTiny('gpcnn-cli-two-runs-', '--seed', '5');
    expect([first.trained.status, second.trained.status]).toEqual([0, 0]);
    const before = readFileSync(second.checkpoint);
    const into = runCli(...second.args, '--resume', path.join(path.dirname(first.checkpoint), 'checkpoint.safetensors'));
    expect([into.status, into.stderr]).toEqual([1, expect.stringMatching(/holds another run .*give another --out to continue/)]);
    expect(readFileSync(second.checkpoint)).toEqual(before);

    const levels = path.join(first.dir, 'mine.txt');
    writeFileSync(levels, 'my notes');
    for (const [args, message] of [
      [['--out', path.join(first.dir, 'grid.safetensors')], /--out writes a PNG: give a file name ending in \.png/],
      [['--levels-out', levels], /mine\.txt exists and is not a levels file written by sample/],
      [['--out', path.join(first.dir, `${'a'.repeat(300)}.png`)], /its name is longer than 215 bytes \(ERR_IO\)/],
    ] as const) {
      const refused = runCli('sample', '--checkpoint', first.checkpoint, '--labels', '0', '--per-label', '1', ...args);
      expect([refused.status, refused.stderr], args.join(' ')).toEqual([1, expect.stringMatching(message)]);
    }
    expect(readFileSync(levels, 'utf8')).toBe('my notes');
  });

  it('stops a run on SIGTERM after the current step, with a checkpoint and status 143', async () => {
    const { args } = trainTiny('gpcnn-cli-sigterm-');
    const child = spawn(process.execPath, [cli, ...args, '--overwrite', '--steps', '1000000', '--checkpoint-every', '1000000']);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    child.kill('SIGTERM');
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(stderr).toMatch(/stopping after this step \(SIGTERM again to quit without a checkpoint\)/);
    const steps = Number(/stopped after (\d+) steps/.exec(stderr)?.[1]);
    expect(steps).toBeGreaterThan(0);
    expect(status).toBe(143);
    // The checkpoint written on the way out holds the last step (the folder's earlier one, trainTiny's, held step 6).
    const checkpoint = path.join(args[args.indexOf('--out') + 1], 'checkpoint.safetensors');
    expect(JSON.parse(runCli('info', '--checkpoint', checkpoint, '--json').stdout)).toMatchObject({ training: { step: steps } });
  });

  it('refuses with ERR_BUSY to train into a folder that another process is training into, writing nothing', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-busy-'));
    const holder = await holdLockInAnotherProcess(path.join(out, '.training.lock'));
    const { trained } = trainTiny('gpcnn-cli-busy-data-', '--out', out);
    holder.kill('SIGKILL');
    expect([trained.status, trained.stderr]).toEqual([1, expect.stringMatching(new RegExp(`another run is training into ${out} now.*\\(ERR_BUSY\\)`))]);
    expect(readdirSync(out)).toEqual(['.training.lock']);
  });

  it('refuses --resume into a folder whose run is training but has no checkpoint yet with ERR_BUSY, not advice to start it over', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-busy-resume-'));
    writeFileSync(path.join(out, 'metrics.jsonl'), '{"type":"train","step":1}\n'); // the running run's log, before its first checkpoint
    const holder = await holdLockInAnotherProcess(path.join(out, '.training.lock'));
    const { trained } = trainTiny('gpcnn-cli-busy-resume-data-', '--out', out, '--resume');
    holder.kill('SIGKILL');
    expect([trained.status, trained.stderr]).toEqual([1, expect.stringMatching(new RegExp(`another run is training into ${out} now.*\\(ERR_BUSY\\)`))]);
  });

  it('refuses to resume from a file of weights alone for what it is, even from the folder it names as --out', () => {
    const { args, trained, checkpoint } = trainTiny('gpcnn-cli-resume-model-');
    expect(trained.status, trained.stderr).toBe(0);
    const resumed = runCli(...args, '--resume', checkpoint, '--steps', '8');
    expect([resumed.status, resumed.stderr]).toEqual([1, expect.stringMatching(/model\.safetensors holds a model but no training state to resume: give a run's checkpoint\.safetensors \(ERR_CHECKPOINT\)/)]);
  });

  it('quits at a second SIGTERM that comes during the same step as the first, without a checkpoint', async () => {
    // Steps of about two seconds, so that both signals land while one runs.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-sigterm2-'));
    const files = writeIdx(dir, 'train', tinyDataset(128, 28, 3, 1));
    const config = jsonFile(JSON.stringify({ levels: 4, hidden: 64, layers: 4, firstKernel: 7, kernel: 5, headHidden: 16 }));
    const out = path.join(dir, 'run');
    const child = spawn(process.execPath, [cli, 'train', '--config', config, '--dataset', 'idx', '--train-images', files.images,
      '--train-labels', files.labels, '--batch-size', '128', '--steps', '1000', '--out', out, '--no-progress']);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    while (!stderr.includes('training ')) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGTERM');
    // Apart, as a user's are: two signals sent before the child runs again would arrive as one.
    await new Promise((resolve) => setTimeout(resolve, 150));
    child.kill('SIGTERM');
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(stderr).toMatch(/stopping after this step/);
    expect(stderr).toMatch(/SIGTERM again: quitting without a checkpoint/);
    expect(stderr).not.toMatch(/stopped after/);
    expect(status).toBe(143);
    expect(existsSync(path.join(out, 'checkpoint.safetensors'))).toBe(false);
  });

  it('completes test images: their kept top rows in every completion, one grid row an image', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-complete-');
    expect(trained.status, trained.stderr).toBe(0);
    const grid = path.join(dir, 'completions.png');
    const completed = runCli('complete', '--checkpoint', checkpoint, ...data, '--images', '3', '--first', '2', '--per-image', '2', '--keep-rows', '3', '--out', grid, '--no-progress');
    expect(completed.status, completed.stderr).toBe(0);
    expect(completed.stderr).toMatch(/completed 3 images 2 times each, 3 of 6 rows kept/);
    const png = PNG.sync.read(readFileSync(grid));
    // 3 rows of source, kept part and 2 completions: 6×6 tiles scaled ×2, 2-pixel gaps.
    expect([png.width, png.height]).toEqual([4 * 12 + 3 * 2, 3 * 12 + 2 * 2]);
    const red = (x: number, y: number) => png.data[4 * (y * png.width + x)];
    const tile = (row: number, column: number, top: number) =>
      Array.from({ length: top * 12 }, (_, k) => red(column * 14 + (k % 12), row * 14 + Math.floor(k / 12)));
    const testImages = tinyDataset(12, 6, 3, 2).images; // trainTiny's test set
    for (let row = 0; row < 3; row++) {
      const source = tile(row, 0, 12);
      // Test image 2 + row (--first 2), quantized and shown ×2.
      const shown = toDisplay(quantize(testImages.subarray((2 + row) * 36, (3 + row) * 36), 4), 4);
      expect(source).toEqual(Array.from({ length: 144 }, (_, k) => shown[Math.floor(k / 24) * 6 + Math.floor((k % 12) / 2)]));
      expect(tile(row, 1, 6)).toEqual(source.slice(0, 6 * 12)); // the kept rows, ×2
      expect(tile(row, 1, 12).slice(6 * 12).every((v) => v === 128)).toBe(true); // the rest gray
      for (const column of [2, 3]) expect(tile(row, column, 6)).toEqual(source.slice(0, 6 * 12));
    }

    const huge = runCli('complete', '--checkpoint', checkpoint, ...data, '--images', '12', '--per-image', '100000000', '--out', grid);
    expect(huge.status).toBe(1); // refused before a 43 GB request is built
    expect(huge.stderr).toMatch(/count must be at most \d+ for images of 36 values/);
    expect(runCli('complete', '--checkpoint', checkpoint, ...data, '--keep-rows', '6', '--out', grid).stderr)
      .toMatch(/--keep-rows must be below the image's 6 rows, got 6/);
    expect(runCli('complete', '--checkpoint', checkpoint, ...data, '--first', '11', '--images', '2', '--out', grid).stderr)
      .toMatch(/--first 11 --images 2 reaches past the 12 test images/);
    expect(runCli('complete', '--checkpoint', checkpoint, ...data, '--first', '12', '--out', grid).stderr)
      .toMatch(/--first 12 is past the last of the 12 test images/);
    // Without --images: 8, or those left from --first on.
    const eight = runCli('complete', '--checkpoint', checkpoint, ...data, '--per-image', '1', '--out', grid, '--no-progress');
    expect([eight.status, eight.stderr]).toEqual([0, expect.stringMatching(/completed 8 images once each/)]);
    const rest = runCli('complete', '--checkpoint', checkpoint, ...data, '--first', '9', '--per-image', '1', '--out', grid, '--no-progress');
    expect([rest.status, rest.stderr]).toEqual([0, expect.stringMatching(/completed 3 images once each/)]);
    expect(PNG.sync.read(readFileSync(grid)).height).toBe(3 * 12 + 2 * 2);
    expect(runCli('complete', '--checkpoint', checkpoint, '--out', grid).stderr)
      .toMatch(/--dataset mnist gave test images of 1×28×28, and this model's are 1×6×6: give the data flags it was trained with/);
    expect(runCli('complete', '--checkpoint', checkpoint, ...data.slice(0, 4), '--out', grid).stderr) // no --test-labels
      .toMatch(/this model has classes, and the test images have no labels: give --label to draw them as one class/);
    const unlabeled = runCli('complete', '--checkpoint', checkpoint, ...data.slice(0, 4), '--label', '1', '--images', '2', '--out', grid, '--no-progress');
    expect([unlabeled.status, unlabeled.stderr]).toEqual([0, expect.stringMatching(/completed 2 images 4 times each/)]);
  });

  it('eval --heatmap draws the first test images beside their per-pixel NLL', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-heatmap-');
    expect(trained.status, trained.stderr).toBe(0);
    const heatmap = path.join(dir, 'heat.png');
    const evaluated = runCli('eval', '--checkpoint', checkpoint, ...data, '--heatmap', heatmap, '--heatmap-images', '3', '--batch-size', '2', '--no-progress');
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stderr).toMatch(/wrote the per-pixel NLL of 3 images to .*heat\.png/);
    const png = PNG.sync.read(readFileSync(heatmap));
    expect([png.width, png.height]).toEqual([2 * 12 + 2, 3 * 12 + 2 * 2]); // 6×6 tiles ×2, 2-pixel gaps
    const tile = (row: number, column: number) =>
      Array.from({ length: 36 }, (_, k) => png.data[4 * ((row * 14 + 2 * Math.floor(k / 6)) * png.width + column * 14 + 2 * (k % 6))]);
    const test = tinyDataset(12, 6, 3, 2);
    const levels = quantize(test.images.subarray(0, 3 * 36), 4);
    const model = GatedPixelCNN.load(checkpoint, { backend: 'cpu' });
    const expected = nllHeatmapGrid(model.config, levels, model.pixelNll(levels, { labels: test.labels.subarray(0, 3) }));
    model.dispose();
    for (let row = 0; row < 3; row++) {
      for (const column of [0, 1]) expect(tile(row, column), `row ${row}, column ${column}`).toEqual([...expected.subarray((2 * row + column) * 36, (2 * row + column + 1) * 36)]);
    }
    expect(new Set(tile(0, 1)).size).toBeGreaterThan(3); // a map, not one flat gray

    for (const [args, message] of [
      [['--heatmap-images', '2'], /--heatmap-images sets the images of --heatmap: give --heatmap too/],
      [['--heatmap', path.join(dir, 'heat.jpg')], /--heatmap writes a PNG: give a file name ending in \.png/],
      [['--heatmap', heatmap, '--heatmap-images', '0'], /--heatmap-images must be an integer from 1 to 2\^53 − 1/],
    ] as const) {
      const refused = runCli('eval', '--checkpoint', checkpoint, ...data, ...args);
      expect([refused.status, refused.stderr], args.join(' ')).toEqual([1, expect.stringMatching(message)]);
    }
    // A write failing after another: the message names the one in place.
    const table = path.join(dir, 'nll.csv');
    const failed = runCli('eval', '--checkpoint', checkpoint, ...data, '--nll-out', table, '--heatmap', '/proc/heat.png', '--no-progress');
    expect([failed.status, failed.stderr]).toEqual([1, expect.stringMatching(/heat\.png.* \(already written: .*nll\.csv\) \(ERR_IO\)\n$/)]);
    // Test images without labels: the marginal NLL (over the model's 3 classes), and no heatmap.
    const unlabeledData = data.slice(0, 4);
    const unlabeled = runCli('eval', '--checkpoint', checkpoint, ...unlabeledData, '--limit', '3', '--nll-out', table, '--json', '--no-progress');
    expect(unlabeled.status, unlabeled.stderr).toBe(0);
    const loaded = GatedPixelCNN.load(checkpoint, { backend: 'cpu' });
    const marginal = loaded.marginalNll(quantize(test.images.subarray(0, 3 * 36), 4));
    loaded.dispose();
    const summary = JSON.parse(unlabeled.stdout) as { nll: number; marginal?: boolean };
    expect(summary.marginal).toBe(true);
    expect(summary.nll).toBeCloseTo(marginal.reduce((a, v) => a + v, 0) / 3, 3);
    const rows = readFileSync(table, 'utf8').trim().split('\n').slice(1).map((line) => line.split(','));
    expect(rows.map((r) => [r[2], Number(r[4])])).toEqual([...marginal].map((v) => ['', Number(v.toPrecision(9))]));
    const said = runCli('eval', '--checkpoint', checkpoint, ...unlabeledData, '--limit', '3', '--no-progress');
    expect(said.stdout).toMatch(/\(3 test images, without labels: the NLL marginal over the model's 3 classes\): /);
    const noMap = runCli('eval', '--checkpoint', checkpoint, ...unlabeledData, '--heatmap', heatmap);
    expect([noMap.status, noMap.stderr]).toEqual([1, expect.stringMatching(/--heatmap draws the per-pixel NLL under each image's class, and these test images have no labels .*\(ERR_ARG\)\n$/)]);
    expect(runCli('eval', '--checkpoint', checkpoint, ...data, '--heatmap', heatmap, '--heatmap-images', '100000000').stderr)
      .toMatch(/--heatmap-images 100000000: a .* PNG grid is too large \(ERR_ARG\)/);
    // --label scores every image as one class: the unlabeled ones too, heatmap and all.
    const asTwo = runCli('eval', '--checkpoint', checkpoint, ...unlabeledData, '--label', '2', '--limit', '3', '--json', '--heatmap', heatmap, '--no-progress');
    expect(asTwo.status, asTwo.stderr).toBe(0);
    const two = GatedPixelCNN.load(checkpoint, { backend: 'cpu' });
    const underTwo = two.nll(quantize(test.images.subarray(0, 3 * 36), 4), { labels: Int32Array.of(2, 2, 2) });
    two.dispose();
    expect(JSON.parse(asTwo.stdout)).toMatchObject({ label: 2, nll: expect.closeTo(underTwo.reduce((a, v) => a + v, 0) / 3, 3) });
    expect(JSON.parse(asTwo.stdout)).not.toHaveProperty('marginal');
    expect(runCli('eval', '--checkpoint', checkpoint, ...data, '--label', '5').stderr).toMatch(/label 5 is outside this model's 0-2 \(ERR_ARG\)/);
    // --limit 2 leaves 2 images to draw.
    const limited = runCli('eval', '--checkpoint', checkpoint, ...data, '--heatmap', heatmap, '--limit', '2', '--no-progress');
    expect([limited.status, limited.stderr]).toEqual([0, expect.stringMatching(/per-pixel NLL of 2 images/)]);
    expect(PNG.sync.read(readFileSync(heatmap)).height).toBe(2 * 12 + 2);
  });

  it('completes test images as the class --label names, whatever their own labels', async () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-complete-label-');
    expect(trained.status, trained.stderr).toBe(0);
    const grid = path.join(dir, 'completions.png');
    const completed = runCli('complete', '--checkpoint', checkpoint, ...data, '--images', '2', '--per-image', '2', '--keep-rows', '2',
      '--label', '2', '--seed', '5', '--out', grid, '--no-progress');
    expect(completed.status, completed.stderr).toBe(0);
    const png = PNG.sync.read(readFileSync(grid));
    const tile = (row: number, column: number) =>
      Array.from({ length: 36 }, (_, k) => png.data[4 * ((row * 14 + 2 * Math.floor(k / 6)) * png.width + column * 14 + 2 * (k % 6))]);
    // The same completions drawn here with label 2 for both images (test images 0 and 1 are labeled 0 and 1).
    const model = GatedPixelCNN.load(checkpoint, { backend: 'cpu' });
    const levels = quantize(tinyDataset(12, 6, 3, 2).images.subarray(0, 72), 4);
    const draw = (labels: Int32Array) => model.sample({ ...completionInputs(model.config, { levels, labels }, 2, 2), seed: 5 });
    const asTwo = toDisplay(await draw(Int32Array.of(2, 2)), 4);
    const asOwn = toDisplay(await draw(Int32Array.of(0, 1)), 4);
    model.dispose();
    const shown = [0, 1].flatMap((row) => [2, 3].flatMap((column) => tile(row, column)));
    expect(shown).toEqual([...asTwo]);
    expect(shown).not.toEqual([...asOwn]); // the label changes the draws, so the check above means something

    for (const [args, message] of [
      [['--label', '7'], /label 7 is outside this model's 0-2/],
      [['--label', '0-1'], /--label takes one class, got 2 \(0-1\)/],
      [['--label', 'cat'], /"cat" is not a label/],
    ] as const) {
      const refused = runCli('complete', '--checkpoint', checkpoint, ...data, '--out', path.join(dir, 'refused.png'), ...args);
      expect([refused.status, refused.stderr], args.join(' ')).toEqual([1, expect.stringMatching(message)]);
    }
    const classless = path.join(dir, 'classless.safetensors');
    const plain = GatedPixelCNN.create({ channels: 1, height: 6, width: 6, levels: 4, hidden: 4, layers: 1, headHidden: 4 }, { backend: 'cpu' });
    plain.save(classless);
    plain.dispose();
    expect(runCli('complete', '--checkpoint', classless, ...data, '--label', '1', '--out', path.join(dir, 'refused.png')).stderr)
      .toMatch(/this model has no classes: --label has nothing to choose \(ERR_ARG\)/);
  });

  it('completes test images keeping the pixels of a --keep-mask PNG: white kept, black drawn', () => {
    const { dir, data, trained, checkpoint } = trainTiny('gpcnn-cli-complete-mask-');
    expect(trained.status, trained.stderr).toBe(0);
    // A 6×6 mask: a checkerboard of 2×2 squares, gray-scale, so that kept and drawn pixels mix in every row.
    const mask = Uint8Array.from({ length: 36 }, (_, k) => ((Math.floor(k / 12) + Math.floor((k % 6) / 2)) % 2 === 0 ? 255 : 0));
    const maskFile = path.join(dir, 'mask.png');
    writePng(maskFile, mask, 1, 6, 6);
    const maskBytes = readFileSync(maskFile);
    const grid = path.join(dir, 'completions.png');
    const completed = runCli('complete', '--checkpoint', checkpoint, ...data, '--images', '2', '--per-image', '3', '--keep-mask', maskFile,
      '--out', grid, '--no-progress', '--seed', '4');
    expect(completed.status, completed.stderr).toBe(0);
    expect(completed.stderr).toMatch(/completed 2 images 3 times each, 20 of 36 pixels kept/);
    const png = PNG.sync.read(readFileSync(grid));
    expect([png.width, png.height]).toEqual([5 * 12 + 4 * 2, 2 * 12 + 2]);
    // Tile (row, column) at display scale 2, as its 36 pixels (the top-left of each 2×2 block).
    const tile = (row: number, column: number) =>
      Array.from({ length: 36 }, (_, k) => png.data[4 * ((row * 14 + 2 * Math.floor(k / 6)) * png.width + column * 14 + 2 * (k % 6))]);
    const testImages = tinyDataset(12, 6, 3, 2).images;
    let drawnDiffering = 0;
    for (let row = 0; row < 2; row++) {
      const source = toDisplay(quantize(testImages.subarray(row * 36, (row + 1) * 36), 4), 4);
      expect(tile(row, 0)).toEqual([...source]);
      expect(tile(row, 1)).toEqual([...source].map((v, k) => (mask[k] === 255 ? v : 128)));
      for (const column of [2, 3, 4]) {
        tile(row, column).forEach((v, k) => {
          if (mask[k] === 255) expect(v, `row ${row}, column ${column}, kept pixel ${k}`).toBe(source[k]);
          else if (v !== source[k]) drawnDiffering++;
        });
      }
    }
    expect(drawnDiffering).toBeGreaterThan(0); // the black pixels were drawn, not kept

    const white = path.join(dir, 'white.png');
    writePng(white, new Uint8Array(36).fill(255), 1, 6, 6);
    const small = path.join(dir, 'small.png');
    writePng(small, new Uint8Array(30), 1, 5, 6);
    for (const [args, message] of [
      [['--keep-mask', maskFile, '--keep-rows', '2'], /give --keep-rows or --keep-mask, not both \(ERR_ARG\)/],
      [['--keep-mask', white], /the mask .*white\.png keeps every pixel: nothing is left to draw .*\(ERR_DATA\)/],
      [['--keep-mask', small], /the mask .*small\.png is 6×5 pixels \(width × height\); the model's images are 6×6 \(ERR_DATA\)/],
      [['--keep-mask', path.join(dir, 'none.png')], /cannot read .*none\.png.*\(ERR_IO\)/],
      [['--keep-mask', maskFile, '--out', maskFile], /mask\.png would overwrite the input .*mask\.png \(ERR_ARG\)/],
    ] as const) {
      const out = (args as readonly string[]).includes('--out') ? [] : ['--out', path.join(dir, 'refused.png')];
      const refused = runCli('complete', '--checkpoint', checkpoint, ...data, ...out, ...args);
      expect([refused.status, refused.stderr], args.join(' ')).toEqual([1, expect.stringMatching(message)]);
    }
    expect(existsSync(path.join(dir, 'refused.png'))).toBe(false);
    expect(readFileSync(maskFile).equals(maskBytes)).toBe(true);
  });

  it('writes a grid of samples at each evaluation, unless --no-samples', () => {
    const { dir, trained } = trainTiny('gpcnn-cli-samples-', '--eval-every', '3', '--ema', '0.9');
    expect(trained.status, trained.stderr).toBe(0);
    const png = PNG.sync.read(readFileSync(path.join(dir, 'run', 'samples.png')));
    // Ten images a class, one row each of the 3 classes: 6×6 scaled ×2, 2-pixel gaps.
    expect([png.width, png.height]).toEqual([10 * 12 + 9 * 2, 3 * 12 + 2 * 2]);
    const { dir: quiet, trained: quietly } = trainTiny('gpcnn-cli-no-samples-', '--eval-every', '3', '--no-samples');
    expect(quietly.status, quietly.stderr).toBe(0);
    expect(existsSync(path.join(quiet, 'run', 'samples.png'))).toBe(false);
    // A run started over in the folder takes the earlier run's grid away with its checkpoint.
    const { dir: overDir, args } = trainTiny('gpcnn-cli-samples-over-', '--eval-every', '3');
    expect(existsSync(path.join(overDir, 'run', 'samples.png'))).toBe(true);
    const over = runCli(...args, '--overwrite', '--no-samples');
    expect(over.status, over.stderr).toBe(0);
    expect(existsSync(path.join(overDir, 'run', 'samples.png'))).toBe(false);
  });

  it('starts over a run that stopped before its first checkpoint, which --resume cannot continue', () => {
    const { dir, args, trained } = trainTiny('gpcnn-cli-unsaved-');
    expect(trained.status, trained.stderr).toBe(0);
    // What a run killed before its first checkpoint leaves: its log alone.
    for (const name of ['checkpoint.safetensors', 'model.safetensors']) rmSync(path.join(dir, 'run', name));
    expect(runCli(...args, '--resume').stderr)
      .toMatch(/no checkpoint to resume at .*: the run there stopped before its first checkpoint; run without --resume to start it over \(ERR_ARG\)/);
    const again = runCli(...args);
    expect(again.stderr).toMatch(/holds the log of a run stopped before its first checkpoint: starting over/);
    expect(again.status, again.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'run', 'checkpoint.safetensors'))).toBe(true);
  });

  it('train and eval fail with ERR_DIVERGED on a model whose logits overflow', () => {
    // One step at a huge learning rate leaves finite weights that overflow the logits:
    // the run's final evaluation finds it, and writes nothing.
    const { data, trained, checkpoint } = trainTiny('gpcnn-cli-overflow-', '--steps', '1', '--lr', '1e30');
    expect(trained.status).toBe(1);
    expect(trained.stderr).toMatch(/training diverged at step 1: the test NLL is (NaN|Infinity).* \(ERR_DIVERGED\)/);
    expect(existsSync(checkpoint)).toBe(false);
    // Such weights, saved by hand.
    const trainedOnce = trainTiny('gpcnn-cli-overflow-', '--steps', '1');
    expect(trainedOnce.trained.status, trainedOnce.trained.stderr).toBe(0);
    const model = GatedPixelCNN.load(trainedOnce.checkpoint, { backend: 'cpu' });
    for (const p of model.parameters.list()) model.backend.write(p.value, p.value.toFloat32Array().map((v) => v * 1e30));
    model.save(checkpoint);
    model.dispose();
    const evaluated = runCli('eval', '--checkpoint', checkpoint, ...data, '--no-progress');
    expect([evaluated.status, evaluated.stdout]).toEqual([1, '']);
    expect(evaluated.stderr).toMatch(/gives a test NLL of (NaN|Infinity): its logits overflow.* \(ERR_DIVERGED\)/);
  });

  it('eval and complete with --test-fraction refuse a fraction other than the run\'s (training images would be scored as test images)', () => {
    const { dir, args } = trainTiny('gpcnn-cli-fraction-', '--steps', '0'); // only its files and flags
    const config = args[args.indexOf('--config') + 1];
    const files = ['--dataset', 'idx', '--train-images', args[args.indexOf('--train-images') + 1], '--train-labels', args[args.indexOf('--train-labels') + 1]];
    const out = path.join(dir, 'held-out-run');
    const trained = runCli('train', '--config', config, ...files, '--test-fraction', '0.25', '--steps', '2', '--batch-size', '8', '--out', out, '--no-progress');
    expect(trained.status, trained.stderr).toBe(0);
    for (const file of ['model.safetensors', 'checkpoint.safetensors']) {
      const checkpoint = path.join(out, file);
      const other = runCli('eval', '--checkpoint', checkpoint, ...files, '--test-fraction', '0.5', '--no-progress');
      expect(other.status).toBe(1);
      expect(other.stderr).toMatch(/--test-fraction 0.5 leaves 32 of these images for training, and the run trained on 48, holding out 16 of these 64 images: give the --test-fraction .* \(ERR_ARG\)/);
      expect(runCli('complete', '--checkpoint', checkpoint, ...files, '--test-fraction', '0.5', '--out', path.join(dir, 'c.png')).stderr)
        .toMatch(/and the run trained on 48/);
      const same = runCli('eval', '--checkpoint', checkpoint, ...files, '--test-fraction', '0.25', '--json', '--no-progress');
      expect(same.status, same.stderr).toBe(0);
      expect(JSON.parse(same.stdout)).toMatchObject({ images: 16 });
    }
    // A run that held nothing out has no test images among its training files.
    const { trained: whole, checkpoint: wholeModel } = trainTiny('gpcnn-cli-fraction-', '--steps', '1');
    expect(whole.status, whole.stderr).toBe(0);
    expect(runCli('eval', '--checkpoint', wholeModel, ...files, '--test-fraction', '0.25').stderr)
      .toMatch(/leaves 48 of these images for training, and the run trained on all 64 of these images, holding none out: score it on others/);
    // sample reads no summary: a malformed one fails only the commands that use it.
    const model = GatedPixelCNN.load(wholeModel, { backend: 'cpu' });
    model.save(wholeModel, { metadata: { trainingData: 'not JSON' } });
    model.dispose();
    expect(runCli('sample', '--checkpoint', wholeModel, '--labels', '0', '--per-label', '1', '--out', path.join(dir, 's.png')).status).toBe(0);
    expect(runCli('eval', '--checkpoint', wholeModel, ...files, '--test-fraction', '0.25').stderr).toMatch(/the training data's summary is malformed \(ERR_CHECKPOINT\)/);
  });

  it('a repeated --train-files adds its files to the earlier ones', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-cli-cifar-'));
    const record = (label: number) => Uint8Array.from({ length: 3073 }, (_, i) => (i === 0 ? label : (i * 7 + label) % 256));
    const [first, second] = ['a.bin', 'b.bin'].map((name) => path.join(dir, name));
    writeFileSync(first, record(1));
    writeFileSync(second, Buffer.concat([record(2), record(3)]));
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ channels: 3, height: 32, width: 32, levels: 2, hidden: 2, layers: 1, firstKernel: 3, kernel: 3, skip: 2, headHidden: 2 }));
    const trained = runCli('train', '--dataset', 'cifar10', '--train-files', first, '--train-files', second, '--config', config,
      '--steps', '1', '--batch-size', '1', '--out', path.join(dir, 'run'), '--no-progress', '--no-samples');
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/on cifar10: 3 images/);
  });

  it('sample names the flag that asks for more images than one array holds', () => {
    const { trained, checkpoint, dir } = trainTiny('gpcnn-cli-too-many-', '--steps', '1');
    expect(trained.status, trained.stderr).toBe(0);
    const asked = runCli('sample', '--checkpoint', checkpoint, '--labels', '0,1', '--per-label', '100000000', '--out', path.join(dir, 's.png'));
    expect([asked.status, asked.stderr]).toEqual([1, expect.stringMatching(/--per-label 100000000 for 2 labels asks for 200000000 images: count must be at most \d+ for images of 36 values \(ERR_ARG\)/)]);
  });

  it('eval, sample and complete use an --ema run\'s average from its checkpoint, as its evaluations and model file do, and say so', () => {
    const { data, trained, checkpoint, dir } = trainTiny('gpcnn-cli-ema-', '--ema', '0.9');
    expect(trained.status, trained.stderr).toBe(0);
    const runCheckpoint = path.join(path.dirname(checkpoint), 'checkpoint.safetensors');
    const scores = [checkpoint, runCheckpoint].map((file) => runCli('eval', '--checkpoint', file, ...data, '--json', '--no-progress'));
    for (const scored of scores) expect(scored.status, scored.stderr).toBe(0);
    const [fromModel, fromCheckpoint] = scores.map((scored) => JSON.parse(scored.stdout) as { nll: number; averaged?: true });
    expect(fromCheckpoint.nll).toBe(fromModel.nll);
    expect([fromModel.averaged, fromCheckpoint.averaged]).toEqual([undefined, true]);
    expect(scores[1].stderr).toMatch(/using the weights' moving average in .*checkpoint\.safetensors \(the run's --ema\)/);
    const sampled = runCli('sample', '--checkpoint', runCheckpoint, '--labels', '0', '--per-label', '1', '--out', path.join(dir, 's.png'));
    expect(sampled.status, sampled.stderr).toBe(0);
    expect(sampled.stderr).toMatch(/using the weights' moving average/);
    // An average of another shape than its weight (as many values) is refused, as a resume refuses it.
    const { metadata, tensors } = decodeSafetensors(readFileSync(runCheckpoint));
    const average = tensors.get('optimizer.average.head.out.bias')!;
    tensors.set('optimizer.average.head.out.bias', { ...average, shape: [1, ...average.shape] });
    const reshaped = path.join(dir, 'reshaped.safetensors');
    writeFileSync(reshaped, encodeSafetensors({ tensors, metadata }));
    expect(runCli('eval', '--checkpoint', reshaped, ...data).stderr).toMatch(/optimizer\.average\.head\.out\.bias is missing or has another shape than \[\d+\] \(ERR_CHECKPOINT\)/);
  });

  it('resumes with the same flags given again, and refuses flags that ask for other settings', () => {
    const { trained, args } = trainTiny('gpcnn-cli-resume-');
    expect(trained.status, trained.stderr).toBe(0);
    const again = runCli(...args, '--steps', '8', '--resume');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming .* at step 6/);
    const changed = runCli(...args, '--steps', '10', '--resume', '--lr', '0.5', '--batch-size', '4');
    expect(changed.status).toBe(1);
    expect(changed.stderr).toMatch(/only its budget .* may change: --batch-size 4 \(the run's: 8\), --lr 0.5 \(the run's: 0.001\)/);
    expect(runCli(...args, '--steps', '10', '--resume', '--ema', '0.99').stderr).toMatch(/--ema 0.99 \(the run's: none\)/);
    expect(runCli(...args, '--ema', '1').stderr).toMatch(/--ema must be a number between 0 and 1, got "1"/);
  });

  it('training into a path that cannot be a folder fails with ERR_IO', () => {
    const { trained } = trainTiny('gpcnn-cli-out-', '--out', path.join('/dev/null', 'run'));
    expect(trained.status).toBe(1);
    expect(trained.stderr).toMatch(/cannot write into \/dev\/null\/run.* \(ERR_IO\)/);
  });
});
