// A fixed number of training steps on one backend, for kernel profilers such as ncu
// (scripts/device-check.sh), which slow every kernel down so that a timed loop would
// hardly run: node scripts/bench/train-steps.mjs PRESET|CONFIG-JSON BATCH STEPS [BACKEND] [graph|eager]
// (graph, the default: steps replayed as CUDA graphs where the backend can; eager: every step's ops called one by one)
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { oursTrainingSteps } from './training.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.resolve(import.meta.dirname, '..', '..', 'dist'));
const [preset = 'mnist-quick', batch = '64', steps = '2', backend = 'auto', mode = 'graph'] = process.argv.slice(2);
const model = preset.startsWith('{') ? JSON.parse(preset) : preset;
oursTrainingSteps(lib, model, Number(batch), Number(steps), lib.loadBackend(backend), mode === 'eager' ? false : 'auto');
