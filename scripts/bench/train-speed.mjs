// Training images/s of ours alone (forward, backward, Adam; the loss read back each
// step), to compare settings side by side in one run (scripts/device-check.sh):
//   node scripts/bench/train-speed.mjs PRESET|CONFIG-JSON BATCH SECONDS [BACKEND]
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { oursTraining } from './training.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [preset = 'mnist-quick', batch = '64', seconds = '5', backend = 'auto'] = process.argv.slice(2);
const model = preset.startsWith('{') ? JSON.parse(preset) : preset;
const imagesPerSecond = oursTraining(lib, model, Number(batch), Number(seconds), backend);
process.stdout.write(`training ${preset.startsWith('{') ? 'config' : preset}, batch ${batch}: ${imagesPerSecond.toFixed(1)} images/s\n`);
