/**
 * Backend.memoryUsage() on the CPU: the caching allocator's counts follow tensors
 * made, freed and reused, its peaks reset, training gives back every byte, and the
 * convolution plans kept for shapes met are bounded.
 * (test/cuda/memory-usage.test.ts checks the same on the GPU, captured steps included.)
 */
import { describe, it } from 'vitest';

import { cpu } from '../helpers/backend';
import { checkConvolutionPlansBounded, checkTensorAccounting, checkTrainingReturnsEveryByte } from '../helpers/memory-checks';

describe('memory usage (CPU)', () => {
  it('counts whole blocks allocated, kept idle, reused and released, and the peaks since a reset', () => {
    checkTensorAccounting(cpu);
  });

  it('is back where it started once a model trained with Adam is disposed', () => {
    checkTrainingReturnsEveryByte(cpu);
  });

  it("keeps the most recently used convolution plans, which take their operands' blocked copies from the pool", () => {
    checkConvolutionPlansBounded(cpu);
  });
});
