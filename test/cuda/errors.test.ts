/**
 * CUDA failures become coded JS errors and never end the process: running out of
 * device memory names the size asked for and leaves the backend working; after a
 * device fault the backend refuses further work with the original reason. The fault
 * is made on purpose, so that test needs the CUDA emulator (GATED_PIXELCNN_CUDA_EMULATOR=1,
 * GATED_PIXELCNN_EMULATOR_FAULT_AT); the rest also runs on a GPU. Skips without either.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadBackend } from '../../src';
import { cudaAvailable, emulatorRequested } from '../helpers/cuda';
import { expectCode } from '../helpers/expect-code';

describe.skipIf(!cudaAvailable)('CUDA errors', () => {
  it('a tensor larger than the device gets ERR_CUDA_OOM naming the size, and the backend keeps working', () => {
    const be = loadBackend('cuda');
    const error = expectCode('ERR_CUDA_OOM', () => be.zeros([2 ** 38])); // 1 TiB
    expect(error.message).toContain(String(2 ** 40));
    const x = be.tensor(Float32Array.of(-1, 2, -3), [3]);
    expect([...be.relu(x).toArray()]).toEqual([0, 2, 0]);
  });

  it.runIf(emulatorRequested)('after a device fault, every call refuses with the first reason; the CPU still works', () => {
    const dist = JSON.stringify(path.resolve(__dirname, '..', '..', 'dist'));
    // In a child process: a fault is for the life of the process, as on a device.
    const script = `
      const { loadBackend } = require(${dist});
      const cuda = loadBackend('cuda'), cpu = loadBackend('cpu');
      const x = cuda.tensor(Float32Array.of(-1, 2), [2]);
      const codeOf = (call) => { try { call(); return 'none'; } catch (e) { return e.code + ': ' + e.message; } };
      const first = codeOf(() => cuda.relu(x));  // the first launch fails
      const later = codeOf(() => cuda.add(x, x));
      const upload = codeOf(() => cuda.tensor(Float32Array.of(1), [1]));
      const onCpu = [...cpu.relu(cpu.tensor(Float32Array.of(-1, 2), [2])).toArray()];
      console.log(JSON.stringify({ first, later, upload, onCpu }));
    `;
    const output = execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, GATED_PIXELCNN_EMULATOR_FAULT_AT: '1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const { first, later, upload, onCpu } = JSON.parse(output.toString());
    expect(first).toMatch(/^ERR_CUDA: .*cudaErrorLaunchFailure/);
    for (const refusal of [later, upload]) {
      expect(refusal).toMatch(/^ERR_CUDA: .*unusable after an earlier fault.*cudaErrorLaunchFailure/);
    }
    expect(onCpu).toEqual([0, 2]);
  });
});
