// One cached sampling of a batch on one backend, for kernel profilers such as ncu
// (scripts/device-check.sh times the sampler's kernels and looks inside one with it),
// or REPEAT of them one after another, each timed, to compare settings (the first one
// includes the sampler's one-time setup):
//   node scripts/bench/sample-once.mjs PRESET|CONFIG-JSON BATCH [BACKEND] [REPEAT]
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [preset = 'mnist-quick', batch = '256', backend = 'auto', repeat = '1'] = process.argv.slice(2);
const model = lib.GatedPixelCNN.create(preset.startsWith('{') ? JSON.parse(preset) : preset, {
  seed: 0,
  backend: lib.loadBackend(backend),
});
const count = Number(batch);
const labels = model.config.classes ? Array.from({ length: count }, (_, i) => i % model.config.classes) : undefined;
for (let run = 0; run < Number(repeat); run++) {
  const started = performance.now();
  await model.sample({ count, labels, seed: 1 + run, batchSize: count });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`sampled ${count} images in ${seconds.toFixed(3)} s (${(count / seconds).toFixed(1)} images/s)\n`);
}
model.dispose();
