// Timing helpers shared by the benchmark suites.

/** Seconds per call of run: one warm-up call, then at least 3 calls and `budget` seconds. */
export function timePerRun(run, budget) {
  run();
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (runs < 3 || elapsed < budget) {
    run();
    runs++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return elapsed / runs;
}

/** A float32 tensor of uniform values in [-0.5, 0.5). */
export function randomTensor(backend, shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.random() - 0.5;
  return backend.tensor(data, shape);
}
