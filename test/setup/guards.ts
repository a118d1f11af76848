/**
 * Every test file runs with guard regions around each native allocation
 * (GATED_PIXELCNN_GUARDS=1, read when a backend loads) and ends by checking that
 * no freed tensor had its guards overwritten: a write past a tensor's ends in any
 * op, on any backend, fails the file.
 */
import { afterAll, expect } from 'vitest';

process.env.GATED_PIXELCNN_GUARDS = '1';

afterAll(async () => {
  const { backendReport, loadBackend } = await import('../../src');
  for (const candidate of backendReport().candidates) {
    if (!candidate.available) continue;
    const backend = loadBackend(candidate.name as 'cpu' | 'cuda');
    expect(backend.guardViolations(), `writes past tensor ends on the ${candidate.name} backend`).toBe(0);
  }
});
