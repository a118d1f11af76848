/** resolveConfig: images too large for one image's tensors are refused up front, not after every call fails. */
import { describe, expect, it } from 'vitest';

import { resolveConfig } from '../../src';

describe('resolveConfig limits', () => {
  it("refuses images whose one-image tensors would pass this implementation's 2^31 − 1 values, and takes large ones below", () => {
    const base = { channels: 1, levels: 4, hidden: 64, layers: 1 };
    for (const [height, width] of [[2 ** 40, 1], [4096, 4096], [1, 2 ** 31]]) {
      expect(() => resolveConfig({ ...base, height, width }), `${height}×${width}`)
        .toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/would need tensors of \d+ values for one image/) }));
    }
    expect(resolveConfig({ ...base, height: 2048, width: 2048 }).height).toBe(2048);
    // The logits decide for a wide palette: 3 × 256 × 2048 × 2048 > 2^31 − 1 > 2 × 64 × 2048 × 2048.
    expect(() => resolveConfig({ ...base, channels: 3, levels: 256, height: 2048, width: 2048 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(resolveConfig({ ...base, channels: 3, levels: 256, height: 1024, width: 1024 }).levels).toBe(256);
  });
});
