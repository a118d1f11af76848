/**
 * Sampled levels on disk: a raw file of uint8 levels laid out [N, C, H, W]
 * (row-major, no header) and a JSON sidecar that says how to read it:
 * { format: "gated-pixelcnn-levels", version: 1, dtype: "uint8", layout: "NCHW",
 *   count, channels, height, width, levels (K), labels?, ...what made them }.
 * Both are written atomically.
 */
import { writeFileAtomicSync } from '../io/atomic-write';
import type { ModelConfig } from '../nn/config';

export interface LevelsSidecar {
  format: 'gated-pixelcnn-levels';
  version: 1;
  dtype: 'uint8';
  layout: 'NCHW';
  count: number;
  channels: number;
  height: number;
  width: number;
  levels: number;
  labels?: number[];
  [provenance: string]: unknown;
}

/** Writes `file` (raw levels) and `file + '.json'` (the sidecar); returns the sidecar. */
export function writeLevelsFile(
  file: string,
  levels: Uint8Array,
  config: ModelConfig,
  extra: { labels?: ArrayLike<number> } & Record<string, unknown> = {},
): LevelsSidecar {
  const { labels, ...provenance } = extra;
  const sidecar: LevelsSidecar = {
    format: 'gated-pixelcnn-levels',
    version: 1,
    dtype: 'uint8',
    layout: 'NCHW',
    count: levels.length / (config.channels * config.height * config.width),
    channels: config.channels,
    height: config.height,
    width: config.width,
    levels: config.levels,
    ...(labels ? { labels: Array.from(labels) } : {}),
    ...provenance,
  };
  writeFileAtomicSync(file, levels);
  writeFileAtomicSync(`${file}.json`, JSON.stringify(sidecar, null, 2) + '\n');
  return sidecar;
}
