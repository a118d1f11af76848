/**
 * `sample` writes each output whole or not at all, but not the set of them: a write that
 * fails after others succeeded (a full disk, say) names those already written, so the
 * user knows what is there.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

import { main } from '../../src/cli/main';
import { PixelCNNError } from '../../src/errors';
import { trainTiny } from '../helpers/cli';

vi.mock('../../src/sample/levels-file', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/sample/levels-file')>()),
  writeLevelsFile: (file: string) => {
    throw new PixelCNNError('ERR_IO', `could not write ${file}: no space left on device`);
  },
}));

/** Runs the command in this process; its status and stderr. */
async function run(args: string[]) {
  const stderr: string[] = [];
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr.push(String(chunk));
    return true;
  });
  try {
    return { status: await main(args), stderr: stderr.join('') };
  } finally {
    write.mockRestore();
  }
}

describe('a sample command whose later write fails', () => {
  const { dir, trained, checkpoint } = trainTiny('gpcnn-cli-partial-');

  it('fails with the write error and names the outputs already written', async () => {
    expect(trained.status, trained.stderr).toBe(0);
    const out = path.join(dir, 'grid.png');
    const levels = path.join(dir, 'draws.bin');
    const result = await run(['sample', '--checkpoint', checkpoint, '--labels', '0,2', '--per-label', '2', '--per-class',
      '--levels-out', levels, '--out', out, '--no-progress']);
    expect(result.status).toBe(1);
    const perClass = [path.join(dir, 'grid-0.png'), path.join(dir, 'grid-2.png')];
    expect(result.stderr).toContain(`could not write ${levels}: no space left on device (already written: ${[out, ...perClass].join(', ')})`);
    expect(result.stderr).toMatch(/ERR_IO\)?\s*$/);
    for (const file of [out, ...perClass]) expect(existsSync(file)).toBe(true);
  });
});
