/**
 * `npm run bench` (scripts/bench/run.mjs) explains itself and refuses what it does not
 * know before it spends minutes measuring.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const script = path.resolve(__dirname, '..', '..', 'scripts', 'bench', 'run.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

describe('npm run bench', () => {
  it('prints its usage with --help', () => {
    const result = run('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/--suites LIST +some of conv,training,memory,sampling/);
  });

  it('refuses an unknown suite, an unknown option and a bad --seconds with exit code 2 and the usage', () => {
    for (const [args, message] of [
      [['--suites', 'conv,foo'], 'unknown suite foo'],
      [['--threads', '2'], "Unknown option '--threads'"],
      [['--seconds', '0'], '--seconds must be a number > 0, got 0'],
    ] as const) {
      const result = run(...args);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain('--help          this text');
    }
  });
});
