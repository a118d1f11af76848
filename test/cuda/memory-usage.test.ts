/**
 * Backend.memoryUsage() on the GPU: the caching allocator's counts follow tensors
 * made, freed and reused, and its peaks reset; captured training steps count their
 * graphs' memory and give it back when disposed; cached memory cannot be released
 * inside a capture; the convolution plans kept for shapes met are bounded. Skips without a GPU (or the CUDA emulator).
 */
import { describe, expect, it } from 'vitest';

import { loadBackend } from '../../src';
import { cudaAvailable } from '../helpers/cuda';
import { expectCode } from '../helpers/expect-code';
import { checkConvolutionPlansBounded, checkTensorAccounting, checkTrainingReturnsEveryByte } from '../helpers/memory-checks';

describe.skipIf(!cudaAvailable)('memory usage (CUDA)', () => {
  const cuda = () => loadBackend('cuda');

  it('counts whole blocks allocated, kept idle, reused and released, and the peaks since a reset', () => {
    checkTensorAccounting(cuda());
  });

  it('is back where it started once a model trained with captured steps is disposed', () => {
    checkTrainingReturnsEveryByte(cuda());
  });

  it('keeps the most recently used convolution plans (cuDNN descriptors and algorithms, no device memory)', () => {
    checkConvolutionPlansBounded(cuda());
  });

  it("counts a capture's own memory while its work lives", () => {
    const backend = cuda();
    const start = backend.memoryUsage().allocated;
    const input = backend.tensor(Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i)), [4096]);
    const { work, result } = backend.capture(() => backend.relu(input));
    const held = backend.memoryUsage().allocated;
    expect(held - start).toBeGreaterThanOrEqual(2 * 4096 * 4); // the input and the graph's output
    input.dispose();
    result.dispose();
    expect(backend.memoryUsage().allocated).toBe(held); // the graph holds both
    work.dispose();
    expect(backend.memoryUsage().allocated).toBe(start);
  });

  it('refuses to release cached memory inside a capture (ERR_ARG) and works after', () => {
    const backend = cuda();
    const error = expectCode('ERR_ARG', () => backend.capture(() => backend.releaseCachedMemory()));
    expect(error.message).toMatch(/capture/);
    backend.releaseCachedMemory();
    const usage = backend.memoryUsage();
    expect(usage.reserved).toBe(usage.allocated);
  });
});
