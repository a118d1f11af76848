/**
 * Temporaries left by killed writers: the next atomic write of the same target, or the
 * next image folder written into the same folder, removes those whose process is gone,
 * and nothing else (not a running process's, not another target's, not other files).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDataset } from '../../src/data/dataset';
import { writeImageFolder } from '../../src/data/write-image-folder';
import { writeFileAtomicSync } from '../../src/io/atomic-write';
import { temporaryName } from '../../src/io/temporary-names';
import { expectCode } from '../helpers/expect-code';

/** The id of a process that has ended, and of one that runs until the tests end. */
const gonePid = spawnSync(process.execPath, ['-e', '0']).pid!;
let running: ReturnType<typeof spawn>;
beforeAll(() => {
  running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
});
afterAll(() => {
  running.kill('SIGKILL');
});

/** The same name as made on another machine or in another PID namespace (a shared folder), where `pid` means another process. */
const elsewhere = (name: string): string => name.replace(/\.([0-9a-f]{6})-/, (_, where: string) => `.${where === '000000' ? '111111' : '000000'}-`);

/** A temporary named as `pid` would have named it. */
const leftBy = (pid: number, name: string): string => temporaryName(name).replace(`.${process.pid}.`, `.${pid}.`);

describe('temporaries of killed writers', () => {
  it('temporaryName gives a fresh hidden name with this process id', () => {
    const [a, b] = [temporaryName('model.safetensors'), temporaryName('model.safetensors')];
    expect(a).toMatch(new RegExp(`^\\.model\\.safetensors\\.${process.pid}\\.[0-9a-f]{6}-[0-9a-f]{6}\\.tmp$`));
    expect(a).not.toBe(b);
  });

  it("an atomic write removes its target's temporaries left by processes that are gone, and nothing else", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporaries-'));
    const target = path.join(dir, 'checkpoint.safetensors');
    const stale = [leftBy(gonePid, 'checkpoint.safetensors'), leftBy(gonePid, 'checkpoint.safetensors')];
    const kept = [
      leftBy(running.pid!, 'checkpoint.safetensors'), // its writer may still be writing
      leftBy(gonePid, 'model.safetensors'), // another target's
      `.checkpoint.safetensors.${gonePid}.notours.tmp`, // not a name we make
      elsewhere(leftBy(gonePid, 'checkpoint.safetensors')), // made on another machine or in another PID namespace
      'checkpoint.safetensors.bak',
    ];
    for (const name of [...stale, ...kept]) fs.writeFileSync(path.join(dir, name), 'x');
    writeFileAtomicSync(target, 'new');
    expect(fs.readFileSync(target, 'utf8')).toBe('new');
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint.safetensors', ...kept].sort());
  });

  it('an image folder written into an empty folder removes staging folders left by processes that are gone, and refuses one in use', () => {
    const images = createDataset({ images: Uint8Array.from({ length: 2 * 9 }, (_, i) => (i * 37) % 256), labels: new Int32Array(2).fill(-1), count: 2, channels: 1, height: 3, width: 3, classes: 0 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporaries-'));
    const staging = path.join(dir, leftBy(gonePid, 'staging'));
    fs.mkdirSync(staging);
    fs.writeFileSync(path.join(staging, '0.png'), 'half written');
    expect(writeImageFolder(dir, images)).toEqual(['0.png', '1.png']);
    expect(fs.readdirSync(dir).sort()).toEqual(['0.png', '1.png']);

    const busy = fs.mkdtempSync(path.join(os.tmpdir(), 'temporaries-'));
    fs.mkdirSync(path.join(busy, leftBy(running.pid!, 'staging')));
    expect(expectCode('ERR_IO', () => writeImageFolder(busy, images)).message).toMatch(/it is not empty/);
  });
});
