#!/usr/bin/env node
// The sampling script: the same as `gated-pixelcnn sample` (see --help), e.g.
//   node scripts/sample.mjs --checkpoint runs/mnist-tiny/model.safetensors --labels 0-9 \
//     --per-label 100 --batch-size 64 --out grid.png --per-class --levels-out samples.u8
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { main } = require(path.resolve(import.meta.dirname, '..', 'dist', 'cli', 'main.js'));
process.exitCode = await main(['sample', ...process.argv.slice(2)]);
