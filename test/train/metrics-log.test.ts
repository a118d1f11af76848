/**
 * The metrics log appends each line whole or not at all: a disk that fills up partway
 * through a line leaves the log as it was, which tools reading it line by line can parse.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { distModule, runWithFileSizeLimit } from '../helpers/file-size-limit';

describe.runIf(process.platform === 'linux')('MetricsLog', () => {
  it('leaves no part of a line that the disk had no room for (ERR_IO)', () => {
    const log = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpcnn-metrics-')), 'metrics.jsonl');
    // 3,500 bytes of earlier lines, under the 4 KiB the writer may fill: the next line straddles it.
    const earlier = Array.from({ length: 30 }, (_, step) => JSON.stringify({ type: 'train', step, note: 'x'.repeat(80) })).join('\n') + '\n';
    writeFileSync(log, earlier);
    const script = `
      const { MetricsLog } = require(${JSON.stringify(distModule('train/metrics-log'))});
      const log = new MetricsLog(${JSON.stringify(log)}, 29);
      try { log.write({ type: 'train', step: 30, note: 'y'.repeat(1000) }); } catch (error) { console.log(error.code, error.message); }`;
    const run = runWithFileSizeLimit(4, script);
    expect(run.stdout, run.stderr).toMatch(/^ERR_IO could not write .*metrics\.jsonl: EFBIG/);
    expect(readFileSync(log, 'utf8')).toBe(earlier);
  });
});
