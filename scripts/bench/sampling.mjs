// Benchmark suite: sampling images/s on the CPU, cached against naive (ours) and
// against PyTorch's naive sampler on the same model, at batch 8 and 64; a single image
// beside a batch of 8 (the cost per image should not grow: a batch of one once took
// 40 times as long an image); and how the cached sampler's cost grows with the number
// of pixels (14×14, 28×28, 56×56).
import { oursNaiveSampling, torchAvailable, torchBench } from './training.mjs';

/** Cached sampling images/s for a configuration or preset at a batch size, on `backend`. */
export async function cachedSampling(lib, config, batch, { repeats = 2, backend = 'cpu' } = {}) {
  const model = lib.GatedPixelCNN.create(config, { seed: 0, backend });
  const labels = Array.from({ length: batch }, (_, i) => i % Math.max(1, model.config.classes));
  const cond = model.config.classes ? { labels } : {};
  await model.sample({ count: batch, ...cond, seed: 0, batchSize: batch }); // warm-up
  const started = performance.now();
  for (let r = 0; r < repeats; r++) await model.sample({ count: batch, ...cond, seed: r + 1, batchSize: batch });
  const seconds = (performance.now() - started) / 1000 / repeats;
  model.dispose();
  return batch / seconds;
}

export async function runSamplingSuite(lib, { threads }) {
  const torch = torchAvailable();
  const rows = [];
  for (const preset of ['mnist-tiny', 'mnist-quick']) {
    for (const batch of [8, 64]) {
      const positions = batch === 8 ? 28 : 8; // the naive samplers are timed over these, then scaled
      const cached = await cachedSampling(lib, preset, batch);
      const naive = oursNaiveSampling(lib, preset, batch, positions);
      const torchNaive = torch
        ? torchBench(['sample', '--config', JSON.stringify(lib.PRESETS[preset]), '--batch', String(batch), '--positions', String(positions), '--threads', String(threads)]).imagesPerSecond
        : null;
      rows.push({ preset, batch, cached, naive, torchNaive, vsNaive: cached / naive, vsTorch: torchNaive ? cached / torchNaive : null });
      process.stderr.write(`  ${preset} batch ${batch}: cached ${cached.toFixed(1)} img/s, naive ${naive.toFixed(3)}, PyTorch naive ${torchNaive?.toFixed(3) ?? 'n/a'}\n`);
    }
  }
  const single = [];
  for (const preset of ['mnist-tiny', 'mnist-quick']) {
    const imagesPerSecond = await cachedSampling(lib, preset, 1, { repeats: 4 });
    const batchOf8 = rows.find((r) => r.preset === preset && r.batch === 8).cached;
    single.push({ preset, imagesPerSecond, batchOf8, ratio: imagesPerSecond / batchOf8 });
  }
  const scaling = [];
  for (const size of [14, 28, 56]) {
    const config = { ...lib.PRESETS['mnist-quick'], height: size, width: size };
    const imagesPerSecond = await cachedSampling(lib, config, 8);
    scaling.push({ size, pixels: size * size, imagesPerSecond, microsecondsPerPixel: 1e6 / imagesPerSecond / (size * size) });
  }
  return { rows, single, scaling };
}
