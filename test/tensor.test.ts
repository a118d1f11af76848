/** Native tensors: round trips for every dtype and rank, dispose(), and the finalizer. */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { PixelCNNError } from '../src';
import { cpu } from './helpers/backend';
import { makeRng } from './helpers/random';

describe('tensors', () => {
  const rng = makeRng(1);
  it.each([
    ['float32', Float32Array.from({ length: 24 }, () => rng() * 2 - 1)],
    ['int32', Int32Array.from({ length: 24 }, () => Math.floor(rng() * 2e9 - 1e9))],
    ['uint8', Uint8Array.from({ length: 24 }, () => Math.floor(rng() * 256))],
  ] as const)('%s data round-trips through native memory', (dtype, data) => {
    const t = cpu.tensor(data, [2, 3, 4]);
    expect(t.dtype).toBe(dtype);
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.size).toBe(24);
    expect(t.toArray()).toEqual(data);
    t.dispose();
  });

  it('takes 1 to 5 dimensions and copies from a view at a byte offset', () => {
    const backing = Float32Array.from({ length: 40 }, (_, i) => i + 0.5);
    const view = backing.subarray(8, 8 + 32);
    for (const shape of [[32], [4, 8], [2, 2, 8], [2, 2, 2, 4], [2, 2, 2, 2, 2]]) {
      const t = cpu.tensor(view, shape);
      expect(t.toFloat32Array()).toEqual(view);
      t.dispose();
    }
  });

  it('zeros() makes zero-filled tensors of each dtype', () => {
    expect([...cpu.zeros([3, 2]).toFloat32Array()]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...cpu.zeros([4], 'int32').toArray()]).toEqual([0, 0, 0, 0]);
    expect([...cpu.zeros([1, 1, 1, 1, 2], 'uint8').toArray()]).toEqual([0, 0]);
  });

  it('a disposed tensor throws ERR_DISPOSED when read or used; disposing twice is harmless', () => {
    const t = cpu.tensor(new Float32Array([1, 2, 3]), [3]);
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.toArray()).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
    expect(() => cpu.relu(t)).toThrow(PixelCNNError);
    expect(() => cpu.relu(t)).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });

  it('the finalizer frees tensors that were never disposed', () => {
    // 150 tensors of 16 MB (2.4 GB in all), none disposed: memory must stay bounded.
    // Node runs Node-API finalizers after the current task, hence the setImmediate.
    const script = `
      const { loadBackend } = require(${JSON.stringify(path.resolve(__dirname, '..', 'dist'))});
      const cpu = loadBackend('cpu');
      (async () => {
        let peak = 0;
        for (let i = 0; i < 150; i++) {
          cpu.zeros([4, 1024, 1024]);
          if (i % 10 === 9) {
            global.gc();
            await new Promise(setImmediate);
          }
          peak = Math.max(peak, process.memoryUsage().rss);
        }
        console.log(peak);
      })();
    `;
    const peak = Number(execFileSync(process.execPath, ['--expose-gc', '-e', script]).toString());
    expect(peak).toBeLessThan(800 * 1024 * 1024);
  });

  // V8 hears of native memory only as its peak grows (native/napi/external_memory_hint.h).
  const dist = JSON.stringify(path.resolve(__dirname, '..', 'dist'));
  it('memory held by undisposed tensors still sets off collections on its own', () => {
    const script = `
      const cpu = require(${dist}).loadBackend('cpu');
      (async () => {
        let peak = 0;
        for (let i = 0; i < 150; i++) {
          cpu.zeros([4, 1024, 1024]); // 16 MB, never disposed: 2.4 GB in all
          if (i % 10 === 9) await new Promise(setImmediate);
          peak = Math.max(peak, process.memoryUsage().rss);
        }
        console.log(peak);
      })();
    `;
    const peak = Number(execFileSync(process.execPath, ['-e', script]).toString());
    expect(peak).toBeLessThan(1200 * 1024 * 1024);
  });

  it('allocating and disposing (a training step) does not set off full collections', () => {
    const script = `
      const { PerformanceObserver, constants } = require('node:perf_hooks');
      const cpu = require(${dist}).loadBackend('cpu');
      let counting = false, major = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (counting && e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
      }).observe({ entryTypes: ['gc'] });
      (async () => {
        for (let step = 0; step < 30; step++) {
          counting = step >= 5; // the first steps raise the peak that V8 is told of
          const live = Array.from({ length: 20 }, () => cpu.zeros([8, 1024, 1024])); // 640 MB
          for (const t of live) t.dispose();
          await new Promise(setImmediate);
        }
        console.log(major);
      })();
    `;
    // Reporting every allocation and release made about 70 full collections here.
    expect(Number(execFileSync(process.execPath, ['-e', script]).toString())).toBeLessThanOrEqual(1);
  });
});
