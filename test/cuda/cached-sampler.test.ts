/**
 * The cached sampler on the GPU (native/cuda/cached_sampler.cu): the logits of every
 * draw match a full forward pass; with the same weights and seed it draws the CPU
 * cached sampler's images (both sum in fp32, in different orders, so a draw could in
 * principle differ by rounding; with these fixed seeds none does); known pixels are
 * kept; an AbortSignal stops it. Skips without a GPU. It checks that the designs that
 * GATED_PIXELCNN_SAMPLER and GATED_PIXELCNN_SAMPLER_VERTICAL ask for ran
 * (`npm run test:cuda-emulator` runs it with the defaults, tile and cublas, with
 * cluster and cudnn, with graph, and with tiles of 4): clusters where the device has them (sm_90), cuBLAS where the
 * addon was built with it (always on the emulator).
 */
import { describe, expect, it } from 'vitest';

import { loadBackend, PRESETS, type ConfigInput, type SampleOptions } from '../../src';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { runCachedSampler } from '../../src/sample/cached';
import { sampleNaive } from '../../src/sample/naive';
import { normalizedError } from '../helpers/compare';
import { cudaAvailable, emulatorRequested, tf32 } from '../helpers/cuda';
import { randomKnown, samplerConditioning, samplerConfigs } from '../helpers/sampler-configs';

/** The designs asked for, as they run on this device, for models whose share fits a block. */
function expected(): { design: 'graph' | 'cluster' | 'tile'; vertical: 'cudnn' | 'cublas'; rowGraph: true } {
  const capability = Number(loadBackend('cuda').features.computeCapability);
  const cublas = loadBackend('cuda').features.cublas === true;
  const asked = (process.env.GATED_PIXELCNN_SAMPLER ?? 'tile') as 'graph' | 'cluster' | 'tile';
  return {
    design: asked === 'cluster' && capability < 9 ? 'graph' : asked, // clusters need sm_90
    vertical: process.env.GATED_PIXELCNN_SAMPLER_VERTICAL !== 'cudnn' && cublas ? 'cublas' : 'cudnn',
    rowGraph: true, // each row one graph: the vertical stage's library calls captured with the positions
  };
}

