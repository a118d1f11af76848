// The CUDA cached sampler's images/s with the batch split between 1, 2, 4 and 8
// streams (GATED_PIXELCNN_SAMPLER_STREAMS; cached_sampler.cu picks min(4, ⌈batch / 64⌉)
// by default): the measurement behind that default. mnist-quick at batch 256 unless
// told otherwise.
//   node scripts/bench/sampler-streams.mjs [OUT.json [PRESET|CONFIG-JSON BATCH]]
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { cachedSampling } from './sampling.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [out, preset = 'mnist-quick', batchText = '256'] = process.argv.slice(2);
const config = preset.startsWith('{') ? JSON.parse(preset) : preset;
const batch = Number(batchText);
const backend = lib.loadBackend('cuda');
const rows = [];
for (const streams of [1, 2, 4, 8]) {
  process.env.GATED_PIXELCNN_SAMPLER_STREAMS = String(streams);
  const imagesPerSecond = await cachedSampling(lib, config, batch, { backend, repeats: 3 });
  rows.push({ streams, imagesPerSecond });
  process.stdout.write(`batch ${batch}, ${streams} stream(s): ${imagesPerSecond.toFixed(1)} img/s\n`);
}
delete process.env.GATED_PIXELCNN_SAMPLER_STREAMS;
if (out) writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
