// One cached sampling of a batch on one backend, for kernel profilers such as ncu
// (scripts/device-check.sh times the sampler's kernels and looks inside one with it):
//   node scripts/bench/sample-once.mjs PRESET|CONFIG-JSON BATCH [BACKEND]
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [preset = 'mnist-quick', batch = '256', backend = 'auto'] = process.argv.slice(2);
const model = lib.GatedPixelCNN.create(preset.startsWith('{') ? JSON.parse(preset) : preset, {
  seed: 0,
  backend: lib.loadBackend(backend),
});
const count = Number(batch);
const labels = model.config.classes ? Array.from({ length: count }, (_, i) => i % model.config.classes) : undefined;
const started = performance.now();
await model.sample({ count, labels, seed: 1, batchSize: count });
process.stdout.write(`sampled ${count} images in ${((performance.now() - started) / 1000).toFixed(3)} s\n`);
model.dispose();
