/**
 * The published package (what `npm pack` puts in it, package.json's "files") holds what
 * an install builds and runs from: CMake configures the addons from the packed files
 * alone (a source the build names but the package leaves out fails every install), and
 * the entry points package.json names are there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..', '..');

/** The files `npm pack` would put in the package, relative to the root. */
function packedFiles(): string[] {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const report = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  return (JSON.parse(report) as { files: { path: string }[] }[])[0].files.map((file) => file.path);
}

describe('the packed package', () => {
  const files = packedFiles();

  it('holds the entry points package.json names', () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { main: string; types: string; bin: Record<string, string> };
    for (const entry of [manifest.main, manifest.types, ...Object.values(manifest.bin)]) expect(files).toContain(entry);
  });

  it('holds every file its README links to and its licence, without source maps or the CUDA emulator', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\(([^)#:]+)(?:#[^)]*)?\)/g)].map((link) => link[1]);
    expect(linked.length).toBeGreaterThan(0);
    for (const file of [...linked, 'README.md', 'LICENSE']) expect(files).toContain(file);
    // Maps point to TypeScript sources the package does not hold; the emulator is for this repository's tests.
    expect(files.filter((file) => file.endsWith('.map') || (file.startsWith('native/cuda_emu/') && file !== 'native/cuda_emu/README.md'))).toEqual([]);
  });

  it('configures with CMake from its files alone', () => {
    const unpacked = mkdtempSync(path.join(os.tmpdir(), 'gpcnn-packed-'));
    for (const file of files) {
      mkdirSync(path.dirname(path.join(unpacked, file)), { recursive: true });
      copyFileSync(path.join(root, file), path.join(unpacked, file));
    }
    // An install has the dependencies beside it (node-addon-api, cmake-js).
    symlinkSync(path.join(root, 'node_modules'), path.join(unpacked, 'node_modules'));
    const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
    try {
      const configured = spawnSync(process.execPath, [cmakeJs, 'configure', '--log-level', 'warn', '--out', path.join(unpacked, 'build')], {
        cwd: unpacked, encoding: 'utf8', timeout: 120_000,
      });
      expect(configured.status, configured.stdout + configured.stderr).toBe(0);
    } finally {
      rmSync(unpacked, { recursive: true, force: true });
    }
  }, 150_000);
});
