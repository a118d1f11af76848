/**
 * Inputs: a device such as /dev/zero would fill memory, so it is refused at once, naming
 * what it is, by every reader of inputs (data files, image folders, checkpoints); a pipe
 * the user names (`--config <(…)`) is read to its end, up to a limit, but one found in an
 * image folder, which would hang the loader, is refused.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadImageFolder } from '../../src/data/image-folder';
import { loadIdxImages } from '../../src/data/mnist';
import { readRegularFile } from '../../src/io/read-regular-file';
import { GatedPixelCNN } from '../../src/nn/gated-pixelcnn';
import { cpu } from '../helpers/backend';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'read-regular-'));
const fifo = path.join(dir, 'pipe.png');

describe.runIf(process.platform === 'linux')('readRegularFile', () => {
  execFileSync('mkfifo', [fifo]);

  it('reads a regular file and a pipe, and refuses a device, a folder and a pipe not to be read at once, saying what each is', () => {
    const file = path.join(dir, 'bytes');
    fs.writeFileSync(file, Uint8Array.of(1, 2, 3));
    expect([...readRegularFile(file)]).toEqual([1, 2, 3]);
    expect(() => readRegularFile(fifo, { pipes: false })).toThrow(/it is a pipe, not a regular file/);
    // A pipe named on purpose is read to its end (the writer starts before the read waits).
    spawn('sh', ['-c', `printf abc > '${fifo}'`]);
    expect(readRegularFile(fifo).toString()).toBe('abc');
    // One that never ends fails past its limit instead of filling memory.
    const endless = spawn('sh', ['-c', `exec cat /dev/zero > '${fifo}'`]);
    expect(() => readRegularFile(fifo, { pipeLimit: 3 << 20 })).toThrow(/it is a pipe that gave more than 3145728 bytes/);
    endless.kill();
    spawn('sh', ['-c', `head -c ${3 << 20} /dev/zero > '${fifo}'`]);
    expect(readRegularFile(fifo, { pipeLimit: 3 << 20 })).toEqual(Buffer.alloc(3 << 20));
    expect(() => readRegularFile('/dev/zero')).toThrow(/it is a device, not a regular file/);
    expect(() => readRegularFile(dir)).toThrow(/it is a folder, not a regular file/);
    expect(() => readRegularFile(path.join(dir, 'missing'))).toThrow(/ENOENT/);
  });

  it('guards every reader of inputs: ERR_IO for a device or a pipe in an image folder, ERR_ARG for a path that is not a string', () => {
    const folder = path.join(dir, 'images');
    fs.mkdirSync(folder);
    fs.renameSync(fifo, path.join(folder, 'a.png'));
    expect(() => loadImageFolder(folder)).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/a\.png: it is a pipe/) }));
    expect(() => loadIdxImages('/dev/zero')).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/it is a device/) }));
    expect(() => GatedPixelCNN.load('/dev/zero', { backend: cpu })).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/it is a device/) }));
    // A number would be taken as a file descriptor: 0 would wait on stdin.
    expect(() => GatedPixelCNN.load(0 as unknown as string, { backend: cpu })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    const model = GatedPixelCNN.create({ channels: 1, height: 4, width: 4, levels: 4, hidden: 4, layers: 1 }, { backend: cpu });
    expect(() => model.save(null as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    model.dispose();
  });
});
