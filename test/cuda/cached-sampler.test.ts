/**
 * The cached sampler on the GPU (native/cuda/cached_sampler.cu): the logits of every
 * draw match a full forward pass; it runs the same steps as the CPU's portable run
 * (test/sample/cached.test.ts), so with the same weights and seed it draws the same
 * images; known pixels are kept; an AbortSignal stops it. Skips without a GPU.
 */
import { describe, expect, it } from 'vitest';

import { loadBackend, PRESETS, type ConfigInput, type SampleOptions } from '../../src';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { runCachedSampler } from '../../src/sample/cached';
import { sampleNaive } from '../../src/sample/naive';
import { normalizedError } from '../helpers/compare';
import { cudaAvailable, tf32 } from '../helpers/cuda';
import { randomKnown, samplerConditioning, samplerConfigs } from '../helpers/sampler-configs';

describe.skipIf(!cudaAvailable)('CUDA cached sampler', () => {
  describe.each(samplerConfigs)('$name', ({ name, ...config }) => {
    const onGpu = () => GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed: name.length });
    const onCpu = () => GatedPixelCNN.create(config, { backend: loadBackend('cpu'), seed: name.length });
    const count = 6;

    it('a full forward pass on the result reproduces the logits of every draw', async () => {
      const model = onGpu();
      const cond = samplerConditioning(model, count, 1);
      const { levels, logits } = await runCachedSampler(model, { count, ...cond, seed: 3 }, { keepLogits: true });
      expect(normalizedError(logits!, model.logits(levels, cond))).toBeLessThanOrEqual(tf32 ? 5e-3 : 1e-4);
      model.dispose();
    });

    it("draws the CPU's images for the same weights and seed, keeping known pixels", async () => {
      const gpu = onGpu(), cpu = onCpu();
      const cond = samplerConditioning(gpu, count, 1);
      const known = randomKnown(gpu.config, count, 5);
      for (const options of [{ seed: 8, temperature: 0.8 }, { seed: 2, known }]) {
        const drawn = await gpu.sample({ count, ...cond, ...options });
        const portable = await runCachedSampler(cpu, { count, ...cond, ...options }, { keepLogits: false, portableSteps: true });
        expect(drawn).toEqual(portable.levels);
        // The naive sampler on the GPU too, where the forward pass is fp32 as well.
        if (!tf32) expect(drawn).toEqual(sampleNaive(gpu, { count, ...cond, ...options }));
      }
      gpu.dispose();
      cpu.dispose();
    });
  });

  /** The GPU draws the CPU's portable images for the same weights (seeded `seed`) and `options`. */
  async function expectPortableDraws(config: ConfigInput, seed: number, options: SampleOptions): Promise<void> {
    const gpu = GatedPixelCNN.create(config, { backend: loadBackend('cuda'), seed });
    const cpu = GatedPixelCNN.create(config, { backend: loadBackend('cpu'), seed });
    const drawn = await gpu.sample(options);
    const portable = await runCachedSampler(cpu, options, { keepLogits: false, portableSteps: true });
    expect(drawn).toEqual(portable.levels);
    gpu.dispose();
    cpu.dispose();
  }

  it('groups several images per thread block for large batches, with the same results', async () => {
    const config = { channels: 1, height: 6, width: 5, levels: 4, hidden: 8, layers: 3, firstKernel: 5, kernel: 3, skip: 8, headHidden: 8, classes: 10 };
    const count = 1000; // more images than multiprocessors: up to 4 per block
    const labels = Array.from({ length: count }, (_, i) => i % 10);
    await expectPortableDraws(config, 4, { count, labels, seed: 11, batchSize: count });
  });

  it('gives an image more than 48 KiB of shared memory when the model needs it (opting in)', async () => {
    // One image's scratch (sampler_steps.h): S + 5P + taps + 2Q + K floats and K + 1 doubles
    // = 8 + 20 + 8 + 12 800 + 4 floats and 5 doubles = 51 400 bytes > 49 152.
    const config = { channels: 1, height: 3, width: 3, levels: 4, hidden: 4, layers: 1, firstKernel: 3, kernel: 3, skip: 8, headHidden: 6400, classes: 0 };
    await expectPortableDraws(config, 6, { count: 2, seed: 5 });
  });

  it('reports progress per row and stops on an AbortSignal with ERR_ABORTED', async () => {
    const model = GatedPixelCNN.create({ channels: 1, height: 16, width: 16, levels: 4, hidden: 32, layers: 4, firstKernel: 7, kernel: 3, headHidden: 16 }, { backend: loadBackend('cuda'), seed: 1 });
    const progress: number[] = [];
    await model.sample({ count: 8, onProgress: (done) => progress.push(done) });
    expect(progress.at(-1)).toBe(16);
    model.dispose();
    // Rows are quick on a GPU and progress reports can merge, so: a job of many slower
    // rows, stopped at the first report it makes.
    const big = GatedPixelCNN.create({ ...PRESETS['mnist-quick'], height: 96, width: 96 }, { backend: loadBackend('cuda'), seed: 1 });
    const stop = new AbortController();
    let reports = 0;
    const run = big.sample({ count: 64, labels: Array.from({ length: 64 }, (_, i) => i % 10), signal: stop.signal, onProgress: () => { if (reports++ === 0) stop.abort(); } });
    await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    big.dispose();
  });
});
