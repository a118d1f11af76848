/** This package's version, as its package.json gives it (for `--version` and `info`). */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

// src/cli and dist/cli both sit two levels below the package root.
export const packageVersion: string = (
  JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
).version;