describe.skipIf(!cudaAvailable)('CUDA cached sampler', () => {
  describe.each(samplerConfigs)('$name', ({ name, ...config }) => {
    const onGpu = () => GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed: name.length });
    const onCpu = () => GatedPixelCNN.create(config, { backend: loadBackend('cpu'), seed: name.length });
    const count = 6;

    it('a full forward pass on the result reproduces the logits of every draw', async () => {
      const model = onGpu();
      const cond = samplerConditioning(model, count, 1);
      const { levels, logits, design, vertical, rowGraph } = await runCachedSampler(model, { count, ...cond, seed: 3 }, { keepLogits: true });
      expect({ design, vertical, rowGraph }).toEqual(expected());
      expect(normalizedError(logits!, model.logits(levels, cond))).toBeLessThanOrEqual(tf32 ? 5e-3 : 1e-4);
      model.dispose();
    });

    it("draws the CPU's images for the same weights and seed, keeping known pixels", async () => {
      const gpu = onGpu(), cpu = onCpu();
      const cond = samplerConditioning(gpu, count, 1);
      const known = randomKnown(gpu.config, count, 5);
      for (const options of [{ seed: 8, temperature: 0.8 }, { seed: 2, known }]) {
        const drawn = await gpu.sample({ count, ...cond, ...options });
        expect(drawn).toEqual(await cpu.sample({ count, ...cond, ...options }));
        // The naive sampler on the GPU too, where the forward pass is fp32 as well.
        if (!tf32) expect(drawn).toEqual(sampleNaive(gpu, { count, ...cond, ...options }));
      }
      gpu.dispose();
      cpu.dispose();
    });
  });

  /** The GPU draws the CPU's images for the same weights (seeded `seed`) and `options`. */
  async function expectCpuDraws(config: ConfigInput, seed: number, options: SampleOptions): Promise<void> {
    const gpu = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed });
    const cpu = GatedPixelCNN.create(config, { backend: loadBackend('cpu'), seed });
    const drawn = await gpu.sample(options);
    expect(drawn).toEqual(await cpu.sample(options));
    gpu.dispose();
    cpu.dispose();
  }

  /**
   * expectCpuDraws, and a full forward pass reproduces the logits of every draw: the draws
   * alone could miss a lost term, the logits would not.
   */
  async function expectCpuDrawsAndLogits(config: ConfigInput, seed: number, options: SampleOptions): Promise<void> {
    await expectCpuDraws(config, seed, options);
    const model = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed });
    const { levels, logits } = await runCachedSampler(model, options, { keepLogits: true });
    expect(normalizedError(logits!, model.logits(levels, {}))).toBeLessThanOrEqual(tf32 ? 5e-3 : 1e-4);
    model.dispose();
  }

  it('samples a batch of many tiles of images, the last one partial, with the same results', async () => {
    // The products run over tiles of 16 images (batch_gemm.cuh) and 32 outputs, and the
    // head's hidden product draws its tiles' images: 44 images end in a tile of 12, and 40
    // outputs (2P) in a tile of 8. (Few images, few draws: the GPU and the CPU sum in
    // different orders, so every draw is a small chance of a rounding tie.)
    const config = { channels: 1, height: 6, width: 5, levels: 4, hidden: 20, layers: 3, firstKernel: 5, kernel: 3, skip: 8, headHidden: 8, classes: 10 };
    const count = 44;
    const labels = Array.from({ length: count }, (_, i) => i % 10);
    await expectCpuDraws(config, 4, { count, labels, seed: 11, batchSize: count });
  });

  it('samples a model whose products split k between all four groups of threads, the last one partial', async () => {
    // batch_gemm.cuh splits each product's k between 4 groups, 32 at a step: with
    // hidden 50 the second block's pre-activation product is 100 deep (two taps of 50:
    // 32 + 32 + 32 + 4), the head's hidden one 120 (32 + 32 + 32 + 24).
    const config = { channels: 1, height: 4, width: 4, levels: 4, hidden: 50, layers: 2, firstKernel: 3, kernel: 3, skip: 120, headHidden: 8, classes: 0 };
    await expectCpuDrawsAndLogits(config, 7, { count: 3, seed: 9 });
  });

  it('samples images wider than a tile of 32 columns, with the same draws and logits', async () => {
    // The vertical stage's finishing kernel stores v_hist through tiles of 32 columns
    // (sampler_vertical.cuh): 37 columns end in a tile of 5.
    const config = { channels: 1, height: 3, width: 37, levels: 4, hidden: 12, layers: 2, firstKernel: 3, kernel: 3, skip: 8, headHidden: 8, classes: 0 };
    await expectCpuDrawsAndLogits(config, 8, { count: 2, seed: 13 });
  });

  it('samples a model whose products are deeper than many steps of a tile (a head of 6400 units)', async () => {
    const config = { channels: 1, height: 3, width: 3, levels: 4, hidden: 4, layers: 1, firstKernel: 3, kernel: 3, skip: 8, headHidden: 6400, classes: 0 };
    await expectCpuDraws(config, 6, { count: 2, seed: 5 });
    // The cluster design would need more shared memory than a block has, as would tiles of
    // 4 or 8 images (the head's units twice an image, 205 KB and more, with the sums' parts
    // past 227 KB): they fall back. Tiles of 2 fit.
    const model = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed: 6 });
    const tilesOfTwo = (process.env.GATED_PIXELCNN_SAMPLER ?? 'tile') === 'tile' && (process.env.GATED_PIXELCNN_SAMPLER_TILE ?? '2') === '2';
    expect((await runCachedSampler(model, { count: 1, seed: 5 }, { keepLogits: false })).design).toBe(tilesOfTwo ? 'tile' : 'graph');
    model.dispose();
  });

  it('samples a model whose outputs per cluster rank span several tiles of 32', async () => {
    // With clusters of 8 blocks, hidden 136 gives each rank 17 channels, 34
    // pre-activation outputs (two tiles); a head of 40 units is two tiles too.
    const config = { channels: 1, height: 3, width: 4, levels: 4, hidden: 136, layers: 2, firstKernel: 3, kernel: 3, skip: 24, headHidden: 40, classes: 0 };
    await expectCpuDraws(config, 3, { count: 3, seed: 4 });
    const model = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed: 3 });
    const { levels, logits, design, vertical, rowGraph } = await runCachedSampler(model, { count: 3, seed: 4 }, { keepLogits: true });
    expect({ design, vertical, rowGraph }).toEqual(expected());
    expect(normalizedError(logits!, model.logits(levels, {}))).toBeLessThanOrEqual(tf32 ? 5e-3 : 1e-4);
    model.dispose();
  });

  it.skipIf(!emulatorRequested)('queues what the device refuses to capture call by call, with the same draws', async () => {
    const [{ name, ...config }] = samplerConfigs;
    const model = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed: name.length });
    const options = { count: 5, ...samplerConditioning(model, 5, 3), seed: 6, temperature: 0.9 };
    const captured = await runCachedSampler(model, options, { keepLogits: true });
    expect([captured.rowGraph, captured.captureRefused]).toEqual([true, '']);
    // The emulated cuDNN and cuBLAS fail on a capturing stream and invalidate its capture
    // (then only the positions are a graph); with "kernels" the positions' capture fails
    // too (then every launch is queued by the host).
    const library = expected().vertical === 'cublas' ? /^cuBLAS: / : /^cuDNN: /;
    for (const [uncaptured, refusal] of [['cudnn,cublas', library], ['cudnn,cublas,kernels', /^cudaErrorStreamCaptureUnsupported: /]] as const) {
      process.env.GATED_PIXELCNN_EMULATOR_UNCAPTURED = uncaptured;
      let queued;
      try {
        queued = await runCachedSampler(model, options, { keepLogits: true });
      } finally {
        delete process.env.GATED_PIXELCNN_EMULATOR_UNCAPTURED;
      }
      expect(queued.rowGraph).toBe(false);
      expect(queued.captureRefused).toMatch(refusal);
      expect(queued.levels).toEqual(captured.levels);
      expect(queued.logits).toEqual(captured.logits);
    }
    // Nothing is left behind: the next sample captures its rows again.
    expect((await runCachedSampler(model, options, { keepLogits: false })).rowGraph).toBe(true);
    model.dispose();
  });

  it('splits each batch between concurrent jobs (GATED_PIXELCNN_SAMPLER_JOBS) with the same draws and whole-batch progress', async () => {
    const [{ name, ...config }] = samplerConfigs;
    const model = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed: name.length });
    const options = { count: 7, batchSize: 7, ...samplerConditioning(model, 7, 2), seed: 4 };
    const alone = await model.sample(options);
    const progress: number[] = [];
    process.env.GATED_PIXELCNN_SAMPLER_JOBS = '3';
    try {
      expect(await model.sample({ ...options, onProgress: (done) => progress.push(done) })).toEqual(alone);
    } finally {
      delete process.env.GATED_PIXELCNN_SAMPLER_JOBS;
    }
    // Each report counts the rows every job has done; the last says all of them.
    expect(progress.every((done, k) => k === 0 || done >= progress[k - 1])).toBe(true);
    expect(progress.at(-1)).toBe(config.height);
    model.dispose();
  });

  it.each(['GATED_PIXELCNN_SAMPLER', 'GATED_PIXELCNN_SAMPLER_VERTICAL', 'GATED_PIXELCNN_SAMPLER_JOBS', 'GATED_PIXELCNN_SAMPLER_TILE'])('refuses an unknown %s with ERR_ARG', async (name) => {
    const model = GatedPixelCNN.create({ channels: 1, height: 3, width: 3, levels: 4, hidden: 8, layers: 1, headHidden: 4 }, { backend: loadBackend('cuda'), seed: 1 });
    const before = process.env[name];
    process.env[name] = 'rows';
    try {
      await expect(model.sample({ count: 1 })).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringContaining(name) });
    } finally {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    }
    model.dispose();
  });

  it('fails with ERR_DIVERGED where finite weights overflow the logits, and samples again after', async () => {
    const config = { channels: 1, height: 4, width: 4, levels: 4, hidden: 4, layers: 1 };
    const backend = loadBackend('cuda');
    const huge = GatedPixelCNN.create(config, { backend, seed: 1 });
    for (const p of huge.parameters.list()) backend.write(p.value, p.value.toFloat32Array().fill(1e30));
    await expect(huge.sample({ count: 3 })).rejects.toMatchObject({ code: 'ERR_DIVERGED', message: expect.stringMatching(/logits are not finite/) });
    huge.dispose();
    await expectCpuDraws(config, 2, { count: 3, seed: 1 });
  });

  it('reports progress per row and stops on an AbortSignal with ERR_ABORTED', async () => {
    const model = GatedPixelCNN.create({ channels: 1, height: 16, width: 16, levels: 4, hidden: 32, layers: 4, firstKernel: 7, kernel: 3, headHidden: 16 }, { backend: loadBackend('cuda'), seed: 1 });
    const progress: number[] = [];
    await model.sample({ count: 8, onProgress: (done) => progress.push(done) });
    expect(progress.at(-1)).toBe(16);
    model.dispose();
    // Rows are quick on a GPU and progress reports can merge, so: a job of many slower
    // rows, stopped at the first report it makes. On the emulator every row is slow.
    const size = emulatorRequested ? { hidden: 16, skip: 16, height: 24, width: 24 } : { height: 96, width: 96 };
    const big = GatedPixelCNN.create({ ...PRESETS['mnist-quick'], ...size }, { backend: loadBackend('cuda'), seed: 1 });
    const stop = new AbortController();
    let reports = 0;
    const run = big.sample({ count: 64, labels: Array.from({ length: 64 }, (_, i) => i % 10), signal: stop.signal, onProgress: () => { if (reports++ === 0) stop.abort(); } });
    await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    big.dispose();
  });
});
