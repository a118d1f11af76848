/**
 * The addon in worker threads: a worker that alone loaded it may end, normally or by
 * Worker.terminate() in the middle of a sample, and the process lives on. (Node unloads
 * an addon with the last environment that loaded it; the OpenMP threads it started then
 * crashed the process, and a sample settled during the worker's teardown aborted it; a
 * Node-API call that failed in a terminating worker, with no exception left to throw,
 * made node-addon-api abort the process.)
 * Each case runs in a child process, so that a crash fails the test, not the runner.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const library = path.resolve(__dirname, '../../dist/index.js');

/**
 * Runs `worker` (code with `pixelcnn` and `parentPort` in scope) in a worker thread; `main`
 * then gets that worker as `w`, `startWorker()` to start another like it, and `done(text)`.
 */
function runInWorker(worker: string, main: string): { status: number | null; signal: string | null; output: string } {
  const script = `
    const { Worker } = require('node:worker_threads');
    const startWorker = () => new Worker(${JSON.stringify(`
      const { parentPort } = require('node:worker_threads');
      const pixelcnn = require(${JSON.stringify(library)});
      ${worker}
    `)}, { eval: true });
    const w = startWorker();
    const done = (text) => setTimeout(() => { console.log(text, 'main alive'); }, 1000);
    ${main}
  `;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { status: child.status, signal: child.signal, output: child.stdout + child.stderr };
}

const MODEL = `pixelcnn.GatedPixelCNN.create({ channels: 1, height: 16, width: 16, levels: 4, hidden: 8, layers: 2 }, { backend: 'cpu' })`;

describe.runIf(process.platform === 'linux')('the addon in worker threads', () => { // -z nodelete is an ELF linker flag
  it('a worker that computed with it ends, and the process lives on', () => {
    const run = runInWorker(
      `const model = ${MODEL};
       const nll = model.nll(Uint8Array.from({ length: 2 * 256 }, (_, i) => (i * 7) % 4), {});
       console.log('worker computed', nll.length);`,
      `w.on('exit', (code) => done('worker exit ' + code));`,
    );
    expect(run, run.output).toMatchObject({ status: 0, signal: null });
    expect(run.output).toMatch(/worker computed 2\nworker exit 0 main alive/);
  });

  it('a worker terminated while it samples ends, and the process lives on', () => {
    const run = runInWorker(
      // Terminated at the sampling's first progress report: mid-sample on any machine, however fast.
      `const model = ${MODEL};
       let reported = false;
       const onProgress = () => { if (!reported) parentPort.postMessage('sampling'); reported = true; };
       model.sample({ count: 1024, batchSize: 16, onProgress }).then(() => parentPort.postMessage('finished'));`,
      `w.on('message', (m) => { if (m === 'sampling') w.terminate(); else console.log(m); });
       w.on('exit', (code) => done('worker exit ' + code));`,
    );
    expect(run, run.output).toMatchObject({ status: 0, signal: null });
    expect(run.output).toMatch(/worker exit 1 main alive/);
  });

  it('workers terminated while they call the addon without pause end, and the process lives on', () => {
    // Terminated at random points of a loop of synchronous calls: before node-addon-api was
    // told to drop errors it cannot throw, most such terminations aborted the process.
    const run = runInWorker(
      `const model = ${MODEL};
       const images = Uint8Array.from({ length: 4 * 256 }, (_, i) => (i * 5) % 4);
       parentPort.postMessage('computing');
       for (;;) model.nll(images, {});`,
      `let ended = 0;
       const terminateSoon = (worker, round) => worker.once('message', () => setTimeout(() => worker.terminate().then(() => {
         ended += 1;
         if (ended < 8) terminateSoon(startWorker(), round + 1); else done(ended + ' workers terminated');
       }), 5 + 7 * round));
       terminateSoon(w, 0);`,
    );
    expect(run, run.output).toMatchObject({ status: 0, signal: null });
    expect(run.output).toMatch(/^8 workers terminated main alive$/m);
  });

  it('a worker that exits from a progress report ends, and the process lives on', () => {
    const run = runInWorker(
      `const model = ${MODEL};
       model.sample({ count: 64, onProgress: () => process.exit(3) });`,
      `w.on('exit', (code) => done('worker exit ' + code));`,
    );
    expect(run, run.output).toMatchObject({ status: 0, signal: null });
    expect(run.output).toMatch(/worker exit 3 main alive/);
  });
});
